"""Step 4 of the reader: answer, or say plainly that the documents do not, with a reason code.

- `no_relevant_passage`: nothing was retrieved, or the question names something no document
  mentions (`names.unknown_names`), or it names a year no candidate speaks of.
- `low_support`: the answerability model (trained on SQuAD 2.0's unanswerable questions and the
  other public QA sets) gives the best quote too low a chance of answering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer.evidence import SentenceIndex
from rag.answer.features import Candidates
from rag.answer.names import Vocabulary, unknown_names
from rag.answer.question import ParsedQuestion
from rag.answer.reader_model import LinearModel
from rag.types import Answer, Citation, Hit

ABSTAIN_TEXT = "The indexed documents do not answer this question."


def abstention_answer(
    question: str,
    hits: Sequence[Hit],
    reason: str,
    mode: str,
    index_version: str,
    confidence: float = 0.0,
    missing_names: Sequence[str] = (),
) -> Answer:
    """Say plainly that the documents do not answer (and which names they never mention); offer
    the closest passages, if any, for the reader to check. Every composer abstains this way."""
    citations = tuple(Citation.from_hit(n, h) for n, h in enumerate(hits[:3], start=1))
    text = ABSTAIN_TEXT
    if missing_names:
        quoted = [f"“{name.rstrip('.’')}”" for name in dict.fromkeys(missing_names)]
        names = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        text = f"{text[:-1]}: they never mention {names}."
    if citations:
        text += f" The closest passages, for you to check: {', '.join(f'[{c.n}]' for c in citations)}."
    return Answer(question, text, True, citations, mode, index_version, reason=reason, confidence=confidence)


@dataclass(frozen=True)
class QuestionSignals:
    """What the retrieved passages as a whole say about the question."""

    unknown: tuple[str, ...]  # names the index never mentions
    unknown_share: float  # of the question's names
    coverage: float  # weighted share of the question's terms anywhere in the candidates


def question_signals(
    question: ParsedQuestion, candidates: Candidates, sentences: SentenceIndex, vocabulary: Vocabulary | None
) -> QuestionSignals:
    unknown = tuple(unknown_names(question.text, vocabulary)) if vocabulary is not None else ()
    found: set[str] = set()
    for row in candidates.rows:
        found |= sentences.terms(row)
    share = len(unknown) / len(question.names) if question.names else 0.0
    return QuestionSignals(unknown, min(share, 1.0), question.coverage(found))


def answerability_features(probs: np.ndarray, candidates: Candidates, signals: QuestionSignals) -> list[float]:
    """`reader_model.ANSWERABILITY_FEATURES` of one question, from its candidates' probabilities."""
    if len(candidates) == 0:
        return [0.0] * 7 + [signals.coverage, signals.unknown_share]
    order = np.argsort(-probs, kind="stable")
    best = int(order[0])
    p1 = float(probs[best])
    p2 = float(probs[order[1]]) if len(order) > 1 else 0.0
    return [
        p1,
        p2,
        p1 - p2,
        float(candidates.column("cos")[best]),
        float(candidates.column("lex")[best]),
        float(candidates.column("lex_window")[best]),
        float(candidates.column("passage_cos").max()),
        signals.coverage,
        signals.unknown_share,
    ]


@dataclass(frozen=True)
class Decision:
    abstain: bool
    reason: str | None
    confidence: float
    missing_names: tuple[str, ...] = ()


class LearnedAbstainer:
    """Abstains when the answerability model's probability is below its threshold."""

    def __init__(self, model: LinearModel, threshold: float) -> None:
        self.model = model
        self.threshold = threshold

    def confidence(self, probs: np.ndarray, candidates: Candidates, signals: QuestionSignals) -> float:
        x = np.array([answerability_features(probs, candidates, signals)])
        return float(self.model.probabilities(x)[0])

    def decide(self, probs: np.ndarray, candidates: Candidates, signals: QuestionSignals) -> Decision:
        confidence = self.confidence(probs, candidates, signals)
        if confidence < self.threshold:
            return Decision(True, "low_support", confidence)
        return Decision(False, None, confidence)
