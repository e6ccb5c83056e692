"""The benchmark end to end: what `rag eval` and `python -m eval` run.

options -> questions -> target (in-process index | HTTP service) -> observations -> scores
        -> report.json, report.md, plots -> --compare print-out -> gate (exit 1 below a floor)

Next to the main question set, each `--benchmark DIR` (SPEC.md's benchmark layout) is run on an
index of its own corpus (built once, cached) and reported as a set of its own under `sets`, so the
report, the plots, `--compare` and the gate see the seed set and the news set side by side.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eval import compare as cmp
from eval import gate, plots, report
from eval.benchmark import Benchmark, corpus_inputs, index_folder, is_benchmark, load_benchmark
from eval.intervals import bootstrap_intervals
from eval.questions import Question, counts, load_questions
from eval.runner import EngineTarget, HttpTarget, RunResult, Target, rich_progress, run_questions
from eval.scoring import (
    ALL_METRICS,
    QuestionScore,
    aggregate,
    latency_tables,
    metric_tables,
    risk_coverage_table,
    score_run,
)
from rag.errors import BadInputError
from rag.protocols import Embedder
from rag.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = PACKAGE_DIR / "questions.jsonl"
DEFAULT_THRESHOLDS = PACKAGE_DIR / "thresholds.json"
DEFAULT_OUT = Path("eval/out")
DEFAULT_CACHE = DEFAULT_OUT / "cache"
# The overall metrics echoed to the terminal; everything else is in report.md.
# The terminal summary: every metric but the all-questions aggregates (correct_rate, coverage).
_SUMMARY = tuple(name for name in ALL_METRICS if name not in {"correct_rate", "coverage"})


@dataclass
class EvalOptions:
    questions: Path | None = None
    index: Path | None = None
    store: str | None = None  # a postgresql:// URL: the main set's index lives there
    out: Path = DEFAULT_OUT
    url: str | None = None
    api_key: str | None = None
    beir: Path | None = None
    compare: Path | None = None
    thresholds: Path | None = None  # None: eval/thresholds.json for question-set runs, no gate for --beir
    gate: bool = True
    k: int = 5
    search_k: int = 20
    progress: bool | None = None  # None: only when stderr is a terminal
    benchmarks: tuple[Path, ...] = ()  # sets run beside the main one, each on an index of its corpus
    slice_every: int = 1  # keep every N-th benchmark question (and a corpus cut to match)
    cache: Path = DEFAULT_CACHE  # where benchmark indexes are kept between runs
    answer_overrides: dict[str, Any] = field(default_factory=dict)  # AnswerConfig changes (ablations)
    ablate: bool = False  # rerun with each step or rule switched off in turn and print the change


def _err(line: str) -> None:
    print(line, file=sys.stderr)


def run_eval(
    opts: EvalOptions,
    embedder: Embedder | None = None,
    echo: Callable[[str], None] = print,
) -> int:
    """Run the benchmark; 0 when every gate check passes, 1 when one fails.

    Bad input (missing files, bad options) raises `BadInputError`s, which the CLI maps to exit 2.
    `embedder` replaces the real model in-process (tests use the hashing fake).
    """
    settings = Settings.from_env(index_dir=opts.index, store=opts.store)
    for name, value in (("-k", opts.k), ("--search-k", opts.search_k)):
        if not 1 <= value <= settings.max_top_k:
            raise BadInputError(f"{name} must be from 1 to {settings.max_top_k}")
    if opts.beir and (opts.url or opts.questions or opts.benchmarks):
        raise BadInputError("--beir builds its own index: it cannot be combined with --url, --questions or --benchmark")
    if opts.url and (opts.benchmarks or (opts.questions and is_benchmark(opts.questions))):
        raise BadInputError("a benchmark is scored on an index of its own corpus: it cannot be combined with --url")
    old = report.load_report(opts.compare) if opts.compare else None
    thresholds_path = opts.thresholds or (None if opts.beir else DEFAULT_THRESHOLDS)
    thresholds = gate.load_thresholds(thresholds_path) if (opts.gate and thresholds_path) else None
    show_progress = sys.stderr.isatty() if opts.progress is None else opts.progress

    if opts.beir:
        from eval.beir import run_beir

        factory, stop = rich_progress("BEIR queries") if show_progress else (None, lambda: None)
        try:
            rep = run_beir(opts.beir, settings, embedder=embedder, search_k=opts.search_k, progress=factory)
        finally:
            stop()
    else:
        rep = _run_sets(opts, settings, embedder, show_progress)
    if opts.ablate:
        rep["ablation"] = _ablate(rep, opts, settings, embedder, echo)

    opts.out.mkdir(parents=True, exist_ok=True)
    rep["plots"] = _write_plots(rep, opts.out)
    checks = gate.check(report.flatten(rep), thresholds) if thresholds is not None else []
    if thresholds is not None and thresholds_path is not None:
        rep["gate"] = gate.summary(checks, str(thresholds_path))
    report.write_json(rep, opts.out / "report.json")
    (opts.out / "report.md").write_text(report.render_markdown(rep), encoding="utf-8")

    echo(_summary_text(rep, opts.out))
    for name, sub in rep.get("sets", {}).items():
        echo(f"\n{name}:")
        echo(_summary_text(sub, opts.out))
    if old is not None:
        echo(f"\nChange against {opts.compare}:")
        echo(cmp.format_changes(cmp.compare(report.flatten(old), report.flatten(rep))))
        echo(cmp.format_paired(cmp.paired_changes(old, rep)))
    failures = gate.failure_lines(checks)
    for line in failures:
        _err(line)
    if thresholds is not None:
        skipped = sum(1 for c in checks if c.status == "skipped")
        verdict = "FAILED" if failures else "passed"
        _err(
            f"gate {verdict}: {len(checks) - skipped} checks, {len(failures)} below their bound, {skipped} not measured"
        )
    return 1 if failures else 0


def _open_target(opts: EvalOptions, settings: Settings, embedder: Embedder | None, show_progress: bool) -> Target:
    if opts.url:
        return HttpTarget(opts.url, api_key=opts.api_key)
    from rag.engine import RagEngine
    from rag.ingest import ingest
    from rag.store.current import committed_version

    if committed_version(settings) is None:
        # A fresh clone has no index (artifacts are git-ignored): build it like `rag serve` does, so
        # `rag eval` works out of the box and CI needs no separate step.
        where = "in the store" if settings.store else f"at {settings.index_dir}"
        _err(f"no index {where}; building it from {settings.seeds_dir} first")
        summary = ingest([settings.seeds_dir], settings, embedder=embedder, progress=show_progress)
        _err(summary.line())
    # Each question is sent twice (/search, then /ask): without this the query-vector cache would
    # serve /ask's encoding and its latency would understate what a user asking once waits.
    engine = RagEngine.open(
        settings.with_(query_cache_size=0), embedder=embedder, answer_overrides=opts.answer_overrides
    )
    where = "the PostgreSQL store" if settings.store else f"index {settings.index_dir}"
    return EngineTarget(engine, description=f"in-process, {where}")


def _run_question_set(
    opts: EvalOptions, settings: Settings, embedder: Embedder | None, show_progress: bool
) -> dict[str, Any]:
    questions_path = opts.questions or DEFAULT_QUESTIONS
    questions = load_questions(questions_path)
    target = _open_target(opts, settings, embedder, show_progress)
    return _score_questions(target, questions, questions_path.name, str(questions_path), opts, show_progress)


def _run_sets(opts: EvalOptions, settings: Settings, embedder: Embedder | None, show_progress: bool) -> dict[str, Any]:
    """The main set (our question file, or a benchmark given as --questions) and each --benchmark
    beside it under `sets`."""
    if opts.questions and is_benchmark(opts.questions):
        main = load_benchmark(opts.questions, opts.slice_every)
        rep = _run_benchmark(main, opts, settings, embedder, show_progress, in_store=bool(settings.store))
    else:
        rep = _run_question_set(opts, settings, embedder, show_progress)
    if opts.benchmarks:
        rep["sets"] = {}
        for folder in opts.benchmarks:
            bench = load_benchmark(folder, opts.slice_every)
            rep["sets"][bench.name] = _run_benchmark(bench, opts, settings, embedder, show_progress)
    return rep


def _ablate(
    full: dict[str, Any], opts: EvalOptions, settings: Settings, embedder: Embedder | None, echo: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Each step or rule of the answer pipeline switched off in turn: the change on every set,
    with the paired 95% interval of the accuracy change."""
    from rag.answer.config import AnswerConfig

    reader = opts.answer_overrides.get("reader", AnswerConfig.defaults().reader)
    results = []
    for name, overrides in ABLATIONS[reader == "rules"]:
        run_opts = replace(opts, answer_overrides={**opts.answer_overrides, **overrides}, ablate=False)
        rep = _run_sets(run_opts, settings, embedder, False)
        changes = cmp.paired_changes(full, rep)
        results.append({"ablation": name, "overrides": overrides, "changes": [c.__dict__ for c in changes]})
        echo(f"\nwithout {name} ({overrides}):")
        echo(cmp.format_paired(changes))
    return results


