"""PNG plots for the report (matplotlib, Agg backend: no display needed on CI or servers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    # Select the file-only backend before pyplot is imported, so a missing display never matters.
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def accuracy_by_type(
    by_type: Mapping[str, Mapping[str, Any]], path: Path, by_split_type: Mapping[str, Any] | None = None
) -> None:
    """Bars of `correct_rate` per question type (for unanswerable: abstained), one bar per split."""
    plt = _pyplot()
    types = list(by_type)
    series: list[tuple[str, list[float]]] = [("all", [by_type[t].get("correct_rate") or 0.0 for t in types])]
    for split, rows in (by_split_type or {}).items():
        series.append((split, [(rows.get(t) or {}).get("correct_rate") or 0.0 for t in types]))
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(types))]
        bars = ax.bar(xs, values, width=width, label=label)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=1)
    ax.set_xticks(range(len(types)), [f"{t}\n(n={by_type[t].get('n')})" for t in types])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("share correct")
    ax.set_title("Answer accuracy by question type (unanswerable: abstained)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_distribution(series: Mapping[str, Sequence[float]], path: Path) -> None:
    """Histograms (log-spaced bins) of per-call latency, one per call kind, with p50/p95 marks."""
    import numpy as np

    plt = _pyplot()
    present = {k: list(v) for k, v in series.items() if v}
    fig, ax = plt.subplots(figsize=(8, 4.2))
    if present:
        lo = max(min(min(v) for v in present.values()), 1e-3)
        hi = max(max(v) for v in present.values())
        bins = np.geomspace(lo, max(hi, lo * 1.01), 40)
        for label, values in present.items():
            p50, p95 = np.percentile(values, [50, 95])
            ax.hist(values, bins=bins, alpha=0.55, label=f"{label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no timings", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_ylabel("calls")
    ax.set_title("Latency distribution")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def risk_coverage(
    points: Sequence[Mapping[str, Any]], operating: Mapping[str, Any] | None, aurc: float | None, path: Path
) -> None:
    """Selective risk against coverage as the abstention threshold sweeps; the system's own point marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    covered = [p for p in points if p.get("coverage")]
    if covered:
        ax.step([p["coverage"] for p in covered], [p["risk"] for p in covered], where="post", label="threshold sweep")
    if operating and operating.get("coverage") is not None:
        ax.scatter(
            [operating["coverage"]], [operating.get("risk") or 0.0], color="red", zorder=3, label="system's decisions"
        )
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("risk (share of answered that are wrong)")
    ax.set_title("Risk–coverage of the abstention threshold" + (f" (AURC {aurc:.3f})" if aurc is not None else ""))
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sets_side_by_side(
    sets: Mapping[str, Mapping[str, Any]], metrics: Sequence[str], labels: Mapping[str, str], path: Path
) -> None:
    """One group of bars per metric, one bar per set, with its bootstrap 95% interval as an error bar.
    `sets` maps a set's title to its report."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.6))
    width = 0.8 / max(len(sets), 1)
    for i, (title, rep) in enumerate(sets.items()):
        overall = rep.get("metrics", {}).get("overall", {})
        intervals = rep.get("metrics", {}).get("intervals", {})
        values = [overall.get(m) or 0.0 for m in metrics]
        low = [max(v - (intervals.get(m) or [v, v])[0], 0.0) for v, m in zip(values, metrics, strict=True)]
        high = [max((intervals.get(m) or [v, v])[1] - v, 0.0) for v, m in zip(values, metrics, strict=True)]
        xs = [x + (i - (len(sets) - 1) / 2) * width for x in range(len(metrics))]
        bars = ax.bar(xs, values, width=width, yerr=[low, high], capsize=2, label=title)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=2)
    ax.set_xticks(range(len(metrics)), [labels.get(m, m).split(" (")[0] for m in metrics], rotation=20, ha="right")
    ax.set_ylim(0, 1.15)
    ax.set_title("Sets side by side (bars: bootstrap 95% intervals)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
