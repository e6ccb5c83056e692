"""BM25 over chunk texts with bm25s, built at load time (milliseconds for news-sized corpora)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

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

    def idf(self, term: str) -> float:
        """BM25's idf: how much finding this term says (a term absent from the corpus says the most)."""
        df = self._df.get(term, 0)
        return math.log((self.size - df + 0.5) / (df + 0.5) + 1.0)

    def weighted_coverage(self, query_terms: Iterable[str], text_terms: set[str]) -> float:
        """Share of the query's idf mass that `text_terms` contains."""
        weights = {t: self.idf(t) for t in query_terms}
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in text_terms) / total if total else 0.0

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by BM25 score; rows scoring 0 (no shared term) are left out."""
        query_terms = terms(query)
        k = min(k, self.size)
        if not query_terms or k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        mask = None
        if allowed is not None:
            mask = np.zeros(self.size, dtype=np.float32)
            mask[allowed] = 1.0
        ids, scores = self._bm25.retrieve(
            [query_terms], k=k, show_progress=False, n_threads=1, weight_mask=mask
        )
        ids, scores = ids[0].astype(np.int64), scores[0].astype(np.float32)
        keep = scores > 0
        return scores[keep], ids[keep]
