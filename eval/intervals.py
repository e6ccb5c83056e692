"""Bootstrap 95% intervals: for a set's metrics, and for the change between two runs.

Questions are resampled with replacement (a fixed seed, so a report is reproducible) and the metric
is recomputed on each resample; the interval is the 2.5th–97.5th percentile of those values. The
change between two runs is bootstrapped *paired*: the same resampled questions on both sides, so
the interval reflects how much the difference depends on which questions were asked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
RESAMPLES = 1000
SEED = 20260
# The metrics given an interval: the ones a change to retrieval or answering is judged on.
INTERVAL_METRICS = (
    "hit@5",
    "mrr@10",
    "answer_accuracy",
    "ceiling",
    "reader_efficiency",
    "evidence_hit",
    "citation_precision",
    "abstention_recall",
    "false_abstention_rate",
    "mean_answer_chars",
)


def bootstrap_intervals(
    items: Sequence[T],
    aggregate: Callable[[Sequence[T]], Mapping[str, Any]],
    metrics: Sequence[str] = INTERVAL_METRICS,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict[str, list[float]]:
    """{metric: [low, high]} for every metric `aggregate` gives a number on the full set."""
    full = aggregate(items)
    wanted = [name for name in metrics if isinstance(full.get(name), int | float)]
    if not items or not wanted:
        return {}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in wanted}
    n = len(items)
    for _ in range(resamples):
        sample = [items[i] for i in rng.integers(0, n, n)]
        row = aggregate(sample)
        for name in wanted:
            value = row.get(name)
            if isinstance(value, int | float):
                draws[name].append(float(value))
    return {name: _percentiles(values) for name, values in draws.items() if values}


def paired_difference(
    old: Mapping[str, float],
    new: Mapping[str, float],
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> tuple[float, list[float]] | None:
    """Mean change new − old over the questions both runs scored ({question id: 0/1 or a value}),
    with its bootstrap 95% interval; None when no question is shared."""
    ids = sorted(set(old) & set(new))
    if not ids:
        return None
    diffs = np.array([new[i] - old[i] for i in ids], dtype=float)
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(ids), (resamples, len(ids)))].mean(axis=1)
    return float(diffs.mean()), _percentiles(means.tolist())


def _percentiles(values: Sequence[float]) -> list[float]:
    low, high = np.percentile(np.asarray(values, dtype=float), [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]
