"""`--compare OLD/report.json`: each metric's change against an earlier run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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


def compare(old: Mapping[str, float], new: Mapping[str, float]) -> list[Change]:
    keys = [k for k in dict.fromkeys([*new, *old]) if k.startswith(_PREFIXES) and not k.endswith(_SKIP_SUFFIXES)]
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
