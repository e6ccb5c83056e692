"""The FAISS store: every index type finds what exact search finds, filters, survives a round trip,
and records the parameters it was built with."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.store import faiss_store
from rag.store.faiss_store import FaissStore, build_faiss_index, default_params, ivf_nlist

DIM = 32

# Small enough to build in about a second each on 2 busy cores; HNSW (the slowest to build) gets
# fewer vectors and a lighter graph, which still exercises every code path.
TYPES = {
    "flat": {"type": "flat"},
    "ivf-sq8": {"type": "ivf", "storage": "sq8"},
    "ivf-fp16": {"type": "ivf", "storage": "fp16"},
    "hnsw-flat": {"type": "hnsw", "storage": "flat", "m": 16, "ef_construction": 40},
    "hnsw-sq8": {"type": "hnsw", "storage": "sq8", "m": 16, "ef_construction": 40},
}
SIZES = {"hnsw-flat": 5_000, "hnsw-sq8": 5_000}


def clustered(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """Unit vectors around 64 fixed centres, spread mostly along a few directions (a decaying
    spectrum): like real embeddings, neighbours exist and the intrinsic dimension is low."""
    rng = np.random.default_rng(seed)
    world = np.random.default_rng(12345)  # the same centres for base and query draws
    centres = world.standard_normal((64, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    spectrum = (0.5 / np.sqrt(np.arange(1, dim + 1))).astype(np.float32)
    x = centres[rng.integers(0, 64, n)] + rng.standard_normal((n, dim)).astype(np.float32) * spectrum
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def base() -> np.ndarray:
    return clustered(20_000)


@pytest.fixture(scope="module")
def queries() -> np.ndarray:
    return clustered(200, seed=1)


@pytest.fixture(scope="module", params=list(TYPES))
def built(request: pytest.FixtureRequest, base: np.ndarray) -> tuple[str, FaissStore, np.ndarray]:
    name = request.param
    vectors = base[: SIZES.get(name, len(base))]
    return name, FaissStore(*build_faiss_index(vectors, params=TYPES[name])), vectors


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Brute-force top-k ids (argpartition first: a full sort of every row is the slow part)."""
    scores = queries @ vectors.T
    part = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def test_each_type_finds_its_own_vectors_first(built: tuple[str, FaissStore, np.ndarray]) -> None:
    _, store, vectors = built
    rows = np.arange(0, len(vectors), len(vectors) // 100)
    _, ids = store.search(vectors[rows], 1)
    assert (ids[:, 0] == rows).all()


def test_each_type_reaches_recall_095_against_exact(
    built: tuple[str, FaissStore, np.ndarray], queries: np.ndarray
) -> None:
    name, store, vectors = built
    _, ids = store.search(queries, 10)
    assert recall(ids, exact_top(vectors, queries, 10)) >= 0.95, name


def test_scores_are_sorted_inner_products(built: tuple[str, FaissStore, np.ndarray], queries: np.ndarray) -> None:
    _, store, vectors = built
    scores, ids = store.search(queries[:20], 10)
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    # Quantized codes move a score by at most a few thousandths.
    true = np.einsum("qd,qkd->qk", queries[:20], vectors[ids])
    assert np.abs(scores - true).max() < 0.02


@pytest.mark.parametrize("share", ["small", "large"])
def test_allowed_restricts_results_for_each_type(
    built: tuple[str, FaissStore, np.ndarray], queries: np.ndarray, share: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, store, vectors = built
    rng = np.random.default_rng(3)
    if share == "small":  # exact over the allowed rows, for every type
        allowed = rng.choice(len(vectors), 300, replace=False)
    else:  # the approximate index with a selector, widened by the share filtered out
        monkeypatch.setattr(faiss_store, "EXACT_FILTER_ROWS", 100)
        allowed = rng.choice(len(vectors), len(vectors) // 2, replace=False)
    _, ids = store.search(queries, 10, allowed=allowed)
    assert ids.shape == (len(queries), 10)
    assert np.isin(ids, allowed).all(), name
    truth = np.sort(allowed)[exact_top(vectors[np.sort(allowed)], queries, 10)]
    assert recall(ids, truth) >= (0.99 if share == "small" else 0.9), name
    # An allowed row searched for itself comes first.
    _, own = store.search(vectors[allowed[:5]], 1, allowed=allowed)
    assert (own[:, 0] == allowed[:5]).all()


def test_allowed_smaller_than_k_and_empty(built: tuple[str, FaissStore, np.ndarray], queries: np.ndarray) -> None:
    _, store, _ = built
    scores, ids = store.search(queries[:2], 10, allowed=np.array([5, 7, 9]))
    assert ids.shape == (2, 3) and set(ids.ravel()) <= {5, 7, 9}
    scores, ids = store.search(queries[:2], 10, allowed=np.array([], dtype=np.int64))
    assert ids.shape == (2, 0) and scores.shape == (2, 0)


def test_save_load_round_trip_keeps_results_and_params(
    built: tuple[str, FaissStore, np.ndarray], queries: np.ndarray, tmp_path: Path
) -> None:
    name, store, vectors = built
    path = tmp_path / "index.faiss"
    store.save(path)
    # The manifest stores params as JSON: they must survive that too.
    params = json.loads(json.dumps(store.params))
    loaded = FaissStore.load(path, params)
    assert loaded.params == store.params and loaded.size == store.size and loaded.dim == DIM
    before_scores, before = store.search(queries, 10)
    after_scores, after = loaded.search(queries, 10)
    assert (before == after).all(), name
    assert np.allclose(before_scores, after_scores)
    # Rows come back (decoded) for every type: ingest reuses them for unchanged chunks.
    rows = np.array([0, 17, len(vectors) - 1])
    assert np.abs(loaded.vectors(rows) - vectors[rows]).max() < 0.02
    # A loaded (memory-mapped) store saves a self-contained file, and keeps answering after its
    # source file is deleted (what a running server sees when a re-ingest removes a generation).
    loaded.save(tmp_path / "copy.faiss")
    path.unlink()
    assert (loaded.search(queries, 10)[1] == before).all()
    assert (FaissStore.load(tmp_path / "copy.faiss", params).search(queries, 10)[1] == before).all()


def test_loading_maps_the_file_instead_of_copying_it(base: np.ndarray, tmp_path: Path) -> None:
    """The vectors/codes stay in the file's pages: anonymous memory grows by far less than the file."""
    from eval.bench.memory import proc_status

    vectors = np.tile(base, (5, 1))  # 100k x 32 floats: 12.8 MB flat, 3.2 MB of SQ8 codes
    for params in ({"type": "flat"}, {"type": "ivf", "storage": "fp16"}):
        path = tmp_path / f"{params['type']}.faiss"
        FaissStore(*build_faiss_index(vectors, params=params)).save(path)
        before = proc_status().get("RssAnon")
        store = FaissStore.load(path, params)
        store.search(vectors[:3], 5)
        after = proc_status().get("RssAnon")
        if before is None or after is None:
            pytest.skip("no /proc/self/status RssAnon on this platform")
        assert after - before < path.stat().st_size / 2, params


def test_params_record_everything_a_search_depends_on(built: tuple[str, FaissStore, np.ndarray]) -> None:
    name, store, _ = built
    params = store.params
    assert params["type"] == TYPES[name]["type"] and params["metric"] == "inner_product"
    if params["type"] == "ivf":
        assert {"nlist", "nprobe", "storage", "by_residual"} <= set(params)
        assert params["storage"] == TYPES[name]["storage"]
        assert store.index.nprobe == params["nprobe"] and store.index.nlist == params["nlist"]
    if params["type"] == "hnsw":
        assert {"m", "ef_construction", "ef_search", "storage"} <= set(params)
        assert store.index.hnsw.efSearch == params["ef_search"]


def test_default_choice_by_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_params(faiss_store.DEFAULT_APPROX_THRESHOLD - 1) == {"type": "flat"}
    large = default_params(1_000_000)
    assert large["type"] == "ivf" and large["storage"] == "sq8" and large["nlist"] == ivf_nlist(1_000_000) == 2048
    assert ivf_nlist(100_000) == 512 and ivf_nlist(20_000) == 256 and ivf_nlist(10) == 16
    # The threshold is read when called, so it can be moved without rebinding defaults.
    monkeypatch.setattr(faiss_store, "DEFAULT_APPROX_THRESHOLD", 1_000)
    _, params = build_faiss_index(clustered(2_000))
    assert params["type"] == "ivf" and params["nlist"] <= 2_000 // 39


def test_empty_and_nan_inputs() -> None:
    store = FaissStore(*build_faiss_index(np.zeros((0, DIM), dtype=np.float32), params={"type": "ivf"}))
    assert store.params["type"] == "flat" and store.size == 0
    scores, ids = store.search(np.ones(DIM, dtype=np.float32), 5)
    assert ids.shape == (1, 0)
    store = FaissStore(*build_faiss_index(clustered(3_000), params={"type": "ivf"}))
    scores, _ = store.search(np.full(DIM, np.nan, dtype=np.float32), 3)
    assert not np.isnan(scores).any()


def test_unknown_type_or_storage_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown vector index type"):
        build_faiss_index(clustered(100), params={"type": "lsh"})
    with pytest.raises(ValueError, match="unknown IVF storage"):
        build_faiss_index(clustered(2_000), params={"type": "ivf", "storage": "pq"})


def test_ingest_and_engine_work_over_an_ivf_index(
    seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole pipeline above the threshold: manifest params, memory-mapped load, search,
    and a re-ingest that reuses the (decoded) vectors of an IVF index."""
    from rag.embedding.fake import HashingEmbedder
    from rag.engine import RagEngine
    from rag.ingest import ingest
    from rag.settings import Settings
    from rag.store.index_files import current_generation, read_manifest

    monkeypatch.setattr(faiss_store, "DEFAULT_APPROX_THRESHOLD", 10)
    settings = Settings(index_dir=tmp_path / "index")
    first = ingest([seeds_dir], settings, embedder=HashingEmbedder())
    manifest = read_manifest(current_generation(settings.index_dir))
    assert manifest["vector_index"]["type"] == "ivf"
    assert manifest["vector_index"]["nlist"] >= 1
    engine = RagEngine.open(settings, embedder=HashingEmbedder())
    assert engine.data.chunk_store.kind == "ivf"
    result = engine.search("Alibaba fine market regulator", 5)
    assert len(result.hits) == 5
    again = ingest([seeds_dir], settings, embedder=HashingEmbedder())
    assert again.embedded == 0 and not again.written and again.index_version == first.index_version
