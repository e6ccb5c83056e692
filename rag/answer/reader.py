"""The default composer: a short pipeline of general steps, each a module of its own.

    question.parse_question   the question, parsed once
    features.gather           candidate sentences of the retrieved passages, with their features
    scoring                   a score per candidate (the learned scorer by default)
    abstention                answer or abstain, with a reason code
    selection                 which sentences to quote, with their context
    verbatim                  each quote checked at its offsets (fail closed)

Every quote is followed by its `[n]`; an abstention offers the nearest passages for the reader to
check. `AnswerConfig` switches each step (and each remaining rule) so `rag eval --ablate` can
measure what it is worth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rag.answer.abstention import LearnedAbstainer, abstention_answer, question_signals
from rag.answer.config import AnswerConfig
from rag.answer.evidence import SentenceIndex
from rag.answer.features import Candidates, gather
from rag.answer.names import Vocabulary
from rag.answer.question import ParsedQuestion, parse_question
from rag.answer.reader_model import ReaderModel
from rag.answer.scoring import CosineScorer, LearnedScorer, RandomScorer, SentenceScorer
from rag.answer.selection import SelectionConfig, select
from rag.answer.verbatim import is_verbatim
from rag.errors import ConfigError
from rag.types import Answer, Citation, Document, Hit
from rag.years import speaks_of

# The composers `AnswerConfig.reader` names: this pipeline with each scorer, or the earlier rules.
READERS = ("learned", "cosine", "random", "rules")


class ReaderComposer:
    mode = "extractive"

    def __init__(
        self,
        sentences: SentenceIndex,
        documents: dict[str, Document],
        config: AnswerConfig,
        index_version: str,
        model: ReaderModel,
        idf: Callable[[str], float] | None = None,
        vocabulary: Vocabulary | None = None,
        scorer: SentenceScorer | None = None,
    ) -> None:
        self.sentences = sentences
        self.documents = documents
        self.config = config
        self.index_version = index_version
        self.idf = idf
        self.vocabulary = vocabulary
        self.learned = LearnedScorer(model.scorer)
        self.scorer = scorer or _scorer(config.reader, self.learned)
        threshold = model.threshold if config.answerability_threshold is None else config.answerability_threshold
        self.abstainer = LearnedAbstainer(model.answerability, threshold)
        self.selection = SelectionConfig(
            max_quotes=config.max_sentences,
            further_ratio=config.further_ratio,
            max_answer_chars=config.max_answer_chars,
            context_sentence=config.context_sentence,
        )

    def compose(self, question: str, hits: Sequence[Hit], query_vector: np.ndarray) -> Answer:
        if not hits:
            return self.abstain(question, hits, "no_relevant_passage")
        parsed = parse_question(question, self.idf)
        candidates = gather(parsed, query_vector, hits, self.sentences)
        vocabulary = self.vocabulary if self.config.require_known_names else None
        signals = question_signals(parsed, candidates, self.sentences, vocabulary)
        if signals.unknown:
            return self.abstain(question, hits, "no_relevant_passage", missing_names=signals.unknown)
        allowed = self._quotable(parsed, candidates)
        if not allowed.any():
            return self.abstain(question, hits, "no_relevant_passage")
        probs = self.learned.score(candidates)
        scores = probs if self.scorer is self.learned else self.scorer.score(candidates)
        decision = self.abstainer.decide(probs, candidates, signals)
        if decision.abstain and self.config.use_answerability:
            return self.abstain(question, hits, "low_support", decision.confidence)
        quotes = select(candidates, scores, allowed, self.sentences, self.selection)
        citations = []
        for quote in quotes:
            citation = self._citation(len(citations) + 1, candidates.hits[quote.candidate], quote.rows, quote.score)
            if citation is not None:
                citations.append(citation)
        if not citations:
            return self.abstain(question, hits, "low_support", decision.confidence)
        text = " ".join(f"{' '.join(c.text.split())} [{c.n}]" for c in citations)
        return Answer(
            question, text, False, tuple(citations), self.mode, self.index_version, confidence=decision.confidence
        )

    def _quotable(self, question: ParsedQuestion, candidates: Candidates) -> np.ndarray:
        # A sentence that instructs a model (a planted instruction) is never an answer.
        allowed = np.array([not self.sentences.instructs(row) for row in candidates.rows], dtype=bool)
        if self.config.skip_headings:
            allowed &= candidates.column("heading") == 0
        if self.config.require_asked_year and question.years:
            # A question about a year is answered from sentences about that year or not at all.
            for i, (row, hit) in enumerate(zip(candidates.rows, candidates.hits, strict=True)):
                if allowed[i]:
                    allowed[i] = speaks_of(self.sentences.data.sentences[row].text, hit.published, question.years)
        return allowed

    def _citation(self, n: int, hit: Hit, rows: tuple[int, ...], score: float) -> Citation | None:
        parts = [self.sentences.data.sentences[r] for r in rows]
        doc_id = parts[0].doc_id
        if not all(is_verbatim(self.documents, doc_id, s.text, s.start, s.end) for s in parts):
            return None
        start, end = parts[0].start, parts[-1].end
        return Citation(
            n=n, doc_id=doc_id, chunk_id=hit.chunk_id, title=hit.title, url=hit.url, published=hit.published,
            source=hit.source, text=self.documents[doc_id].text[start:end], score=score, start=start, end=end,
        )

    def abstain(
        self,
        question: str,
        hits: Sequence[Hit],
        reason: str,
        confidence: float = 0.0,
        missing_names: Sequence[str] = (),
    ) -> Answer:
        return abstention_answer(question, hits, reason, self.mode, self.index_version, confidence, missing_names)

def check_reader(reader: str) -> None:
    if reader not in READERS:
        raise ConfigError(f"unknown reader {reader!r} (one of: {', '.join(READERS)})")


def _scorer(reader: str, learned: LearnedScorer) -> SentenceScorer:
    check_reader(reader)
    if reader == "cosine":
        return CosineScorer()
    if reader == "random":
        return RandomScorer()
    return learned  # "learned" (and "rules", which composes elsewhere but may use this pipeline's parts)
