"""Scale: each vector index type at 10k, 100k and 1M synthetic chunks.

For every size and index type: build time, single-query search latency (k=10) through
`FaissStore.search` (the project's own path), recall@10 against exact search, the search parameter
tuned to the smallest value reaching the recall target (nprobe for IVF, efSearch for HNSW), and
the index's resident memory in a fresh process that loads it the way the service does
(`FaissStore.load`, memory-mapped), measured from /proc: anonymous memory (copies the process
owns) apart from file pages (the mapped index, shared with the page cache).

The vectors are synthetic but shaped like sentence embeddings, not uniform noise (on which every
approximate index looks worse than on real data, because nothing is near anything): a Gaussian
mixture of topic centres (unequal topic sizes, drawn log-normally) plus a shared direction (real
embedding spaces are anisotropic: unrelated texts still have cosine ~0.1-0.3), with the spread
inside a topic concentrated in a few dozen directions (a decaying spectrum, like the low intrinsic
dimension of real embeddings) and a small isotropic floor. Queries are fresh draws from the same
mixture. Everything is seeded: the same options give the same vectors.

Run alone: `python -m eval.bench --only scale` (or `python -m eval.bench.scale` for just this
part, printing JSON).
"""

from __future__ import annotations

import gc
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from eval.bench.memory import MB, proc_status
from eval.bench.stats import percentiles, summarize, summarize_runs
from rag.store.faiss_store import (
    DEFAULT_APPROX_THRESHOLD,
    DEFAULT_LARGE_PARAMS,
    HNSW_DEFAULTS,
    FaissStore,
    build_faiss_index,
    default_params,
)

K = 10
DIM = 384
FLAT_PROBE_MAX = 100_000  # flat indexes above this size get their memory computed, not probed
TARGET_RECALL = 0.95


@dataclass(frozen=True)
class Candidate:
    """One index type as the scale benchmark builds it, with the search parameter it tunes."""

    name: str
    params: dict[str, Any]
    sweep_key: str | None = None
    sweep: tuple[int, ...] = ()
    max_size: int | None = None  # larger sizes skip it (build too slow for the time budget)


# The default run stays within a few minutes on 2 busy cores, so the slow builds are measured at
# the smaller sizes only: HNSW (one 100k build measured 79 s under load, against 2.3 s for IVF; at
# 1M it would take many minutes and ~1.8 GB over float vectors) at 10k, IVF with fp16 codes (the
# same build as SQ8, twice the memory) up to 100k. `--scale-all` builds every type at every size.
NPROBE_SWEEP = (4, 8, 16, 24, 32, 48, 64, 96, 128)
EF_SEARCH_SWEEP = (16, 32, 48, 64, 96, 128, 192, 256)
HNSW_BUILD = {"type": "hnsw", "m": 32, "ef_construction": 80}
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("flat", {"type": "flat"}),
    Candidate("ivf-sq8", {"type": "ivf", "storage": "sq8"}, "nprobe", NPROBE_SWEEP),
    Candidate("ivf-fp16", {"type": "ivf", "storage": "fp16"}, "nprobe", NPROBE_SWEEP, max_size=100_000),
    Candidate("hnsw-flat", {**HNSW_BUILD, "storage": "flat"}, "ef_search", EF_SEARCH_SWEEP, max_size=10_000),
    Candidate("hnsw-sq8", {**HNSW_BUILD, "storage": "sq8"}, "ef_search", EF_SEARCH_SWEEP, max_size=10_000),
)


@dataclass
class ScaleOptions:
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    dim: int = DIM
    candidates: tuple[str, ...] = ()  # names from CANDIDATES; empty = all
    all_sizes: bool = False  # ignore Candidate.max_size
    recall_queries: int = 500
    latency_queries: int = 200  # per pass
    latency_passes: int = 3
    pass_budget_s: float = 3.0  # a pass stops early past this (flat at 1M: ~100 ms a query)
    build_runs: int = 3  # builds per type and size, while they fit `build_budget_s`
    build_budget_s: float = 20.0  # a type whose first build takes longer is built once
    memory_probe: bool = True
    seed: int = 0
    target_recall: float = TARGET_RECALL
    work_dir: Path | None = None
    log: Callable[[str], None] = field(default=lambda message: None)


# --- synthetic data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mixture:
    centres: np.ndarray  # (topics, dim), unit length
    weights: np.ndarray  # (topics,), sums to 1
    shared: np.ndarray  # (dim,), the direction every vector leans towards
    basis: np.ndarray  # (latent, dim): spread directions scaled by the decaying spectrum


