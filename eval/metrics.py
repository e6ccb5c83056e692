"""Metric primitives: pure functions on plain values, so each can be tested on hand-made cases.

Definitions (also in eval/README.md):

- Answer normalisation: NFKC, case-folded, curly quotes made straight, every run of characters that is
  not a letter, digit or one of `£ $ € ¥ %` becomes one space, and those symbols become tokens of their
  own. An acceptable answer matches when its normalised token sequence occurs in the normalised answer
  on token boundaries ("4%" does not match "24%"; "£2 billion" matches "(£2 billion)").
- Document ranking: the hit list deduplicated by `doc_id`, keeping each document's first (best) rank.
- A citation *supports* an evidence occurrence when both are in the same document and their character
  spans overlap by at least half the shorter of the two spans (a sentence quoted from inside a long
  evidence passage counts; a neighbouring sentence that merely touches it does not).
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Symbols that change an answer's meaning ("60%" vs "60", "£2" vs "2"): kept as their own tokens.
_SYMBOLS = "£$€¥%"
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "‟": '"'})
_NON_WORD = re.compile(rf"[^\w{re.escape(_SYMBOLS)}]+|_+", re.UNICODE)
_SYMBOL = re.compile(rf"([{re.escape(_SYMBOLS)}])")

RETRIEVAL_METRICS = ("hit@1", "hit@5", "mrr@10", "ndcg@10", "recall@5")
# Our names -> ranx's names. recall@5 (share of a question's gold documents in the top 5) is what
# tells multi-article questions apart: hit@5 is satisfied by finding just one of the articles.
_RANX_NAMES = {
    "hit@1": "hit_rate@1",
    "hit@5": "hit_rate@5",
    "mrr@10": "mrr@10",
    "ndcg@10": "ndcg@10",
    "recall@5": "recall@5",
}


def normalize_answer(text: str) -> str:
    """The canonical form answers and acceptable strings are compared in (see module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    text = _NON_WORD.sub(" ", text)
    text = _SYMBOL.sub(r" \1 ", text)
    return " ".join(text.split())


def contains_answer(text: str, acceptable: Iterable[str]) -> bool:
    """True when any acceptable string occurs in `text` after normalisation, on token boundaries."""
    haystack = f" {normalize_answer(text)} "
    for answer in acceptable:
        needle = normalize_answer(answer)
        if needle and f" {needle} " in haystack:
            return True
    return False


def doc_ranking(hits: Sequence[Mapping[str, Any]]) -> list[str]:
    """Passage hits -> document ids in rank order, each document once at its best rank."""
    seen: dict[str, None] = {}
    for hit in hits:
        doc_id = hit.get("doc_id")
        if doc_id is not None and doc_id not in seen:
            seen[doc_id] = None
    return list(seen)


def retrieval_scores(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, float]]:
    """Per-query hit@1, hit@5, MRR@10, nDCG@10 and recall@5 via ranx.

    `rankings` maps a query id to its document ranking (best first); `qrels` maps it to
    {doc_id: relevance > 0}. Only queries in `qrels` are scored; one with no ranking scores 0.
    """
    qids = [q for q in qrels if qrels[q]]
    if not qids:
        return {}
    # Imported here: ranx pulls in numba (seconds to import), and most callers never need it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ranx import Qrels, Run, evaluate

        qrels_obj = Qrels({q: {d: int(r) for d, r in qrels[q].items()} for q in qids})
        run_dict: dict[str, dict[str, float]] = {}
        for q in qids:
            ranked = list(rankings.get(q, ()))[:100]
            # Synthetic descending scores: ranx sorts by score, and the engine's own scores may tie
            # or be incomparable across passages after deduplication; the rank order is what counts.
            run_dict[q] = {d: float(len(ranked) - i) for i, d in enumerate(ranked)}
        empty = [q for q, docs in run_dict.items() if not docs]
        for q in empty:
            # ranx rejects empty rankings; a document no qrels mention scores 0 everywhere.
            run_dict[q] = {"__no_hit__": 1.0}
        scores = evaluate(
            qrels_obj,
            Run(run_dict),
            [_RANX_NAMES[m] for m in RETRIEVAL_METRICS],
            return_mean=False,
            make_comparable=True,
        )
    # ranx orders per-query arrays by its own sorted query ids, not our insertion order.
    ordered = sorted(qids)
    return {q: {m: float(scores[_RANX_NAMES[m]][i]) for m in RETRIEVAL_METRICS} for i, q in enumerate(ordered)}


def find_all(text: str, needle: str) -> list[tuple[int, int]]:
    """Every (start, end) occurrence of `needle` in `text`, overlapping ones included."""
    spans: list[tuple[int, int]] = []
    if not needle:
        return spans
    start = text.find(needle)
    while start != -1:
        spans.append((start, start + len(needle)))
        start = text.find(needle, start + 1)
    return spans


