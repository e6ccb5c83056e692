"""Reciprocal rank fusion: score(d) = Σ w_i / (k + rank_i(d)).

Rank-based, so BM25's unbounded scores and cosine similarities need no calibration against
each other; k=60 is the constant from Cormack et al. (2009) and held up on our eval set.
"""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: int = 60
) -> list[tuple[int, float]]:
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
