"""FAISS inner-product search over normalized vectors.

Small indexes use exact flat search; above `hnsw_threshold` vectors an HNSW graph answers in
logarithmic time. The choice and its parameters go into the manifest so a loaded index is
searched exactly as it was built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.errors import IndexCorruptError

DEFAULT_HNSW_THRESHOLD = 50_000


def build_faiss_index(
    vectors: np.ndarray, hnsw_threshold: int = DEFAULT_HNSW_THRESHOLD, hnsw_m: int = 32
) -> tuple[faiss.Index, dict[str, Any]]:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if len(vectors) < hnsw_threshold:
        index = faiss.IndexFlatIP(dim)
        params: dict[str, Any] = {"type": "flat"}
    else:
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        params = {"type": "hnsw", "m": hnsw_m, "ef_construction": 80, "ef_search": 64}
    if len(vectors):
        index.add(vectors)
    return index, params


class FaissStore:
    """The `VectorStore` seam over one FAISS index."""

    def __init__(self, index: faiss.Index, params: dict[str, Any]) -> None:
        self._index = index
        self.params = params
        if params.get("type") == "hnsw":
            faiss.ParameterSpace().set_index_parameter(index, "efSearch", int(params.get("ef_search", 64)))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product; `allowed` (row ids) restricts the search to those rows."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, self.size if allowed is None else len(allowed))
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
        scores, ids = self._index.search(queries, k, params=params)
        # FAISS pads with -1 ids when fewer than k rows qualify; a NaN query gives NaN scores.
        valid = (ids >= 0) & np.isfinite(scores)
        if not valid.all():
            scores = np.where(valid, scores, -np.inf)
        return scores, ids

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return np.vstack([self._index.reconstruct(int(i)) for i in ids]) if len(ids) else np.zeros((0, self.dim))

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, params: dict[str, Any]) -> FaissStore:
        try:
            # Memory-map the vectors rather than reading them into a second copy.
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError:
            try:
                index = faiss.read_index(str(path))
            except RuntimeError as exc:
                raise IndexCorruptError(f"{path}: unreadable FAISS index ({exc})") from exc
        return cls(index, params)