def spans_support(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """The support relation: overlap of at least half the shorter span (module docstring)."""
    overlap = min(a[1], b[1]) - max(a[0], b[0])
    shorter = min(a[1] - a[0], b[1] - b[0])
    return shorter > 0 and overlap > 0 and overlap * 2 >= shorter


def citation_span(citation: Mapping[str, Any], doc_text: str | None) -> tuple[int, int] | None:
    """Where a citation sits in its document: its own offsets when they hold its text verbatim, else
    the first place its text occurs (so a citation with wrong offsets still gets judged on content),
    else None."""
    text = citation.get("text") or ""
    if doc_text is None or not text:
        return None
    start, end = citation.get("start"), citation.get("end")
    if isinstance(start, int) and isinstance(end, int) and doc_text[start:end] == text:
        return (start, end)
    found = doc_text.find(text)
    return (found, found + len(text)) if found != -1 else None


def is_verbatim(citation: Mapping[str, Any], doc_text: str | None) -> bool:
    """The citation's text is exactly the document's clean text at its offsets."""
    start, end = citation.get("start"), citation.get("end")
    if doc_text is None or not isinstance(start, int) or not isinstance(end, int):
        return False
    text = citation.get("text")
    return bool(text) and 0 <= start <= end <= len(doc_text) and doc_text[start:end] == text


def confidence_of(answer: Mapping[str, Any]) -> float:
    """The per-answer confidence the risk–coverage curve sweeps a threshold over: the answer's own
    `confidence` field when it has one, else the best citation score, else 0."""
    value = answer.get("confidence")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    scores = [float(c["score"]) for c in answer.get("citations") or () if isinstance(c.get("score"), int | float)]
    return max(scores) if scores else 0.0


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p95/p99 (linear interpolation between closest ranks), mean and max, in the input's unit."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    ordered = sorted(values)

    def pct(p: float) -> float:
        pos = (len(ordered) - 1) * p / 100.0
        lo, hi = math.floor(pos), math.ceil(pos)
        return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)

    return {
        "n": len(ordered),
        "p50": round(pct(50), 3),
        "p95": round(pct(95), 3),
        "p99": round(pct(99), 3),
        "mean": round(sum(ordered) / len(ordered), 3),
        "max": round(ordered[-1], 3),
    }


@dataclass(frozen=True)
class RiskPoint:
    threshold: float
    coverage: float  # share of all questions answered at this threshold
    risk: float  # share of answered ones that are wrong (0 when none answered)
    abstention_recall: float | None  # share of unanswerable ones held back
    false_abstention_rate: float | None  # share of answerable ones held back


def risk_coverage(items: Sequence[tuple[float, bool, bool]]) -> tuple[list[RiskPoint], float | None]:
    """Sweep an abstention threshold over per-answer confidences.

    `items` are (confidence, answerable, ok_if_answered). At threshold t a question is answered when
    its confidence >= t; an answered unanswerable question is always an error. Returns one point per
    distinct confidence (highest first, plus the answer-nothing point) and the area under the
    risk–coverage curve (AURC: mean selective risk over coverage levels 1/N..N/N; lower is better).
    """
    if not items:
        return [], None
    n = len(items)
    n_ans = sum(1 for _, answerable, _ in items if answerable)
    n_unans = n - n_ans
    ordered = sorted(items, key=lambda it: -it[0])
    points = [RiskPoint(math.inf, 0.0, 0.0, 1.0 if n_unans else None, 1.0 if n_ans else None)]
    errors = answered_ans = answered_unans = 0
    risk_sum = 0.0
    i = 0
    while i < n:
        threshold = ordered[i][0]
        errors_before, start = errors, i
        # Equal confidences cannot be separated by a threshold: admit them together.
        while i < n and ordered[i][0] == threshold:
            _, answerable, ok = ordered[i]
            errors += 0 if (answerable and ok) else 1
            answered_ans += 1 if answerable else 0
            answered_unans += 0 if answerable else 1
            i += 1
        # Inside a tie the order is arbitrary, so the AURC takes the expected risk at each coverage
        # level under a random order: errors accrue at the group's average rate.
        rate = (errors - errors_before) / (i - start)
        for m in range(start + 1, i + 1):
            risk_sum += (errors_before + rate * (m - start)) / m
        points.append(
            RiskPoint(
                threshold=threshold,
                coverage=i / n,
                risk=errors / i,
                abstention_recall=(n_unans - answered_unans) / n_unans if n_unans else None,
                false_abstention_rate=(n_ans - answered_ans) / n_ans if n_ans else None,
            )
        )
    return points, risk_sum / n


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the non-None values; None when there are none (a metric that does not apply)."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
