"""BM25 over chunk texts with bm25s, built at load time (milliseconds for news-sized corpora)."""

from __future__ import annotations

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
