"""Metric functions on hand-made cases with known values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval import metrics as m
from eval.compare import Change, compare
from eval.gate import check, load_thresholds
from eval.questions import Question
from eval.report import flatten
from eval.runner import Observation
from eval.scoring import aggregate, score_observation
from rag.errors import InputFileError


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        ("fined a record RMB 18.2 billion (£2 billion).", ["£2 billion"], True),
        ("fined a record RMB 18.2 billion (£2 billion).", ["18.2 billion"], True),
        ("fined a record RMB 18.2 billion.", ["£2 billion"], False),
        ("sales rose 24% on the year", ["4%"], False),  # token boundaries
        ("sales were up 400 %", ["400%"], True),  # symbols are tokens of their own
        ("ITALY leads", ["Italy"], True),
        ("Italyx leads", ["Italy"], False),
        ("the “IP Joint-Force System” launched", ["IP Joint Force System"], True),
        ("China’s ‘national wave’", ["china's national wave"], True),
        ("a six-month campaign", ["six month"], True),
        ("Proctor & Gamble", ["Proctor & Gamble"], True),
        ("anything", [], False),
        ("anything", ["   "], False),
        ("ＲＭＢ 934 billion", ["RMB 934 billion"], True),  # NFKC folds full-width letters
    ],
)
def test_contains_answer(text: str, answers: list[str], expected: bool) -> None:
    assert m.contains_answer(text, answers) is expected


def test_normalize_answer() -> None:
    assert m.normalize_answer("  China’s “IP Joint-Force System”!  ") == "china s ip joint force system"
    assert m.normalize_answer("£2bn, 60%") == "£ 2bn 60 %"


def test_doc_ranking_dedupes_keeping_first_occurrence() -> None:
    hits = [{"doc_id": "b"}, {"doc_id": "a"}, {"doc_id": "b"}, {"doc_id": "c"}, {"doc_id": "a"}, {}]
    assert m.doc_ranking(hits) == ["b", "a", "c"]


def test_retrieval_scores_known_values() -> None:
    # Query ids deliberately out of sorted order: ranx reports per-query arrays in its own order.
    rankings = {"zz": ["d0", "d1", "d2"], "aa": ["d3", "x"], "mm": []}
    qrels = {"zz": {"d1": 1}, "aa": {"d2": 1, "d3": 1}, "mm": {"d9": 1}}
    scores = m.retrieval_scores(rankings, qrels)
    assert scores["zz"]["hit@1"] == 0 and scores["zz"]["hit@5"] == 1
    assert scores["zz"]["mrr@10"] == pytest.approx(0.5)
    assert scores["zz"]["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert scores["aa"]["hit@1"] == 1 and scores["aa"]["mrr@10"] == 1
    assert scores["aa"]["ndcg@10"] == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert scores["aa"]["recall@5"] == pytest.approx(0.5)
    assert scores["mm"] == {name: 0.0 for name in m.RETRIEVAL_METRICS}


def test_retrieval_hit_at_5_ignores_rank_6_and_beyond() -> None:
    ranking = [f"x{i}" for i in range(5)] + ["gold"]
    scores = m.retrieval_scores({"q": ranking}, {"q": {"gold": 1}})["q"]
    assert scores["hit@5"] == 0 and scores["mrr@10"] == pytest.approx(1 / 6)


def test_spans_support_needs_half_the_shorter_span() -> None:
    assert m.spans_support((0, 100), (10, 30))  # evidence inside a long citation
    assert m.spans_support((10, 30), (0, 100))  # a sentence inside long evidence
    assert m.spans_support((0, 20), (10, 40))  # 10 of the shorter 20
    assert not m.spans_support((0, 20), (11, 40))  # 9 of 20
    assert not m.spans_support((0, 10), (10, 20))  # touching is not overlapping
    assert not m.spans_support((5, 5), (0, 10))  # empty span


def test_citation_span_and_verbatim() -> None:
    doc = "Alpha beta. Gamma delta. Alpha beta."
    exact = {"text": "Gamma delta.", "start": 12, "end": 24}
    assert m.is_verbatim(exact, doc) and m.citation_span(exact, doc) == (12, 24)
    shifted = {"text": "Gamma delta.", "start": 11, "end": 23}
    assert not m.is_verbatim(shifted, doc) and m.citation_span(shifted, doc) == (12, 24)
    later = {"text": "Alpha beta.", "start": 25, "end": 36}
    assert m.citation_span(later, doc) == (25, 36)  # its own offsets win over the first occurrence
    invented = {"text": "Epsilon.", "start": 0, "end": 8}
    assert m.citation_span(invented, doc) is None and not m.is_verbatim(invented, doc)
    assert not m.is_verbatim(exact, None)
    assert not m.is_verbatim({"text": "Alpha", "start": 30, "end": 99}, doc)


def test_confidence_prefers_the_answers_own_field() -> None:
    cites = [{"score": 0.2}, {"score": 0.7}, {"score": "x"}]
    assert m.confidence_of({"citations": cites}) == 0.7
    assert m.confidence_of({"citations": cites, "confidence": 0.1}) == 0.1
    assert m.confidence_of({"citations": cites, "confidence": float("nan")}) == 0.7
    assert m.confidence_of({"citations": []}) == 0.0


def test_percentiles_interpolate() -> None:
    p = m.percentiles([5, 1, 3, 2, 4])
    assert (p["p50"], p["p95"], p["p99"], p["mean"], p["max"], p["n"]) == (3, 4.8, 4.96, 3, 5, 5)
    assert m.percentiles([])["p50"] is None


def test_risk_coverage_known_values() -> None:
    items = [(0.9, True, True), (0.8, False, False), (0.5, True, False), (0.5, True, True)]
    points, aurc = m.risk_coverage(items)
    assert [(p.coverage, p.risk) for p in points] == [(0, 0), (0.25, 0), (0.5, 0.5), (1.0, 0.5)]
    assert points[1].abstention_recall == 1.0 and points[2].abstention_recall == 0.0
    assert points[1].false_abstention_rate == pytest.approx(2 / 3) and points[3].false_abstention_rate == 0
    # Risks at coverage 1..4: 0, 1/2, and inside the 0.5 tie the expected 1.5/3 and 2/4.
    assert aurc == pytest.approx((0 + 0.5 + 0.5 + 0.5) / 4)
    assert m.risk_coverage([]) == ([], None)


def test_risk_coverage_rewards_confidence_that_ranks_right_answers_first() -> None:
    good = [(0.9, True, True), (0.8, True, True), (0.2, False, False), (0.1, True, False)]
    bad = [(0.1, True, True), (0.2, True, True), (0.8, False, False), (0.9, True, False)]
    assert m.risk_coverage(good)[1] < m.risk_coverage(bad)[1]


DOC = "Alpha beta. The fine was RMB 18.2 billion. Gamma delta. A record £2 billion fine."
OTHER = "Unrelated text about RMB 18.2 billion."


def _cite(n: int, doc_id: str, text: str, doc: str, shift: int = 0) -> dict:
    start = doc.index(text) + shift
    return {"n": n, "doc_id": doc_id, "text": text, "start": start, "end": start + len(text), "score": 0.5 + n / 10}


def _question(**kw: object) -> Question:
    base = dict(
        id="q1",
        question="How big was the fine?",
        type="factoid",
        gold_doc_ids=("d1",),
        evidence=("The fine was RMB 18.2 billion.",),
        answers=("18.2 billion",),
        alt_evidence=("A record £2 billion fine.",),
        split="tune",
    )
    base.update(kw)
    return Question(**base)  # type: ignore[arg-type]


def test_score_observation_citation_precision_evidence_recall_verbatim() -> None:
    citations = [
        _cite(1, "d1", "The fine was RMB 18.2 billion.", DOC),  # evidence: precise, covers
        _cite(2, "d1", "Gamma delta.", DOC),  # gold doc, no evidence: imprecise
        _cite(3, "d2", "Unrelated text about RMB 18.2 billion.", OTHER),  # not a gold doc
        _cite(4, "d1", "A record £2 billion fine.", DOC),  # alternative evidence: precise
        _cite(5, "d1", "Alpha beta.", DOC, shift=1),  # wrong offsets: not verbatim, located by text
    ]
    body = {"answer": "The fine was RMB 18.2 billion. [1]", "abstained": False, "citations": citations}
    s = score_observation(Observation(_question(), ask=body), {"d1": DOC, "d2": OTHER})
    assert s.correct and s.ok_if_answered
    assert (s.n_judged, s.n_precise) == (5, 2)
    assert (s.evidence_covered, s.evidence_total) == (1, 1)
    assert s.n_verbatim == 4
    assert [c["supports"] for c in s.citations] == [True, False, False, True, False]
    assert s.confidence == pytest.approx(1.0)


def test_alt_evidence_alone_does_not_count_as_evidence_recall() -> None:
    body = {
        "answer": "A record £2 billion fine. [1]",
        "abstained": False,
        "citations": [_cite(1, "d1", "A record £2 billion fine.", DOC)],
    }
    s = score_observation(Observation(_question(), ask=body), {"d1": DOC})
    assert (s.n_precise, s.evidence_covered) == (1, 0)
    assert not s.correct  # "18.2 billion" is not in that answer


def test_abstained_answer_scores_as_false_abstention_but_ok_if_answered() -> None:
    body = {
        "answer": "The documents do not answer this.",
        "abstained": True,
        "citations": [_cite(1, "d1", "The fine was RMB 18.2 billion.", DOC)],
    }
    s = score_observation(Observation(_question(), ask=body), {"d1": DOC})
    assert not s.correct and s.abstained and s.ok_if_answered
    assert s.n_judged == 0  # abstentions' citations are not judged for precision
    row = aggregate([s])
    assert row["false_abstention_rate"] == 1.0 and row["citation_precision"] is None
    assert row["verbatim_rate"] == 1.0


def test_unanswerable_is_correct_only_when_abstained() -> None:
    q = _question(type="unanswerable", gold_doc_ids=(), evidence=(), answers=(), alt_evidence=())
    yes = score_observation(Observation(q, ask={"answer": "No.", "abstained": True, "citations": []}), {})
    no = score_observation(Observation(q, ask={"answer": "18.2 billion", "abstained": False, "citations": []}), {})
    assert yes.correct and not no.correct
    row = aggregate([yes, no])
    assert row["abstention_recall"] == 0.5 and row["answer_accuracy"] is None and row["hit@5"] is None


def test_failed_ask_counts_as_wrong() -> None:
    s = score_observation(Observation(_question(), errors=["ask: HTTP 500"]), {"d1": DOC})
    assert not s.correct and not s.asked
    row = aggregate([s])
    assert row["answer_accuracy"] == 0.0 and row["n_errors"] == 1 and row["coverage"] == 0.0


def test_aggregate_pools_citations_and_averages_per_question() -> None:
    full = score_observation(
        Observation(
            _question(),
            ask={
                "answer": "RMB 18.2 billion [1]",
                "citations": [_cite(1, "d1", "The fine was RMB 18.2 billion.", DOC)],
            },
        ),
        {"d1": DOC},
    )
    half = score_observation(
        Observation(
            _question(id="q2"),
            ask={"answer": "nope [1][2][3]", "citations": [_cite(n, "d1", "Gamma delta.", DOC) for n in (1, 2, 3)]},
        ),
        {"d1": DOC},
    )
    row = aggregate([full, half])
    assert row["citation_precision"] == pytest.approx(1 / 4)  # pooled: 1 of 4 citations
    assert row["evidence_recall"] == pytest.approx(0.5)  # per question: 1 and 0
    assert row["answer_accuracy"] == 0.5


def test_gate_floors_ceilings_and_unmeasured(tmp_path: Path) -> None:
    flat = {"overall.hit@5": 0.8, "overall.false_abstention_rate": 0.2}
    checks = check(
        flat, {"min": {"overall.hit@5": 0.9, "overall.mrr@10": 0.5}, "max": {"overall.false_abstention_rate": 0.3}}
    )
    assert [(c.metric, c.status) for c in checks] == [
        ("overall.hit@5", "FAIL"),
        ("overall.mrr@10", "skipped"),
        ("overall.false_abstention_rate", "pass"),
    ]
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"min": {"overall.hit@5": "high"}}))
    with pytest.raises(InputFileError, match="'min'"):
        load_thresholds(bad)


def test_compare_knows_which_direction_is_better() -> None:
    old = {"overall.hit@5": 0.8, "overall.false_abstention_rate": 0.1, "latency.ask_ms.p50": 10.0, "overall.n": 5}
    new = {"overall.hit@5": 0.9, "overall.false_abstention_rate": 0.2, "latency.ask_ms.p50": 5.0, "risk.aurc": 0.1}
    verdicts = {c.metric: c.verdict for c in compare(old, new)}
    assert verdicts == {
        "overall.hit@5": "better",
        "overall.false_abstention_rate": "worse",
        "latency.ask_ms.p50": "better",
        "risk.aurc": "new",
    }
    assert Change("overall.hit@5", 0.5, 0.5).verdict == "same"


def test_flatten_names() -> None:
    report = {
        "metrics": {
            "overall": {"hit@5": 1.0, "answer_accuracy": None},
            "by_type": {"multi": {"recall@5": 0.5}},
            "by_split": {"heldout": {"hit@1": 0.25}},
            "by_split_type": {"heldout": {"multi": {"hit@1": 0.0}}},
        },
        "latency": {"ask_ms": {"p95": 12.0}, "stages_ms": {"ask.encode": {"p50": 1.0}}, "wall_time_s": 3},
        "risk_coverage": {"aurc": 0.2},
    }
    assert flatten(report) == {
        "overall.hit@5": 1.0,
        "type.multi.recall@5": 0.5,
        "split.heldout.hit@1": 0.25,
        "split_type.heldout.multi.hit@1": 0.0,
        "latency.ask_ms.p95": 12.0,
        "latency.stages_ms.ask.encode.p50": 1.0,
        "latency.wall_time_s": 3.0,
        "risk.aurc": 0.2,
    }
