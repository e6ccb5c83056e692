"""The quality gate: floors (and ceilings) on report metrics; a run below a floor fails (exit 1).

Thresholds file (JSON), keys are `report.flatten` names:

    {"min": {"overall.hit@5": 0.7, "split.heldout.answer_accuracy": 0.5},
     "max": {"overall.false_abstention_rate": 0.3, "latency.ask_ms.p95": 500}}

A metric the report does not have (e.g. no unanswerable questions in a custom file) is skipped and
listed as such rather than failing: the gate judges what was measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eval.files import read_json
from rag.errors import InputFileError


@dataclass(frozen=True)
class Check:
    metric: str
    op: str  # ">=" (floor) or "<=" (ceiling)
    bound: float
    value: float | None
    status: str  # "pass" | "FAIL" | "skipped"


def load_thresholds(path: Path) -> dict[str, dict[str, float]]:
    data = read_json(path, "no such thresholds file")
    if not isinstance(data, dict):
        raise InputFileError(path, "expected an object with 'min' and/or 'max'")
    out: dict[str, dict[str, float]] = {}
    for kind in ("min", "max"):
        section = data.get(kind, {})
        if not isinstance(section, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in section.values()
        ):
            raise InputFileError(path, f"'{kind}' must map metric names to numbers")
        out[kind] = {str(k): float(v) for k, v in section.items()}
    return out


def check(flat: Mapping[str, float], thresholds: Mapping[str, Mapping[str, float]]) -> list[Check]:
    checks: list[Check] = []
    for kind, op in (("min", ">="), ("max", "<=")):
        for metric, bound in thresholds.get(kind, {}).items():
            value = flat.get(metric)
            if value is None:
                status = "skipped"
            elif (value >= bound) if kind == "min" else (value <= bound):
                status = "pass"
            else:
                status = "FAIL"
            checks.append(Check(metric, op, bound, value, status))
    return checks


def summary(checks: list[Check], source: str) -> dict[str, Any]:
    return {
        "thresholds": source,
        "passed": not any(c.status == "FAIL" for c in checks),
        "checks": [asdict(c) for c in checks],
    }


def failure_lines(checks: list[Check]) -> list[str]:
    return [
        f"gate: {c.metric} = {c.value:.4f} is not {c.op} {c.bound:g}"
        for c in checks
        if c.status == "FAIL" and c.value is not None
    ]
