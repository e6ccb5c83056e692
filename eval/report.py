"""The report: one JSON document (machines, `--compare`, the gate) and its Markdown rendering (people)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.metrics import RETRIEVAL_METRICS
from eval.scoring import ANSWER_METRICS

LATENCY_COLUMNS = ("n", "p50", "p95", "p99", "mean", "max")

SCHEMA = 1
PLOTS = {
    "accuracy_by_type": "accuracy_by_type.png",
    "latency": "latency.png",
    "risk_coverage": "risk_coverage.png",
    "sets": "sets.png",
}
# The side-by-side table of sets: the figures a change to retrieval or answering is judged on.
SET_METRICS = (
    "n_answerable",
    "n_unanswerable",
    "hit@5",
    "answer_accuracy",
    "ceiling",
    "reader_efficiency",
    "evidence_hit",
    "citation_precision",
    "abstention_recall",
    "false_abstention_rate",
    "verbatim_rate",
    "mean_answer_chars",
)
LABELS = {
    "n": "questions",
    "n_answerable": "answerable",
    "n_unanswerable": "unanswerable",
    "n_errors": "questions with errors",
    "hit@1": "hit@1",
    "hit@5": "hit@5",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "recall@5": "gold-doc recall@5",
    "answer_accuracy": "answer accuracy",
    "ceiling": "ceiling (answer in top-k passages)",
    "reader_efficiency": "reader efficiency (accuracy / ceiling)",
    "evidence_hit": "evidence hit (a citation from a gold document)",
    "mean_answer_chars": "mean answer length (characters)",
    "citation_precision": "citation precision",
    "evidence_recall": "evidence recall",
    "abstention_recall": "abstention recall (unanswerable)",
    "false_abstention_rate": "false-abstention rate (answerable)",
    "verbatim_rate": "verbatim citations",
    "correct_rate": "correct (incl. abstaining when unanswerable)",
    "coverage": "coverage (share answered)",
}
_COUNT_ROWS = ("n", "n_answerable", "n_unanswerable", "n_errors")


def flatten(report: Mapping[str, Any]) -> dict[str, float]:
    """Every number in the report under a dotted key, e.g. `overall.hit@5`, `type.multi.recall@5`,
    `split.heldout.answer_accuracy`, `split_type.heldout.factoid.hit@1`, `latency.ask_ms.p95`,
    `latency.stages_ms.ask.encode.p50`, `risk.aurc`; a benchmark set's under `set.<name>.` (e.g.
    `set.realtimeqa-2022-2024.overall.answer_accuracy`). Thresholds and `--compare` use these names."""
    flat: dict[str, float] = {}
    for name, sub in report.get("sets", {}).items():
        flat.update({f"set.{name}.{key}": value for key, value in flatten(sub).items()})
    tables = report.get("metrics", {})

    def put(prefix: str, row: Mapping[str, Any]) -> None:
        for name, value in row.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                flat[f"{prefix}.{name}"] = float(value)

    put("overall", tables.get("overall", {}))
    for t, row in tables.get("by_type", {}).items():
        put(f"type.{t}", row)
    for s, row in tables.get("by_split", {}).items():
        put(f"split.{s}", row)
    for s, by_type in tables.get("by_split_type", {}).items():
        for t, row in by_type.items():
            put(f"split_type.{s}.{t}", row)
    latency = report.get("latency", {})
    for kind in ("search_ms", "ask_ms"):
        put(f"latency.{kind}", latency.get(kind, {}))
    for stage, row in latency.get("stages_ms", {}).items():
        put(f"latency.stages_ms.{stage}", row)
    if isinstance(latency.get("wall_time_s"), int | float):
        flat["latency.wall_time_s"] = float(latency["wall_time_s"])
    aurc = report.get("risk_coverage", {}).get("aurc")
    if isinstance(aurc, int | float):
        flat["risk.aurc"] = float(aurc)
    return flat


def write_json(report: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load_report(path: Path) -> dict[str, Any]:
    from eval.files import read_json
    from rag.errors import InputFileError

    data = read_json(path, "no such report", invalid="not a readable report.json")
    if not isinstance(data, dict) or "metrics" not in data:
        raise InputFileError(path, "not a benchmark report (no 'metrics')")
    return data


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return fmt(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def metric_table(columns: Mapping[str, Mapping[str, Any]], metrics: Sequence[str]) -> list[str]:
    """Rows = metrics, columns = groups (overall, each type, each split)."""
    names = list(columns)
    rows = [[LABELS.get(metric, metric), *(columns[c].get(metric) for c in names)] for metric in metrics]
    return _table(["metric", *names], rows)


def render_markdown(report: Mapping[str, Any], max_misses: int = 60) -> str:
    meta = report.get("meta", {})
    tables = report.get("metrics", {})
    has_answers = meta.get("kind") != "beir"
    metrics = list(_COUNT_ROWS) + list(RETRIEVAL_METRICS) + (list(ANSWER_METRICS) if has_answers else [])
    out = [f"# Benchmark report: {meta.get('title', 'rag eval')}", ""]
    out += _table(
        ["", ""],
        [[k, v] for k, v in meta.items() if k not in {"title", "counts"} and not isinstance(v, dict | list)],
    )
    counts = meta.get("counts")
    if counts and counts.get("type_split"):
        splits = list(counts.get("split", {}))
        types = list(counts.get("type", {}))
        out += ["## Questions by type and split", ""]
        out += _table(
            ["type", *splits, "total"],
            [[t, *(counts["type_split"].get(f"{t}/{s}", 0) for s in splits), counts["type"][t]] for t in types],
        )

    sets = report.get("sets", {})
    if sets:
        out += side_by_side(report)

    columns: dict[str, Mapping[str, Any]] = {"overall": tables.get("overall", {})}
    columns.update(tables.get("by_type", {}))
    columns.update({f"split: {s}": row for s, row in tables.get("by_split", {}).items()})
    out += ["## Metrics: overall, per question type, per split", ""]
    out += [
        "Retrieval metrics are over answerable questions; answer metrics as defined under *Definitions*. "
        "`–` means the metric does not apply to the group (e.g. abstention recall on answerable types).",
        "",
    ]
    out += metric_table(columns, metrics)
    for split, by_type in tables.get("by_split_type", {}).items():
        out += [f"### Split `{split}` per type", ""]
        cols = {"all": tables.get("by_split", {}).get(split, {}), **by_type}
        out += metric_table(cols, metrics)

    latency = report.get("latency", {})
    if latency:
        out += ["## Latency (ms)", ""]
        rows = []
        for label, row in [
            ("search (client wall time)", latency.get("search_ms")),
            ("ask (client wall time)", latency.get("ask_ms")),
        ]:
            if row:
                rows.append([label, *(row.get(c) for c in LATENCY_COLUMNS)])
        for stage, row in latency.get("stages_ms", {}).items():
            rows.append([f"stage {stage}", *(row.get(c) for c in LATENCY_COLUMNS)])
        out += _table(["", *LATENCY_COLUMNS], rows)
        out += [f"Total wall time: {fmt(latency.get('wall_time_s'), 2)} s.", ""]

    rc = report.get("risk_coverage")
    if rc:
        op = rc.get("operating_point", {})
        out += ["## Abstention threshold: risk–coverage", ""]
        out += [
            f"Confidence per answer: {rc.get('confidence')}. Sweeping a threshold over it: coverage = share "
            "answered, risk = share of the answered that are wrong (an answered unanswerable question is "
            f"always wrong). AURC = {fmt(rc.get('aurc'))} (lower is better). The system's own decisions: "
            f"coverage {fmt(op.get('coverage'))}, risk {fmt(op.get('risk'))}.",
            "",
        ]
        points = rc.get("points", [])
        step = max(1, len(points) // 12)
        shown = points[::step] + ([points[-1]] if points and (len(points) - 1) % step else [])
        out += _table(
            ["threshold", "coverage", "risk", "abstention recall", "false-abstention rate"],
            [
                [p["threshold"], p["coverage"], p["risk"], p["abstention_recall"], p["false_abstention_rate"]]
                for p in shown
            ],
        )

    gate = report.get("gate")
    if gate:
        out += ["## Gate", ""]
        out += [f"Thresholds: `{gate.get('thresholds')}` — **{'PASS' if gate.get('passed') else 'FAIL'}**", ""]
        out += _table(
            ["metric", "value", "bound", "status"],
            [[c["metric"], c["value"], f"{c['op']} {c['bound']}", c["status"]] for c in gate.get("checks", [])],
        )

    if has_answers:
        misses = [q for q in report.get("questions", []) if not q.get("correct")]
        out += [f"## Questions answered wrongly ({len(misses)})", ""]
        out += _table(
            ["id", "type", "split", "question", "expected", "hit@5", "got"],
            [
                [
                    q["id"],
                    q["type"],
                    q["split"],
                    q["question"],
                    " / ".join(q.get("answers", [])) or "(abstain)",
                    q.get("retrieval", {}).get("hit@5"),
                    ("[abstained] " if q.get("abstained") else "")
                    + _clip(q.get("answer", ""), 160)
                    + (f" ERR {q['errors'][0]}" if q.get("errors") else ""),
                ]
                for q in misses[:max_misses]
            ],
        )
        if len(misses) > max_misses:
            out += [f"… and {len(misses) - max_misses} more in report.json.", ""]

    plots = report.get("plots", {})
    if plots:
        out += ["## Plots", ""]
        out += [f"![{name}]({file})" for name, file in plots.items()] + [""]

    out += ["## Definitions", ""]
    out += [
        "- Document ranking: `/search` hits deduplicated by document, first occurrence kept; "
        "relevant = gold documents.",
        "- hit@k: a gold document in the top k. MRR@10: 1/rank of the first gold document. nDCG@10: binary gains. "
        "gold-doc recall@5: share of the question's gold documents in the top 5 (matters for multi-article questions).",
        "- Answer accuracy: not abstained and an acceptable answer occurs in the answer (case, punctuation and "
        "whitespace normalised; matched on token boundaries).",
        "- A citation *supports* a gold evidence string when it is in the same gold document and their character "
        "spans overlap by at least half the shorter span. Citation precision: share of citations of answered "
        "answerable questions that support some evidence. Evidence recall: per answered answerable question, "
        "share of its evidence strings supported by some citation; averaged.",
        "- Verbatim: citation `text` equals the document's clean text at `[start:end]` (every citation counted).",
        "- Latency: client-side wall time per call after one untimed warm-up; "
        "stages are the system's own `timings_ms`.",
        "",
    ]
    return "\n".join(out)


def set_columns(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """{set title: its report} for the main set and each benchmark set."""
    main = report.get("meta", {}).get("title", "questions")
    sets = report.get("sets", {})
    return {main: report, **{sub.get("meta", {}).get("title", name): sub for name, sub in sets.items()}}


def side_by_side(report: Mapping[str, Any]) -> list[str]:
    """Each set's overall figures with their bootstrap 95% intervals, one column a set."""
    columns = set_columns(report)

    def cell(sub: Mapping[str, Any], metric: str) -> str:
        value = sub.get("metrics", {}).get("overall", {}).get(metric)
        interval = sub.get("metrics", {}).get("intervals", {}).get(metric)
        if interval and metric != "mean_answer_chars":
            return f"{fmt(value)} [{interval[0]:.3f}, {interval[1]:.3f}]"
        if interval:
            return f"{fmt(value, 0)} [{interval[0]:.0f}, {interval[1]:.0f}]"
        return fmt(value)

    out = ["## Sets side by side", ""]
    out += [
        "Overall figures per set, each with its bootstrap 95% interval over questions (1,000 resamples). "
        "The ceiling is the share of answerable questions whose top-k passages hold an acceptable answer; "
        "reader efficiency = answer accuracy / ceiling.",
        "",
    ]
    out += _table(
        ["metric", *columns],
        [[LABELS.get(metric, metric), *(cell(sub, metric) for sub in columns.values())] for metric in SET_METRICS],
    )
    for name, sub in report.get("sets", {}).items():
        lat = sub.get("latency", {})
        wall = fmt(lat.get("wall_time_s"), 1)
        out += [f"`{name}`: wall time {wall} s; full report under `sets.{name}` in report.json.", ""]
        out += _misses(sub, 25)
    return out


def _misses(report: Mapping[str, Any], max_misses: int) -> list[str]:
    misses = [q for q in report.get("questions", []) if not q.get("correct")]
    out = [f"### {report.get('meta', {}).get('title', '')}: questions answered wrongly ({len(misses)})", ""]
    out += _table(
        ["id", "question", "expected", "ceiling", "got"],
        [
            [
                q["id"],
                q["question"],
                " / ".join(q.get("answers", [])) or "(abstain)",
                q.get("ceiling"),
                ("[abstained] " if q.get("abstained") else "") + _clip(q.get("answer", ""), 160),
            ]
            for q in misses[:max_misses]
        ],
    )
    if len(misses) > max_misses:
        out += [f"… and {len(misses) - max_misses} more in report.json.", ""]
    return out


def _clip(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"
