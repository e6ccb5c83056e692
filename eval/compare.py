"""`--compare OLD/report.json`: each metric's change against an earlier run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eval.intervals import paired_difference
from eval.scoring import LOWER_IS_BETTER

# Sections worth a line each; split×type cells and per-stage max/mean would drown the signal.
_PREFIXES = (
    "overall.",
    "type.",
    "split.",
    "latency.search_ms.",
    "latency.ask_ms.",
    "latency.stages_ms.",
    "latency.wall_time_s",
    "risk.",
)
_SKIP_SUFFIXES = (".n", ".n_answerable", ".n_unanswerable", ".mean", ".max")


@dataclass(frozen=True)
class Change:
    metric: str
    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def verdict(self) -> str:
        """better / worse / same / new / gone, knowing which metrics are lower-is-better."""
        if self.old is None:
            return "new"
        if self.new is None:
            return "gone"
        d = self.delta or 0.0
        if abs(d) < 1e-9:
            return "same"
        lower_better = self.metric.startswith("latency.") or self.metric.rsplit(".", 1)[-1] in LOWER_IS_BETTER
        if self.metric.endswith(".n_errors"):
            lower_better = True
        return "better" if (d < 0) == lower_better else "worse"


def _worth_a_line(key: str) -> bool:
    if key.startswith("set."):  # a benchmark set: its overall and split rows only
        key = key.split(".", 2)[2] if key.count(".") >= 2 else key
        if not key.startswith(("overall.", "split.")):
            return False
    return key.startswith(_PREFIXES) and not key.endswith(_SKIP_SUFFIXES)


def compare(old: Mapping[str, float], new: Mapping[str, float]) -> list[Change]:
    keys = [k for k in dict.fromkeys([*new, *old]) if _worth_a_line(k)]
    return [Change(k, old.get(k), new.get(k)) for k in keys]


def format_changes(changes: list[Change], only_changed: bool = False) -> str:
    def num(v: float | None) -> str:
        return "–" if v is None else f"{v:.4g}" if abs(v) >= 10 else f"{v:.4f}"

    rows = [c for c in changes if not only_changed or c.verdict != "same"]
    width = max((len(c.metric) for c in rows), default=10)
    lines = [f"{'metric':<{width}}  {'old':>10}  {'new':>10}  {'change':>10}  verdict"]
    for c in rows:
        delta = "" if c.delta is None else f"{c.delta:+.4f}" if abs(c.delta) < 10 else f"{c.delta:+.4g}"
        lines.append(f"{c.metric:<{width}}  {num(c.old):>10}  {num(c.new):>10}  {delta:>10}  {c.verdict}")
    worse = sum(1 for c in changes if c.verdict == "worse")
    better = sum(1 for c in changes if c.verdict == "better")
    lines.append(f"{better} better, {worse} worse, {len(changes) - better - worse} unchanged/new/gone")
    return "\n".join(lines)


# Per-question outcomes whose mean is the metric: (metric, the field holding the outcome, whether
# the question counts: answerable ones or unanswerable ones).
_PER_QUESTION: tuple[tuple[str, str, bool], ...] = (
    ("answer_accuracy", "correct", True),
    ("ceiling", "ceiling", True),
    ("abstention_recall", "abstained", False),
    ("false_abstention_rate", "abstained", True),
)


def _outcomes(report: Mapping[str, Any], field: str, answerable: bool) -> dict[str, float]:
    # A report from before a field existed (no `ceiling`) has nothing to pair on that metric.
    return {
        str(q["id"]): float(bool(q[field]))
        for q in report.get("questions", [])
        if field in q and bool(q.get("answerable")) == answerable
    }


@dataclass(frozen=True)
class PairedChange:
    set_name: str
    metric: str
    delta: float
    interval: list[float]
    n: int

    @property
    def outside(self) -> bool:
        """The change's 95% interval excludes zero: not explained by which questions were asked."""
        return self.interval[0] > 0 or self.interval[1] < 0


def _per_set(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    title = str(report.get("meta", {}).get("title", "main"))
    return {title: report, **dict(report.get("sets", {}))}


def paired_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[PairedChange]:
    """For every set both reports have, each per-question metric's change over the questions both
    scored, with its paired bootstrap 95% interval."""
    out: list[PairedChange] = []
    old_sets = _per_set(old)
    for name, new_set in _per_set(new).items():
        old_set = old_sets.get(name)
        if old_set is None:
            continue
        for metric, field, answerable in _PER_QUESTION:
            before = _outcomes(old_set, field, answerable)
            after = _outcomes(new_set, field, answerable)
            result = paired_difference(before, after)
            if result is not None:
                out.append(PairedChange(name, metric, result[0], result[1], len(set(before) & set(after))))
    return out


def format_paired(changes: list[PairedChange]) -> str:
    lines = ["Paired changes per set (bootstrap 95% interval of new − old over the same questions):"]
    for c in changes:
        lower_better = c.metric in LOWER_IS_BETTER
        verdict = "within noise"
        if c.outside:
            verdict = "better" if (c.delta < 0) == lower_better else "worse"
        lines.append(
            f"  {c.set_name:<28} {c.metric:<22} {c.delta:+.4f} [{c.interval[0]:+.4f}, {c.interval[1]:+.4f}]"
            f" n={c.n}  {verdict}"
        )
    return "\n".join(lines)
