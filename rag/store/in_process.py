"""The embedded `VectorStore`: a dense index and bm25s in this process, fused by RRF in Python.

The dense side is either the FAISS index of an index folder (`FaissStore`) or `NumpyVectors`,
exact search over an array (the in-memory store the unit tests use).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from rag.retrieval.filters import allowed_rows
from rag.retrieval.fusion import reciprocal_rank_fusion
from rag.retrieval.lexical import BM25Index
from rag.types import Candidate, Chunk, Document, Filters


class DenseIndex(Protocol):
    """Inner-product search over rows 0..n-1, optionally restricted to `allowed` rows."""

    @property
    def size(self) -> int: ...

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


class NumpyVectors:
    """Exact search over a float32 array: the reference every other dense index is measured against."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def size(self) -> int:
        return len(self.vectors)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        rows = np.arange(self.size) if allowed is None else np.unique(np.asarray(allowed, dtype=np.int64))
        k = min(k, len(rows))
        scores = queries @ self.vectors[rows].T if len(rows) else np.zeros((len(queries), 0), dtype=np.float32)
        scores = np.where(np.isfinite(scores), scores, -np.inf)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, top, axis=1).astype(np.float32), rows[top].astype(np.int64)


class InProcessStore:
    """Hybrid candidates from `dense` and `bm25` over `chunks`; `vectors` are the exact chunk vectors."""

    def __init__(
        self,
        dense: DenseIndex,
        vectors: np.ndarray,
        bm25: BM25Index,
        chunks: Sequence[Chunk],
        documents: dict[str, Document],
        version: str,
        weights: tuple[float, float] = (1.0, 1.0),
        rrf_k: int = 60,
    ) -> None:
        self.dense = dense
        self.vectors = vectors
        self.bm25 = bm25
        self.chunks = chunks
        self.documents = documents
        self._version = version
        self.weights = weights
        self.rrf_k = rrf_k

    @property
    def size(self) -> int:
        return len(self.chunks)

    @property
    def version(self) -> str:
        return self._version

    def search(self, query: str, vector: np.ndarray, k: int, filters: Filters | None = None) -> list[Candidate]:
        allowed = allowed_rows(filters, self.chunks, self.documents)
        if self.size == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        dense_scores, dense_ids = self.dense.search(vector, k, allowed)
        # Plain Python numbers first: iterating numpy scalars costs more than the search itself here.
        dense = {
            i: s for i, s in zip(dense_ids[0].tolist(), dense_scores[0].tolist(), strict=True) if math.isfinite(s)
        }
        _, bm25_ids = self.bm25.search(query, k, allowed)
        fused = reciprocal_rank_fusion([list(dense), bm25_ids.tolist()], list(self.weights), self.rrf_k)
        lexical_only = [row for row, _ in fused if row not in dense]
        if lexical_only:  # found by BM25 alone: still report its cosine
            cosines = np.asarray(self.vectors[lexical_only]) @ vector
            dense.update(zip(lexical_only, cosines.tolist(), strict=True))
        return [
            Candidate(row, score, dense[row] if math.isfinite(dense[row]) else 0.0) for row, score in fused
        ]