# What `--ablate` switches off, one at a time (AnswerConfig overrides): for the learned pipeline
# (index False) and for the rules composer (index True).
_SHARED_ABLATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("the learned passage reranker", {"rerank_pool": 0}),
    ("the unknown-names rule", {"require_known_names": False}),
    ("the asked-year rule", {"require_asked_year": False}),
    ("the year boost in retrieval", {"year_boost": 1.0}),
)
ABLATIONS: tuple[tuple[tuple[str, dict[str, Any]], ...], ...] = (
    (
        ("the learned sentence scorer (cosine instead)", {"reader": "cosine"}),
        ("learned answerability (never low_support)", {"use_answerability": False}),
        ("skipping headings", {"skip_headings": False}),
        ("the context sentence", {"context_sentence": False}),
        ("further quotes (one quote only)", {"max_sentences": 1}),
        *_SHARED_ABLATIONS,
    ),
    (
        ("the answer-type rules", {"require_answer_type": False}),
        *_SHARED_ABLATIONS,
    ),
)


def _run_benchmark(
    bench: Benchmark,
    opts: EvalOptions,
    settings: Settings,
    embedder: Embedder | None,
    show_progress: bool,
    in_store: bool = False,
) -> dict[str, Any]:
    """A benchmark on the index of its own corpus: built on first use, then reused (incremental
    ingest embeds nothing when the corpus is unchanged). `in_store`: ingest it into the PostgreSQL
    store of `settings` (added to what the database holds); otherwise files in the cache."""
    from rag.engine import RagEngine
    from rag.ingest import ingest

    folder = index_folder(bench, opts.cache)
    bench_settings = replace(settings, index_dir=folder / "index", store=settings.store if in_store else None)
    if in_store:
        _err(f"{bench.label}: ingesting its corpus into the PostgreSQL store (give it a database of its own)")
    elif not (folder / "index" / "CURRENT").is_file():
        _err(f"{bench.label}: building its index in {folder} (once; later runs reuse it)")
    summary = ingest(corpus_inputs(bench, folder), bench_settings, embedder=embedder, progress=show_progress)
    if summary.written:
        _err(f"{bench.label}: {summary.line()}")
    engine = RagEngine.open(
        bench_settings.with_(query_cache_size=0), embedder=embedder, answer_overrides=opts.answer_overrides
    )
    where = "the PostgreSQL store" if in_store else f"index {bench_settings.index_dir}"
    target = EngineTarget(engine, description=f"in-process, {where}")
    rep = _score_questions(target, list(bench.questions), bench.label, str(bench.corpus.parent), opts, show_progress)
    rep["meta"]["kind"] = "benchmark"
    rep["meta"]["slice_every"] = bench.slice_every
    return rep


