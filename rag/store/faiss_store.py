"""FAISS inner-product search over normalized vectors: exact when small, approximate when large.

Index types (the `type` in the params dict, which the manifest records as `vector_index`):

- ``flat``  exact search (`IndexFlatIP`). The default below `DEFAULT_APPROX_THRESHOLD` vectors.
- ``ivf``   an inverted file over k-means cells with scalar-quantized codes
            (`IndexIVFScalarQuantizer`): ``nlist`` cells, ``nprobe`` of them scanned per query,
            ``storage`` ``sq8`` (1 byte a dimension) or ``fp16`` (2 bytes). The default above the
            threshold.
- ``hnsw``  a navigable small-world graph (`IndexHNSWFlat` / `IndexHNSWSQ`): ``m`` links a node,
            ``ef_construction``, ``ef_search``, ``storage`` ``flat``, ``sq8`` or ``fp16``.

Why these defaults: see `DEFAULT_APPROX_THRESHOLD` and `DEFAULT_LARGE_PARAMS` below, and
`rag bench --only scale` (also `python -m eval.bench --only scale`), which measures the types at
10k, 100k and 1M vectors (`--scale-all`: every type at every size).

Every parameter a search depends on is in the params dict, so a loaded index is searched exactly
as it was built. Loading memory-maps the vectors or codes (flat: `IO_FLAG_MMAP_IFC`; IVF:
`IO_FLAG_MMAP`, which reads the inverted lists in place), so a loaded index is never a second copy
of the file in anonymous memory: its pages live once, in the page cache.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from rag.errors import IndexCorruptError

INDEX_TYPES = ("flat", "ivf", "hnsw")

# Vectors below which exact search is the default. Measured on the 2-core machine (rag bench, scale
# part, clustered 384-d vectors, one query at a time): flat costs ~0.14 us a vector (p50 10k: 0.95 ms,
# 100k: 13.7 ms, 1M: 146 ms), IVF-SQ8 stays below ~2 ms at every size at recall@10 >= 0.97. Below
# 20k, flat stays within ~2-3 ms, needs no training and is exact; above it, its cost would take a
# growing share of the /ask budget (p50 <= 10 ms) for nothing IVF does not also give.
DEFAULT_APPROX_THRESHOLD = 20_000

# The large-index default: IVF (2 sqrt(n) cells, see `ivf_nlist`) over 8-bit scalar-quantized
# residuals, nprobe=16. At 1M x 384 (measured, see `ivf_nlist` for the cell count): recall@10 0.970,
# p95 1.7 ms, 384 MB on disk and 384 MB resident once every list has been read (9 MB of it
# anonymous: the lists stay memory-mapped), built in ~52 s on 2 busy cores. The alternatives,
# measured the same way: flat 1.47 GB, p95 ~160 ms; IVF with fp16 codes 750 MB, recall 0.977, p95
# 4.9 ms (1024 cells); HNSW over float vectors 174 MB at 100k (so ~1.7 GB at 1M, over the 1 GB
# target) and a build ~35x IVF's at 100k (79 s vs 2.3 s; with 8-bit codes about as slow). More
# probes buy little: the 8-bit codes cap recall near 0.975 (nprobe 32: 0.976, p95 3.2 ms).
DEFAULT_LARGE_PARAMS: dict[str, Any] = {"type": "ivf", "storage": "sq8", "nprobe": 16}

IVF_TRAIN_POINTS_PER_CELL = 32  # k-means on 32 x nlist sampled vectors: enough for stable cells
IVF_KMEANS_ITERATIONS = 10  # faiss's default of 25 costs 2.5x the training; recall comes from nprobe
HNSW_DEFAULTS: dict[str, Any] = {"type": "hnsw", "m": 32, "ef_construction": 80, "ef_search": 64, "storage": "flat"}

# A filter (`allowed`) with at most this many rows is answered by exact search over just those
# rows, for approximate indexes too: cheaper than a full scan, and exact, where an approximate
# index restricted to a small subset would miss most of it (few of its probed cells or graph
# neighbours are allowed).
EXACT_FILTER_ROWS = 20_000

_STORAGE = {
    "sq8": faiss.ScalarQuantizer.QT_8bit,
    "fp16": faiss.ScalarQuantizer.QT_fp16,
}
_SEED = 1234  # fixed k-means sampling: the same vectors give the same index


def ivf_nlist(n: int) -> int:
    """Cells for an IVF index of `n` vectors: ~2 sqrt(n), a power of two in [16, 4096].

    Measured at 1M (clustered 384-d, SQ8, nprobe=16, 2 busy cores): 1024 cells built in 22 s, p95
    5.4 ms, recall@10 0.962; 2048 cells built in 50 s, p95 1.9 ms, recall 0.970 (finer cells leave
    smaller residuals for the 8-bit codes, and a probe scans half as many). 4096 would double the
    build again (assigning every vector is n x nlist dot products, as is each k-means round) for a
    search that is already well under target; so 2 sqrt(n): 256 at 20k, 512 at 100k, 2048 at 1M.
    """
    target = max(1.0, 2 * math.sqrt(n))
    return int(min(4096, max(16, 2 ** round(math.log2(target)))))


def default_params(n: int, approx_threshold: int | None = None) -> dict[str, Any]:
    """The index type and parameters `build_faiss_index` picks for `n` vectors."""
    # Read at call time (not bound as a default argument), so a test or an operator can move it.
    if n < (DEFAULT_APPROX_THRESHOLD if approx_threshold is None else approx_threshold):
        return {"type": "flat"}
    return {**DEFAULT_LARGE_PARAMS, "nlist": ivf_nlist(n)}


def build_faiss_index(
    vectors: np.ndarray,
    approx_threshold: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> tuple[faiss.Index, dict[str, Any]]:
    """Build an index over `vectors` (rows = ids 0..n-1); returns it with its full params dict.

    `params` picks the type and any parameter explicitly (missing ones take the defaults);
    without it the size decides (`default_params`). The returned dict holds every parameter
    actually used, effective values included (e.g. nlist clamped to a small input).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    spec = dict(params) if params is not None else default_params(n, approx_threshold)
    kind = spec.get("type", "flat")
    if kind not in INDEX_TYPES:
        raise ValueError(f"unknown vector index type {kind!r} (one of {', '.join(INDEX_TYPES)})")
    if kind == "ivf" and n == 0:
        kind, spec = "flat", {"type": "flat"}  # nothing to train cells on; an empty index is exact anyway
    if kind == "flat":
        index: faiss.Index = faiss.IndexFlatIP(dim)
        out: dict[str, Any] = {"type": "flat"}
    elif kind == "hnsw":
        index, out = _build_hnsw(vectors, {**HNSW_DEFAULTS, **spec})
    else:
        index, out = _build_ivf(vectors, spec)
    if n and kind != "ivf":
        index.add(vectors)
    out["metric"] = "inner_product"
    return index, out


