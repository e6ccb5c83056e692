"""In-process latency: `RagEngine.search` and `.ask` over the eval questions, per stage.

The stages are the engine's own `timings_ms` (encode, retrieve, rerank, compose, total), collected per
call; each run yields p50/p95/p99 per stage, and each figure is the median (min, max) over runs.

Cold (the headline): the query-vector cache is off (`query_cache_size=0`), so every call pays for
a real model call, as a question nobody asked before does. Cached: the same questions again
through an engine whose cache has seen them, to show what a repeat costs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.bench.reference import QueryEncoder, ReferenceOptions, run_reference
from eval.bench.stats import percentiles, summarize_runs
from rag.engine import RagEngine
from rag.protocols import Embedder
from rag.settings import Settings

STAGES = ("encode", "retrieve", "rerank", "compose", "total")
DEFAULT_QUESTIONS = Path(__file__).resolve().parents[1] / "questions.jsonl"


@dataclass
class InprocessOptions:
    questions: int = 0  # 0 = all of them
    runs: int = 3
    top_k: int = 5
    warmup: int = 5
    log: Callable[[str], None] = lambda message: None


def load_questions(path: Path = DEFAULT_QUESTIONS) -> list[str]:
    """The `question` field of every line of the eval question set."""
    out = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                out.append(str(json.loads(line)["question"]))
    if not out:
        raise ValueError(f"{path}: no questions")
    return out


def stage_run(call: Callable[[str], Any], questions: Sequence[str]) -> dict[str, dict[str, float]]:
    """One pass over `questions`: p50/p95/p99 per stage (from the engine's timings_ms) and wall."""
    samples: dict[str, list[float]] = {}
    for question in questions:
        t = time.perf_counter()
        result = call(question)
        wall = (time.perf_counter() - t) * 1000
        timings = dict(result.timings_ms)
        timings["wall"] = wall  # what the caller waited, including anything outside the stages
        for stage, value in timings.items():
            samples.setdefault(stage, []).append(float(value))
    return {stage: percentiles(values) for stage, values in samples.items()}


def _summarize_stages(runs: Sequence[dict[str, dict[str, float]]]) -> dict[str, Any]:
    stages = [s for s in (*STAGES, "wall") if any(s in run for run in runs)]
    return {stage: summarize_runs([run[stage] for run in runs if stage in run]) for stage in stages}


def run_inprocess(
    settings: Settings,
    options: InprocessOptions,
    embedder_factory: Callable[[Settings], Embedder] | None = None,
    questions: Sequence[str] | None = None,
    reference_encoder: Callable[[], QueryEncoder] | None = None,
) -> dict[str, Any]:
    """Latency of search and ask, cold (cache off) and cached, over the eval questions; with
    `reference_encoder`, the plain torch + FAISS recipe over the same chunks too (`reference`)."""
    from rag.embedding import load_embedder

    factory = embedder_factory or load_embedder
    questions = list(questions or load_questions())
    if options.questions:
        questions = questions[: options.questions]
    cold_settings = settings.with_(query_cache_size=0)
    t = time.perf_counter()
    engine = RagEngine.open(cold_settings, embedder=factory(cold_settings))
    open_s = time.perf_counter() - t
    warm = getattr(engine.embedder, "warm_up", None)
    if warm is not None:
        warm()
    for question in questions[: options.warmup]:  # first-call costs (lazy imports, caches) off the clock
        engine.ask(question, top_k=options.top_k)
    options.log(f"in-process: {len(questions)} questions x {options.runs} runs, cache off")
    search_runs = [stage_run(lambda q: engine.search(q, options.top_k), questions) for _ in range(options.runs)]
    ask_runs = [stage_run(lambda q: engine.ask(q, top_k=options.top_k), questions) for _ in range(options.runs)]

    # Cached: a second engine over the same loaded index, with the cache on and already filled.
    cached_engine = RagEngine(engine.data, factory(settings), settings)
    for question in questions:
        cached_engine.ask(question, top_k=options.top_k)
    cached_runs = [
        stage_run(lambda q: cached_engine.ask(q, top_k=options.top_k), questions) for _ in range(options.runs)
    ]
    reference = None
    if reference_encoder is not None:
        options.log("in-process: the plain torch + FAISS reference")
        reference_options = ReferenceOptions(runs=options.runs, warmup=options.warmup, top_k=options.top_k)
        reference = run_reference(engine.data.chunk_vectors, questions, reference_encoder(), reference_options)
    return {
        "reference": reference,
        "questions": len(questions),
        "top_k": options.top_k,
        "embedder": getattr(engine.embedder, "name", None),
        "backend": getattr(engine.embedder, "backend", None),
        "index_version": engine.index_version,
        "chunks": engine.data.chunk_store.size,
        "vector_index": engine.data.chunk_store.params,
        "engine_open_s": round(open_s, 3),
        "search_ms": _summarize_stages(search_runs),
        "ask_ms": _summarize_stages(ask_runs),
        "ask_cached_ms": _summarize_stages(cached_runs),
    }