def _score_questions(
    target: Target,
    questions: list[Question],
    title: str,
    source: str,
    opts: EvalOptions,
    show_progress: bool,
) -> dict[str, Any]:
    factory, stop = rich_progress(title) if show_progress else (None, lambda: None)
    try:
        run = run_questions(target, questions, top_k=opts.k, search_k=opts.search_k, progress=factory)
    finally:
        stop()
        target.close()
    scores = score_run(run, top_k=opts.k)
    missing = sorted({d for q in questions for d in q.gold_doc_ids if run.documents.get(d) is None})
    if missing:
        # Usually a corpus/question-set mismatch (re-parsed documents got new ids): the numbers would
        # silently understate the system, so say so loudly.
        _err(f"warning: {len(missing)} gold document id(s) are unknown to the system: {', '.join(missing[:5])}")
    return _question_report(title, source, run, scores, opts, counts(questions), missing)


def _question_report(
    title: str,
    source: str,
    run: RunResult,
    scores: list[QuestionScore],
    opts: EvalOptions,
    question_counts: dict[str, Any],
    missing: list[str],
) -> dict[str, Any]:
    bodies = [b for obs in run.observations for b in (obs.ask, obs.search) if b]
    versions = sorted({str(b.get("index_version")) for b in bodies if b.get("index_version")})
    modes = sorted({str(obs.ask.get("mode")) for obs in run.observations if obs.ask and obs.ask.get("mode")})
    return {
        "schema": report.SCHEMA,
        "meta": {
            "title": title,
            "kind": "questions",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - run.wall_time_s)),
            "questions_file": source,
            "questions": len(scores),
            "target": run.target,
            "index_version": ", ".join(versions) or None,
            "answer_modes": ", ".join(modes) or None,
            "top_k": opts.k,
            "search_k": opts.search_k,
            "missing_gold_documents": len(missing),
            "counts": question_counts,
        },
        "metrics": {**metric_tables(scores), "intervals": bootstrap_intervals(scores, aggregate)},
        "latency": latency_tables(scores, run.wall_time_s),
        "risk_coverage": risk_coverage_table(scores),
        "questions": [s.as_dict() for s in scores],
    }


