"""BM25 over chunk texts with bm25s, built at load time (milliseconds for news-sized corpora)."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence

import bm25s
import numpy as np

from rag.terms import terms


class BM25Index:
    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        self._bm25 = bm25s.BM25()
        if self.size:
            # bm25s needs at least one token per document; an empty one still gets a row.
            corpus = [terms(t) or ["\x00"] for t in texts]
            self._bm25.index(corpus, show_progress=False)
            self._df = Counter(term for doc in corpus for term in set(doc))
        else:
            self._df = Counter()
        self._vocabulary = sorted(self._df)

    def has_prefix(self, prefix: str) -> bool:
        """Whether some term of the corpus starts with `prefix` (the composer's unknown-name check)."""
        i = bisect.bisect_left(self._vocabulary, prefix)
        return i < len(self._vocabulary) and self._vocabulary[i].startswith(prefix)

    def idf(self, term: str) -> float:
        """BM25's idf: how much finding this term says (a term absent from the corpus says the most)."""
        df = self._df.get(term, 0)
        return math.log((self.size - df + 0.5) / (df + 0.5) + 1.0)

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by BM25 score; rows scoring 0 (no shared term) are left out."""
        query_terms = terms(query)
        k = min(k, self.size)
        if not query_terms or k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        # One query: score every row directly. bm25s.retrieve() would start a thread pool per call.
        scores = self._bm25.get_scores(query_terms)
        if allowed is not None:
            masked = np.zeros_like(scores)
            masked[allowed] = scores[allowed]
            scores = masked
        ids = np.argpartition(-scores, k - 1)[:k] if k < self.size else np.arange(self.size)
        ids = ids[np.argsort(-scores[ids], kind="stable")].astype(np.int64)
        scores = scores[ids].astype(np.float32)
        keep = scores > 0
        return scores[keep], ids[keep]
