"""Scoring: one `QuestionScore` per question from what the system returned, then metrics per group.

Metric definitions (see also eval/README.md):

- Retrieval (answerable questions; the `/search` hit list reduced to a document ranking):
  hit@1, hit@5, MRR@10, nDCG@10 (binary relevance: every gold document is relevant), recall@5.
- answer_accuracy (answerable): not abstained and an acceptable answer string occurs in the answer.
- citation_precision (citations of non-abstained answers to answerable questions, pooled): share of
  citations that come from a gold document *and* support one of the gold evidence strings or
  `alt_evidence` strings (span overlap ≥ half the shorter span, `metrics.spans_support`). A
  citation whose text is not in its document at all is not precise.
- evidence_recall (non-abstained answerable questions, averaged per question): share of the
  question's evidence strings that some citation supports.
- abstention_recall (unanswerable): share abstained. false_abstention_rate (answerable): share abstained.
- verbatim_rate (every citation, abstentions' included): share whose `text` equals the document's clean
  text at `[start:end]`.
- correct_rate (all questions): answerable → answer_accuracy's test; unanswerable → abstained.
- coverage (all questions): share answered (not abstained).
- evidence_hit (answered answerable): share with a citation from a gold document.
- ceiling (answerable): share whose top-k `/search` passages (k = the answer's top_k) hold an
  acceptable answer string: what a perfect reader of those passages could reach.
- reader_efficiency: answer_accuracy / ceiling.
- mean_answer_chars (answered questions): mean length of the answer text.

An answer longer than `MAX_ANSWER_CHARS` is never right: quoting whole articles is no answer.
Questions without evidence strings (benchmark sets) leave citation precision and evidence recall
unmeasured; evidence_hit judges their citations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from eval import metrics as m
from eval.questions import QUESTION_TYPES, SPLITS, Question
from eval.runner import Observation, RunResult

ANSWER_METRICS = (
    "answer_accuracy",
    "ceiling",
    "reader_efficiency",
    "evidence_hit",
    "mean_answer_chars",
    "citation_precision",
    "evidence_recall",
    "abstention_recall",
    "false_abstention_rate",
    "verbatim_rate",
    "correct_rate",
    "coverage",
)
ALL_METRICS = m.RETRIEVAL_METRICS + ANSWER_METRICS
# Metrics where a smaller value is better; compare/gate/plots need the direction.
LOWER_IS_BETTER = frozenset({"false_abstention_rate", "aurc", "mean_answer_chars"})
MAX_ANSWER_CHARS = 1200


@dataclass
class QuestionScore:
    id: str
    type: str
    split: str
    answerable: bool
    question: str
    answers: list[str] = field(default_factory=list)
    ranking: list[str] = field(default_factory=list)
    retrieval: dict[str, float] = field(default_factory=dict)
    asked: bool = False  # /ask returned a body
    abstained: bool = False
    correct: bool = False
    ok_if_answered: bool = False  # for the risk–coverage sweep: right if the threshold let it through
    confidence: float = 0.0
    n_citations: int = 0
    n_judged: int = 0  # citations counted for citation precision
    n_precise: int = 0
    evidence_total: int = 0
    evidence_covered: int = 0
    n_verbatim: int = 0
    ceiling: bool = False  # an acceptable answer is in the top-k /search passages
    evidence_hit: bool = False  # a citation comes from a gold document
    answer: str = ""
    reason: str | None = None
    search_ms: float | None = None
    ask_ms: float | None = None
    stages_ms: dict[str, float] = field(default_factory=dict)
    # One entry per citation: where it points and how it was judged (gold doc / supports / verbatim).
    citations: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evidence_spans(
    question: Question, documents: Mapping[str, str | None], strings: Sequence[str] | None = None
) -> list[list[tuple[str, tuple[int, int]]]]:
    """For each evidence string (default: the question's `evidence`), every (doc_id, span) where it
    occurs in one of the gold documents."""
    out = []
    for ev in question.evidence if strings is None else strings:
        places = []
        for doc_id in question.gold_doc_ids:
            text = documents.get(doc_id)
            if text:
                places.extend((doc_id, span) for span in m.find_all(text, ev))
        out.append(places)
    return out


def score_observation(obs: Observation, documents: Mapping[str, str | None], top_k: int = 5) -> QuestionScore:
    """Everything about one question except the ranx retrieval metrics (computed in one batch).
    `top_k`: how many `/search` passages the ceiling looks at (the answer's own top_k)."""
    q = obs.question
    s = QuestionScore(q.id, q.type, q.split, q.answerable, q.question, list(q.answers), errors=list(obs.errors))
    s.search_ms, s.ask_ms = obs.search_ms, obs.ask_ms
    if obs.search is not None:
        hits = [h for h in obs.search.get("hits") or () if isinstance(h, dict)]
        s.ranking = m.doc_ranking(hits)[:10]
        if q.answerable:
            s.ceiling = m.contains_answer(" \n ".join(str(h.get("text") or "") for h in hits[:top_k]), q.answers)
        for key, value in (obs.search.get("timings_ms") or {}).items():
            if isinstance(value, int | float):
                s.stages_ms[f"search.{key}"] = float(value)
    if obs.ask is None:
        return s  # a failed /ask scores as wrong on every answer metric it counts in
    body = obs.ask
    citations = [c for c in body.get("citations") or () if isinstance(c, dict)]
    s.asked = True
    s.abstained = bool(body.get("abstained"))
    s.answer = str(body.get("answer") or "")
    s.reason = body.get("reason")
    s.confidence = m.confidence_of(body)
    s.n_citations = len(citations)
    for key, value in (body.get("timings_ms") or {}).items():
        if isinstance(value, int | float):
            s.stages_ms[f"ask.{key}"] = float(value)
    gold = set(q.gold_doc_ids)
    for c in citations:
        doc_id = str(c.get("doc_id"))
        verbatim = m.is_verbatim(c, documents.get(doc_id))
        s.n_verbatim += int(verbatim)
        s.citations.append(
            {
                "n": c.get("n"),
                "doc_id": doc_id,
                "start": c.get("start"),
                "end": c.get("end"),
                "score": c.get("score"),
                "gold_doc": doc_id in gold,
                "supports": False,
                "verbatim": verbatim,
            }
        )
    if not q.answerable:
        s.correct = s.abstained
        return s
    answered_right = m.contains_answer(s.answer, q.answers) and len(s.answer) <= MAX_ANSWER_CHARS
    s.correct = answered_right and not s.abstained
    s.evidence_hit = not s.abstained and any(c["gold_doc"] for c in s.citations)
    # On abstention the citations are the passages the composer would have quoted: if one holds an
    # acceptable answer, a lower threshold would have produced a right answer.
    s.ok_if_answered = s.correct or (
        s.abstained and m.contains_answer(" ".join(str(c.get("text") or "") for c in citations), q.answers)
    )
    ev_places = evidence_spans(q, documents)
    alt_places = [p for places in evidence_spans(q, documents, q.alt_evidence) for p in places]
    s.evidence_total = len(ev_places)
    if s.abstained:
        return s
    if not q.evidence:
        return s
    covered = [False] * len(ev_places)
    for c, judged in zip(citations, s.citations, strict=True):
        doc_id = str(c.get("doc_id"))
        s.n_judged += 1
        span = m.citation_span(c, documents.get(doc_id)) if doc_id in gold else None
        if span is None:
            continue
        precise = any(d == doc_id and m.spans_support(span, alt) for d, alt in alt_places)
        for i, places in enumerate(ev_places):
            if any(d == doc_id and m.spans_support(span, ev_span) for d, ev_span in places):
                covered[i] = precise = True
        s.n_precise += int(precise)
        judged["supports"] = precise
    s.evidence_covered = sum(covered)
    return s


def score_run(run: RunResult, top_k: int = 5) -> list[QuestionScore]:
    scores = [score_observation(obs, run.documents, top_k) for obs in run.observations]
    qrels = {
        s.id: {d: 1 for d in obs.question.gold_doc_ids}
        for s, obs in zip(scores, run.observations, strict=True)
        if s.answerable
    }
    retrieval = m.retrieval_scores({s.id: s.ranking for s in scores}, qrels)
    for s in scores:
        s.retrieval = retrieval.get(s.id, {})
    return scores


def aggregate(scores: Sequence[QuestionScore]) -> dict[str, Any]:
    """The metric table row for a group of questions; a metric with nothing to count is None."""
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    answered_ans = [s for s in answerable if s.asked and not s.abstained]
    row: dict[str, Any] = {
        "n": len(scores),
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "n_errors": sum(1 for s in scores if s.errors),
    }
    for name in m.RETRIEVAL_METRICS:
        row[name] = m.mean(s.retrieval.get(name, 0.0) for s in answerable)
    row["answer_accuracy"] = m.mean(float(s.correct) for s in answerable)
    row["ceiling"] = m.mean(float(s.ceiling) for s in answerable)
    row["reader_efficiency"] = (
        row["answer_accuracy"] / row["ceiling"] if row["answer_accuracy"] is not None and row["ceiling"] else None
    )
    row["evidence_hit"] = m.mean(float(s.evidence_hit) for s in answered_ans)
    answered = [s for s in scores if s.asked and not s.abstained]
    row["mean_answer_chars"] = m.mean(float(len(s.answer)) for s in answered)
    judged = [s for s in answered_ans if s.evidence_total]
    row["citation_precision"] = m.ratio(sum(s.n_precise for s in judged), sum(s.n_judged for s in judged))
    row["evidence_recall"] = m.mean(s.evidence_covered / s.evidence_total for s in answered_ans if s.evidence_total)
    row["abstention_recall"] = m.mean(float(s.abstained) for s in unanswerable)
    row["false_abstention_rate"] = m.mean(float(s.abstained) for s in answerable)
    row["verbatim_rate"] = m.ratio(sum(s.n_verbatim for s in scores), sum(s.n_citations for s in scores))
    row["correct_rate"] = m.mean(float(s.correct) for s in scores)
    row["coverage"] = m.mean(float(s.asked and not s.abstained) for s in scores)
    return row


def _ordered(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    present = set(values)
    return [v for v in preferred if v in present] + sorted(present - set(preferred))


def grouped(
    scores: Sequence[QuestionScore], key: Callable[[QuestionScore], str], order: Sequence[str]
) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[QuestionScore]] = {}
    for s in scores:
        groups.setdefault(key(s), []).append(s)
    return {name: aggregate(groups[name]) for name in _ordered(groups, order)}


def metric_tables(scores: Sequence[QuestionScore]) -> dict[str, Any]:
    """overall, by type, by split, and by split × type (the held-out third reported on its own)."""
    return {
        "overall": aggregate(scores),
        "by_type": grouped(scores, lambda s: s.type, QUESTION_TYPES),
        "by_split": grouped(scores, lambda s: s.split, SPLITS),
        "by_split_type": {
            split: grouped([s for s in scores if s.split == split], lambda s: s.type, QUESTION_TYPES)
            for split in _ordered({s.split for s in scores}, SPLITS)
        },
    }


def latency_tables(scores: Sequence[QuestionScore], wall_time_s: float) -> dict[str, Any]:
    """Client-side p50/p95/p99 of /search and /ask, each stage the system reports, and wall time."""
    stages: dict[str, list[float]] = {}
    for s in scores:
        for name, value in s.stages_ms.items():
            stages.setdefault(name, []).append(value)
    return {
        "search_ms": m.percentiles([s.search_ms for s in scores if s.search_ms is not None]),
        "ask_ms": m.percentiles([s.ask_ms for s in scores if s.ask_ms is not None]),
        "stages_ms": {name: m.percentiles(values) for name, values in sorted(stages.items())},
        "wall_time_s": round(wall_time_s, 3),
    }


def risk_coverage_table(scores: Sequence[QuestionScore]) -> dict[str, Any]:
    """The abstention-threshold sweep (every question that got an /ask body), plus where the system
    actually operates (its own abstain decisions)."""
    asked = [s for s in scores if s.asked]
    points, aurc = m.risk_coverage([(s.confidence, s.answerable, s.ok_if_answered) for s in asked])
    answered = [s for s in asked if not s.abstained]
    wrong = sum(1 for s in answered if not (s.answerable and s.correct))
    return {
        "confidence": "the answer's `confidence` field when present, else its best citation score",
        "aurc": aurc,
        "operating_point": {
            "coverage": m.ratio(len(answered), len(asked)),
            "risk": m.ratio(wrong, len(answered)) if answered else 0.0,
        },
        "points": [
            {**asdict(p), "threshold": None if p.threshold == float("inf") else round(p.threshold, 6)} for p in points
        ],
    }