def _write_plots(rep: dict[str, Any], out: Path) -> dict[str, str]:
    written: dict[str, str] = {}
    tables = rep.get("metrics", {})
    if tables.get("by_type"):
        plots.accuracy_by_type(tables["by_type"], out / report.PLOTS["accuracy_by_type"], tables.get("by_split_type"))
        written["accuracy_by_type"] = report.PLOTS["accuracy_by_type"]
    series = {
        "search": [q["search_ms"] for q in rep.get("questions", []) if q.get("search_ms") is not None],
        "ask": [q["ask_ms"] for q in rep.get("questions", []) if q.get("ask_ms") is not None],
    }
    plots.latency_distribution(series, out / report.PLOTS["latency"])
    written["latency"] = report.PLOTS["latency"]
    if rep.get("sets"):
        rates = [m for m in report.SET_METRICS if m not in {"n_answerable", "n_unanswerable", "mean_answer_chars"}]
        plots.sets_side_by_side(report.set_columns(rep), rates, report.LABELS, out / report.PLOTS["sets"])
        written["sets"] = report.PLOTS["sets"]
    rc = rep.get("risk_coverage")
    if rc:
        plots.risk_coverage(
            rc["points"], rc.get("operating_point"), rc.get("aurc"), out / report.PLOTS["risk_coverage"]
        )
        written["risk_coverage"] = report.PLOTS["risk_coverage"]
    return written


def _summary_text(rep: dict[str, Any], out: Path) -> str:
    tables = rep.get("metrics", {})
    columns = {"overall": tables.get("overall", {}), **tables.get("by_split", {})}
    names = [n for n in _SUMMARY if any(isinstance(col.get(n), float) for col in columns.values())]
    width = max(len(n) for n in names) if names else 10
    lines = [f"{'':<{width}}  " + "  ".join(f"{c:>8}" for c in columns)]
    for n in names:
        lines.append(f"{n:<{width}}  " + "  ".join(f"{report.fmt(col.get(n)):>8}" for col in columns.values()))
    lat = rep.get("latency", {})
    for kind in ("search_ms", "ask_ms"):
        row = lat.get(kind) or {}
        if row.get("n"):
            lines.append(f"{kind:<{width}}  p50 {row['p50']:.2f}  p95 {row['p95']:.2f}  p99 {row['p99']:.2f}")
    lines.append(f"wall time {lat.get('wall_time_s', 0):.1f}s; report: {out / 'report.md'}")
    return "\n".join(lines)