LATENT_DIMS = 64
SHARED_WEIGHT = 0.35
SPREAD = 1.2  # spread inside a topic relative to the unit-length centre
ISOTROPIC = 0.5  # share of the spread that is isotropic (full-rank) rather than along `basis`


def make_mixture(n: int, dim: int = DIM, seed: int = 0) -> Mixture:
    """A topic mixture sized for `n` vectors: ~1 topic per 1,000 vectors (at least 64)."""
    rng = np.random.default_rng(seed)
    topics = int(min(4096, max(64, n // 1000)))
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = rng.lognormal(0.0, 1.0, topics)
    weights /= weights.sum()
    shared = rng.standard_normal(dim).astype(np.float32)
    shared /= np.linalg.norm(shared)
    # Orthonormal spread directions with variance falling as 1/(i+1): most of a topic's spread lies in
    # a handful of directions. Scaled so the expected squared norm of the spread is SPREAD^2.
    latent = min(LATENT_DIMS, dim)
    directions, _ = np.linalg.qr(rng.standard_normal((dim, latent)))
    spectrum = 1.0 / np.sqrt(np.arange(1, latent + 1))
    spectrum *= SPREAD * math.sqrt(1 - ISOTROPIC) / np.linalg.norm(spectrum)
    basis = (directions.T * spectrum[:, None]).astype(np.float32)
    return Mixture(centres, weights, shared, basis)


def sample(mixture: Mixture, n: int, seed: int, block: int = 65_536) -> np.ndarray:
    """`n` unit vectors drawn from `mixture` (in blocks, so temporaries stay small)."""
    rng = np.random.default_rng(seed)
    dim = mixture.centres.shape[1]
    out = np.empty((n, dim), dtype=np.float32)
    iso_scale = np.float32(SPREAD * math.sqrt(ISOTROPIC) / math.sqrt(dim))
    for start in range(0, n, block):
        rows = min(block, n - start)
        topic = rng.choice(len(mixture.weights), size=rows, p=mixture.weights)
        part = rng.standard_normal((rows, mixture.basis.shape[0]), dtype=np.float32) @ mixture.basis
        part += rng.standard_normal((rows, dim), dtype=np.float32) * iso_scale
        part += mixture.centres[topic]
        part += np.float32(SHARED_WEIGHT) * mixture.shared
        part /= np.linalg.norm(part, axis=1, keepdims=True)
        out[start : start + rows] = part
    return out


def dataset(n: int, queries: int, dim: int = DIM, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(base vectors, query vectors) from one mixture; queries are fresh draws, not base rows."""
    mixture = make_mixture(n, dim, seed)
    return sample(mixture, n, seed + 1), sample(mixture, queries, seed + 2)


def exact_neighbours(base: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Ground truth ids by brute force (faiss.knn reads `base` in place: no second copy)."""
    _, ids = faiss.knn(queries, base, k, metric=faiss.METRIC_INNER_PRODUCT)
    return ids


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the true top-k that the approximate top-k contains."""
    k = truth.shape[1]
    hits = sum(len(np.intersect1d(f[f >= 0], t, assume_unique=False)) for f, t in zip(found, truth, strict=True))
    return hits / (k * len(truth))


# --- measuring one index ----------------------------------------------------------------------------


def latency_pass(store: FaissStore, queries: np.ndarray, limit: int, budget_s: float) -> list[float]:
    """Milliseconds per single-query search (k=10), one query at a time as a request would."""
    samples: list[float] = []
    started = time.perf_counter()
    for row in queries[:limit]:
        t = time.perf_counter()
        store.search(row, K)
        samples.append((time.perf_counter() - t) * 1000)
        if len(samples) >= 10 and time.perf_counter() - started > budget_s:
            break
    return samples


def measure_candidate(
    candidate: Candidate, base: np.ndarray, queries: np.ndarray, truth: np.ndarray, options: ScaleOptions
) -> dict[str, Any]:
    build_s: list[float] = []
    index = params = None
    while len(build_s) < max(1, options.build_runs):
        index = params = None
        gc.collect()
        t = time.perf_counter()
        index, params = build_faiss_index(base, params=candidate.params)
        build_s.append(time.perf_counter() - t)
        if build_s[0] * options.build_runs > options.build_budget_s:
            break  # e.g. HNSW at 100k or IVF at 1M: one build is the figure (runs = 1 says so)
    assert index is not None and params is not None
    result: dict[str, Any] = {"params": params, "build_s": summarize(build_s)}

    # Sweep the search parameter upwards on batched queries (recall) plus a short latency pass
    # each, until the recall target is reached ("tuned": the cheapest setting that reaches it) and
    # the shipped default value has been seen. Both then get the full latency passes.
    default_value = _shipped_default(candidate)
    sweep: list[dict[str, Any]] = []
    tuned_value = None
    if candidate.sweep_key is None:
        # Exact search: recall is 1 by construction; 50 queries confirm it without paying for a
        # second brute-force pass over all of them (~1 minute at 1M on 2 busy cores).
        _, found = FaissStore(index, params).search(queries[:50], K)
        sweep.append({"value": None, "recall_at_10": round(recall_at_k(found, truth[:50]), 4)})
    for value in candidate.sweep if candidate.sweep_key else ():
        store = FaissStore(index, {**params, candidate.sweep_key: value})
        _, found = store.search(queries, K)
        recall = recall_at_k(found, truth)
        quick = latency_pass(store, queries, min(100, options.latency_queries), options.pass_budget_s / 3)
        sweep.append({"value": value, "recall_at_10": round(recall, 4), **percentiles(quick, (50, 95))})
        if tuned_value is None and recall >= options.target_recall:
            tuned_value = value
        if tuned_value is not None and (default_value is None or value >= default_value):
            break

    def operating_point(value: int | None) -> dict[str, Any]:
        point_params = dict(params) if value is None else {**params, candidate.sweep_key: value}
        store = FaissStore(index, point_params)
        passes = [
            latency_pass(store, queries, options.latency_queries, options.pass_budget_s)
            for _ in range(options.latency_passes)
        ]
        recall = next((s["recall_at_10"] for s in sweep if s["value"] == value), sweep[-1]["recall_at_10"])
        return {
            "value": value,
            "recall_at_10": recall,
            "search_ms": summarize_runs([percentiles(p) for p in passes]),
            "latency_samples_per_pass": min(len(p) for p in passes),
        }

    # The shipped default is the headline (what `rag ingest` builds); with no sweep key, the one point.
    shipped = default_value if default_value is not None else sweep[-1]["value"]
    if candidate.sweep_key and shipped not in [s["value"] for s in sweep]:
        shipped = sweep[-1]["value"]  # the sweep list stops short of the default: use its last value
    headline = operating_point(shipped)
    result["params"] = dict(params) if shipped is None else {**params, candidate.sweep_key: shipped}
    result["recall_at_10"] = headline["recall_at_10"]
    result["reached_target"] = bool(headline["recall_at_10"] >= options.target_recall)
    result["search_ms"] = headline["search_ms"]
    result["latency_samples_per_pass"] = headline["latency_samples_per_pass"]
    if candidate.sweep_key:
        result["sweep"] = sweep
        if tuned_value is None:
            result["tuned"] = None  # the target was not reached within the sweep
        elif tuned_value == shipped:
            result["tuned"] = {k: headline[k] for k in ("value", "recall_at_10", "search_ms")}
        else:
            result["tuned"] = {k: v for k, v in operating_point(tuned_value).items() if k != "latency_samples_per_pass"}
    store = FaissStore(index, result["params"])
    if options.memory_probe and candidate.sweep_key is None and len(base) > FLAT_PROBE_MAX:
        # A flat index is its vectors: resident = file size once searched (the probe shows it at the
        # smaller sizes). Writing and re-reading 1.5 GB would cost ~half a minute of the budget.
        file_mb = round(index.ntotal * index.d * 4 / MB, 1)
        result["memory"] = {"file_mb": file_mb, "resident_mb": file_mb, "estimated": True}
    elif options.memory_probe:
        result["memory"] = probe_memory(store, options.work_dir)
    return result


def _shipped_default(candidate: Candidate) -> int | None:
    """The value of the candidate's sweep key that `rag ingest` would use for this type."""
    if candidate.sweep_key is None:
        return None
    kind = candidate.params.get("type")
    defaults = DEFAULT_LARGE_PARAMS if kind == "ivf" else HNSW_DEFAULTS
    return int(defaults.get(candidate.sweep_key)) if candidate.sweep_key in defaults else None


def probe_memory(store: FaissStore, work_dir: Path | None = None) -> dict[str, Any]:
    """Save the index, load it in a fresh process the way the service does, and read /proc there."""
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="bench-scale-") as tmp:
        path = Path(tmp) / "index.faiss"
        store.save(path)
        proc = subprocess.run(
            [sys.executable, "-m", "eval.bench.scale", "probe", str(path), json.dumps(store.params)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip()[-500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _probe_main(path: str, params_json: str) -> dict[str, Any]:
    """In the child: memory before loading, after loading, after queries, after touching it all."""
    params = json.loads(params_json)
    # Run the same code paths on a tiny index of the same type first, so the library pages they
    # map (RssFile too) are not counted as the index's.
    tiny = sample(make_mixture(4000, 32), 4000, 9)
    warm = FaissStore(*build_faiss_index(tiny, params=params))
    warm.search(tiny[0], K)
    _touch_everything(warm, tiny[:1])
    del warm, tiny
    gc.collect()
    before = proc_status()
    t = time.perf_counter()
    store = FaissStore.load(Path(path), params)
    load_s = time.perf_counter() - t
    loaded = proc_status()
    rng = np.random.default_rng(5)
    queries = rng.standard_normal((200, store.dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    for row in queries:
        store.search(row, K)
    searched = proc_status()
    _touch_everything(store, queries[:1])
    touched = proc_status()

    def delta(after: dict[str, int], key: str) -> float:
        return round((after.get(key, 0) - before.get(key, 0)) / MB, 1)

    file_mb = round(Path(path).stat().st_size / MB, 1)
    return {
        "file_mb": file_mb,
        "load_s": round(load_s, 3),
        "after_load_anon_mb": delta(loaded, "RssAnon"),
        "after_load_file_mb": delta(loaded, "RssFile"),
        "after_queries_anon_mb": delta(searched, "RssAnon"),
        "after_queries_file_mb": delta(searched, "RssFile"),
        # The worst case: every byte of the index paged in (all IVF lists probed, every stored vector
        # read). What the index can ever hold resident, anonymous + mapped.
        "resident_mb": round(delta(touched, "RssAnon") + delta(touched, "RssFile"), 1),
        "resident_anon_mb": delta(touched, "RssAnon"),
        "resident_file_mb": delta(touched, "RssFile"),
        # Loading made no second copy when the anonymous memory after load is far below the file size.
        "copied_on_load": bool(delta(loaded, "RssAnon") > 0.5 * file_mb and file_mb > 8),
    }


def _touch_everything(store: FaissStore, query: np.ndarray) -> None:
    index = store.index
    if store.kind == "ivf":
        FaissStore(index, {**store.params, "nprobe": int(index.nlist)}).search(query, K)
    elif store.kind == "hnsw":
        faiss.downcast_index(index.storage).search(query, K)  # brute force over the stored vectors
    else:
        store.search(query, K)


# --- the whole part ----------------------------------------------------------------------------------


def run_scale(options: ScaleOptions) -> dict[str, Any]:
    wanted = set(options.candidates)
    chosen = [c for c in CANDIDATES if not wanted or c.name in wanted]
    sizes: dict[str, Any] = {}
    for n in options.sizes:
        t = time.perf_counter()
        base, queries = dataset(n, options.recall_queries, options.dim, options.seed)
        truth = exact_neighbours(base, queries)
        options.log(f"scale {n:,}: data + exact neighbours in {time.perf_counter() - t:.1f}s")
        per_type: dict[str, Any] = {}
        for candidate in chosen:
            if candidate.max_size is not None and n > candidate.max_size and not options.all_sizes:
                per_type[candidate.name] = {"skipped": f"over {candidate.max_size:,} vectors (--scale-all builds it)"}
                continue
            t = time.perf_counter()
            per_type[candidate.name] = measure_candidate(candidate, base, queries, truth, options)
            options.log(f"scale {n:,}: {candidate.name} in {time.perf_counter() - t:.1f}s")
            gc.collect()
        sizes[str(n)] = {"n": n, "default": default_params(n), "types": per_type}
        del base, queries, truth
        gc.collect()
    return {
        "dim": options.dim,
        "k": K,
        "target_recall_at_10": options.target_recall,
        "approx_threshold": DEFAULT_APPROX_THRESHOLD,
        "data": "seeded Gaussian topic mixture, decaying in-topic spectrum, shared direction; unit vectors",
        "recall_queries": options.recall_queries,
        "sizes": sizes,
    }


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _main(argv: Sequence[str]) -> int:
    """`probe INDEX PARAMS_JSON` (the memory probe's child), `run OPTIONS_JSON OUT_JSON` (the bench's
    scale child), or `[SIZE ...]` by hand: the scale part alone, JSON on stdout."""
    if len(argv) == 3 and argv[0] == "probe":
        print(json.dumps(_probe_main(argv[1], argv[2])))
        return 0
    if len(argv) == 3 and argv[0] == "run":
        spec = json.loads(argv[1])
        spec["sizes"] = tuple(spec.get("sizes", ScaleOptions.sizes))
        spec["candidates"] = tuple(spec.get("candidates", ()))
        result = run_scale(ScaleOptions(**spec, log=_log))
        Path(argv[2]).write_text(json.dumps(result, indent=2))
        return 0
    sizes = tuple(int(a) for a in argv) or ScaleOptions.sizes
    print(json.dumps(run_scale(ScaleOptions(sizes=sizes, log=_log)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