def _build_hnsw(vectors: np.ndarray, spec: dict[str, Any]) -> tuple[faiss.Index, dict[str, Any]]:
    dim = vectors.shape[1]
    m, storage = int(spec["m"]), str(spec.get("storage", "flat"))
    if storage == "flat":
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    elif storage in _STORAGE:
        index = faiss.IndexHNSWSQ(dim, _STORAGE[storage], m, faiss.METRIC_INNER_PRODUCT)
        if len(vectors):
            index.train(vectors)  # the scalar quantizer learns each dimension's range
    else:
        raise ValueError(f"unknown HNSW storage {storage!r} (flat, sq8 or fp16)")
    index.hnsw.efConstruction = int(spec["ef_construction"])
    params = {
        "type": "hnsw", "m": m, "ef_construction": int(spec["ef_construction"]),
        "ef_search": int(spec["ef_search"]), "storage": storage,
    }
    return index, params


def _build_ivf(vectors: np.ndarray, spec: dict[str, Any]) -> tuple[faiss.Index, dict[str, Any]]:
    n, dim = vectors.shape
    storage = str(spec.get("storage", DEFAULT_LARGE_PARAMS["storage"]))
    if storage not in _STORAGE:
        raise ValueError(f"unknown IVF storage {storage!r} (sq8 or fp16)")
    # k-means needs a few dozen points a cell (faiss warns below 39); a small input gets fewer cells.
    nlist = int(min(int(spec.get("nlist", ivf_nlist(n))), max(1, n // 39)))
    nprobe = int(min(nlist, int(spec.get("nprobe", DEFAULT_LARGE_PARAMS["nprobe"]))))
    quantizer = faiss.IndexFlatIP(dim)
    # Residuals (vector minus its cell centroid) quantize more finely than the raw vectors: the 8 bits
    # a dimension then span a cell's spread, not the whole space's.
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, _STORAGE[storage], faiss.METRIC_INNER_PRODUCT, True)
    index.cp.niter = int(spec.get("kmeans_iterations", IVF_KMEANS_ITERATIONS))
    index.cp.max_points_per_centroid = int(spec.get("train_points_per_cell", IVF_TRAIN_POINTS_PER_CELL))
    index.cp.seed = _SEED
    index.train(vectors)  # faiss samples max_points_per_centroid x nlist rows itself
    index.add(vectors)
    # An id -> (list, offset) table: `vectors()` (exact search over a small filtered subset) can
    # then reconstruct any row; 8 bytes a vector.
    index.make_direct_map()
    params = {
        "type": "ivf", "nlist": nlist, "nprobe": nprobe, "storage": storage, "by_residual": True,
        "kmeans_iterations": int(index.cp.niter), "train_points_per_cell": int(index.cp.max_points_per_centroid),
    }
    return index, params


@contextmanager
def _single_thread(enabled: bool) -> Iterator[None]:
    """One OpenMP thread for this calling thread's FAISS work while inside (OpenMP's thread count is
    per calling thread, so concurrent requests in other threads are unaffected).

    Why: one query's flat scan split over the 2 cores measured 3-4x *slower* than on one (10k
    vectors: 8.6 vs 2.0 ms p50; 100k: 98 vs 30 ms) on the shared 2-core machine: the split waits for
    a second core that is busy (another request, the encoder, a neighbour). A server has other
    requests to put on the other core; batched searches (many queries) still use every thread.
    """
    if not enabled:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class FaissStore:
    """The `VectorStore` seam over one FAISS index."""

    def __init__(self, index: faiss.Index, params: dict[str, Any], mapped_from: Path | None = None) -> None:
        self._index = index
        self.params = dict(params)
        self._mapped_from = mapped_from  # the file a loaded index still reads its data from
        self.kind = str(self.params.get("type", "flat"))
        # Set the search-time parameters on the index too, so a direct faiss call agrees with ours.
        if self.kind == "hnsw":
            index.hnsw.efSearch = int(self.params.get("ef_search", HNSW_DEFAULTS["ef_search"]))
        elif self.kind == "ivf":
            index.nprobe = int(self.params.get("nprobe", DEFAULT_LARGE_PARAMS["nprobe"]))

    @property
    def index(self) -> faiss.Index:
        return self._index

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
        if allowed is not None:
            allowed = np.unique(np.asarray(allowed, dtype=np.int64))
            allowed = allowed[(allowed >= 0) & (allowed < self.size)]
        k = min(k, self.size if allowed is None else len(allowed))
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        if allowed is not None and self.kind != "flat" and len(allowed) <= EXACT_FILTER_ROWS:
            scores, ids = self._exact_over(queries, k, allowed)
        else:
            bitmap = None
            if allowed is not None:
                # A bitmap selector: O(1) membership and O(n/8) to build, where IDSelectorBatch
                # hashes every allowed id on each call. Kept referenced until the search returns.
                mask = np.zeros(self.size, dtype=bool)
                mask[allowed] = True
                bitmap = np.packbits(mask, bitorder="little")
            with _single_thread(len(queries) == 1):
                scores, ids = self._index.search(queries, k, params=self._search_params(bitmap, allowed))
        # FAISS pads with -1 ids when fewer than k rows qualify; a NaN query gives NaN scores.
        valid = (ids >= 0) & np.isfinite(scores)
        if not valid.all():
            scores = np.where(valid, scores, -np.inf)
        return scores, ids

    def _search_params(self, bitmap: np.ndarray | None, allowed: np.ndarray | None) -> faiss.SearchParameters | None:
        selector = faiss.IDSelectorBitmap(bitmap) if bitmap is not None else None
        # A filter keeping a share s of the rows leaves ~s of each probed cell / visited node usable,
        # so the search widens by 1/s to see as many allowed candidates as an unfiltered one.
        widen = 1.0 if allowed is None else self.size / max(1, len(allowed))
        if self.kind == "ivf":
            nprobe = min(int(self._index.nlist), math.ceil(int(self._index.nprobe) * widen))
            return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe) if selector else None
        if self.kind == "hnsw":
            ef = min(4096, math.ceil(int(self._index.hnsw.efSearch) * widen))
            return faiss.SearchParametersHNSW(sel=selector, efSearch=ef) if selector else None
        return faiss.SearchParameters(sel=selector) if selector else None

    def _exact_over(self, queries: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        candidates = self.vectors(allowed)
        scores = queries @ candidates.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, top, axis=1).astype(np.float32), allowed[top]

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """Rows `ids` as stored (for quantized types: decoded, so within the quantization error)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(ids), dtype=np.float32)

    def save(self, path: Path) -> None:
        if self._mapped_from is not None:
            # A memory-mapped IVF index would be written as a reference to its source file (FAISS's
            # on-disk lists), which breaks once that generation is deleted. Loaded read-only, it is
            # still exactly that file: copy it.
            shutil.copyfile(self._mapped_from, path)
            return
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, params: dict[str, Any]) -> FaissStore:
        kind = params.get("type", "flat")
        # Memory-map instead of reading into a second, anonymous copy: flat and SQ codes
        # (IO_FLAG_MMAP_IFC), and IVF inverted lists (IO_FLAG_MMAP maps them in place).
        flags = faiss.IO_FLAG_READ_ONLY | (faiss.IO_FLAG_MMAP if kind == "ivf" else faiss.IO_FLAG_MMAP_IFC)
        try:
            index = faiss.read_index(str(path), flags)
            mapped_from = Path(path)
        except RuntimeError:
            try:
                index, mapped_from = faiss.read_index(str(path)), None
            except RuntimeError as exc:
                raise IndexCorruptError(f"{path}: unreadable FAISS index ({exc})") from exc
        return cls(index, params, mapped_from)
