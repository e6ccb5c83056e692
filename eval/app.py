"""The benchmark end to end: what `rag eval` and `python -m eval` run.

options -> questions -> target (in-process index | HTTP service) -> observations -> scores
        -> report.json, report.md, plots -> --compare print-out -> gate (exit 1 below a floor)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval import compare as cmp
from eval import gate, plots, report
from eval.questions import counts, load_questions
from eval.runner import EngineTarget, HttpTarget, RunResult, Target, rich_progress, run_questions
from eval.scoring import ALL_METRICS, QuestionScore, latency_tables, metric_tables, risk_coverage_table, score_run
from rag.errors import BadInputError
from rag.protocols import Embedder
from rag.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_QUESTIONS = PACKAGE_DIR / "questions.jsonl"
DEFAULT_THRESHOLDS = PACKAGE_DIR / "thresholds.json"
DEFAULT_OUT = Path("eval/out")
# The overall metrics echoed to the terminal; everything else is in report.md.
# The terminal summary: every metric but the all-questions aggregates (correct_rate, coverage).
_SUMMARY = tuple(name for name in ALL_METRICS if name not in {"correct_rate", "coverage"})


@dataclass
class EvalOptions:
    questions: Path | None = None
    index: Path | None = None
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
    settings = Settings.from_env(index_dir=opts.index)
    for name, value in (("-k", opts.k), ("--search-k", opts.search_k)):
        if not 1 <= value <= settings.max_top_k:
            raise BadInputError(f"{name} must be from 1 to {settings.max_top_k}")
    if opts.beir and (opts.url or opts.questions):
        raise BadInputError("--beir builds its own index: it cannot be combined with --url or --questions")
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
        rep = _run_question_set(opts, settings, embedder, show_progress)

    opts.out.mkdir(parents=True, exist_ok=True)
    rep["plots"] = _write_plots(rep, opts.out)
    checks = gate.check(report.flatten(rep), thresholds) if thresholds is not None else []
    if thresholds is not None and thresholds_path is not None:
        rep["gate"] = gate.summary(checks, str(thresholds_path))
    report.write_json(rep, opts.out / "report.json")
    (opts.out / "report.md").write_text(report.render_markdown(rep), encoding="utf-8")

    echo(_summary_text(rep, opts.out))
    if old is not None:
        echo(f"\nChange against {opts.compare}:")
        echo(cmp.format_changes(cmp.compare(report.flatten(old), report.flatten(rep))))
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
    from rag.store.index_files import index_exists

    if not index_exists(settings.index_dir):
        # A fresh clone has no index (artifacts are git-ignored): build it like `rag serve` does, so
        # `rag eval` works out of the box and CI needs no separate step.
        _err(f"no index at {settings.index_dir}; building it from {settings.seeds_dir} first")
        summary = ingest([settings.seeds_dir], settings, embedder=embedder, progress=show_progress)
        _err(summary.line())
    # Each question is sent twice (/search, then /ask): without this the query-vector cache would
    # serve /ask's encoding and its latency would understate what a user asking once waits.
    engine = RagEngine.open(settings.with_(query_cache_size=0), embedder=embedder)
    return EngineTarget(engine, description=f"in-process, index {settings.index_dir}")


def _run_question_set(
    opts: EvalOptions, settings: Settings, embedder: Embedder | None, show_progress: bool
) -> dict[str, Any]:
    questions_path = opts.questions or DEFAULT_QUESTIONS
    questions = load_questions(questions_path)
    target = _open_target(opts, settings, embedder, show_progress)
    factory, stop = rich_progress("questions") if show_progress else (None, lambda: None)
    try:
        run = run_questions(target, questions, top_k=opts.k, search_k=opts.search_k, progress=factory)
    finally:
        stop()
        target.close()
    scores = score_run(run)
    missing = sorted({d for q in questions for d in q.gold_doc_ids if run.documents.get(d) is None})
    if missing:
        # Usually a corpus/question-set mismatch (re-parsed documents got new ids): the numbers would
        # silently understate the system, so say so loudly.
        _err(f"warning: {len(missing)} gold document id(s) are unknown to the system: {', '.join(missing[:5])}")
    return _question_report(questions_path, run, scores, opts, counts(questions), missing)


def _question_report(
    questions_path: Path,
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
            "title": questions_path.name,
            "kind": "questions",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - run.wall_time_s)),
            "questions_file": str(questions_path),
            "questions": len(scores),
            "target": run.target,
            "index_version": ", ".join(versions) or None,
            "answer_modes": ", ".join(modes) or None,
            "top_k": opts.k,
            "search_k": opts.search_k,
            "missing_gold_documents": len(missing),
            "counts": question_counts,
        },
        "metrics": metric_tables(scores),
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
