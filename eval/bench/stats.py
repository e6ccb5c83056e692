"""Summaries every figure in the benchmark uses: percentiles of one run, median/min/max over runs."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def percentiles(samples: Sequence[float], points: Iterable[int] = (50, 95, 99)) -> dict[str, float]:
    """{"p50": ..., "p95": ..., "p99": ...} of one run's samples (linear interpolation, as numpy)."""
    if not len(samples):
        return {f"p{p}": float("nan") for p in points}
    values = np.asarray(samples, dtype=np.float64)
    return {f"p{p}": round(float(np.percentile(values, p)), 3) for p in points}


def summarize(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """One figure over several runs: {"median", "min", "max", "runs"}.

    The median, not the mean: on a shared machine one run disturbed by a neighbour should not move
    the headline; min and max show how much the runs disagreed.
    """
    clean = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not clean:
        return {"median": None, "min": None, "max": None, "runs": 0}
    return {
        "median": round(statistics.median(clean), digits),
        "min": round(min(clean), digits),
        "max": round(max(clean), digits),
        "runs": len(clean),
    }


def summarize_runs(runs: Sequence[dict[str, float]], digits: int = 3) -> dict[str, dict[str, Any]]:
    """Per-key `summarize` over runs that each report the same keys (e.g. p50/p95/p99)."""
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in run if k not in keys)
    return {key: summarize([run[key] for run in runs if key in run], digits) for key in keys}
