"""Candidate sentences for an answer and their evidence scores.

Sentence vectors were computed at ingest, so scoring a question costs one matrix-vector product
over the sentences inside the retrieved passages, plus a term overlap.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer.answer_type import sentence_kinds
from rag.answer.config import AnswerConfig
from rag.answer.instructions import addresses_a_model
from rag.store.index_files import IndexData
from rag.terms import terms
from rag.types import Hit, Sentence

_SENTENCE_END = ("." , "!", "?", "…", '"', "”", "’", "'", ")")


# Where an article says it came from: never an answer, however many of the question's words its
# quoted title repeats.
_SYNDICATION = re.compile(
    r"^\W*(this (article|story|post|piece) (was|is|has been) (originally |first )?(published|posted)|"
    r"(originally|first) (published|posted)|(source|read more|related|related articles?|see also)\s*:)",
    re.IGNORECASE,
)


_DIGIT = re.compile(r"\d")
_YEAR = re.compile(r"\b(1[6-9]\d\d|20\d\d)\b")
# A capitalised word not at the start of the sentence: a name, most often.
_CAPITALISED = re.compile(r"(?<=[\s(“\"‘'/-])[A-Z][\w&’'-]+")

# Words from which an unpunctuated line is a standfirst or caption rather than a headline.
_DECK_WORDS = 16


def _unpunctuated(text: str) -> bool:
    return not text.rstrip().endswith(_SENTENCE_END)


def is_heading_like(text: str) -> bool:
    """A short line without closing punctuation (a headline or subheading) or a syndication note:
    not a statement."""
    if _SYNDICATION.match(text):
        return True
    return _unpunctuated(text) and len(text.split()) < _DECK_WORDS


def is_deck(text: str) -> bool:
    """A long line without closing punctuation: the standfirst under a headline or a caption, not a
    statement."""
    return _unpunctuated(text) and len(text.split()) >= _DECK_WORDS


@dataclass(frozen=True)
class Candidate:
    row: int  # row in the index's sentence list / vector matrix
    sentence: Sentence
    hit: Hit  # the passage it was found in
    score: float  # evidence score used for selection and abstention
    cosine: float
    heading: bool  # headings support retrieval but are not quoted as answers
    deck: bool  # standfirsts and captions are quoted only for a figure (`ExtractiveComposer`)


class SentenceIndex:
    """Sentences of each document in order, found by offset range."""

    def __init__(self, data: IndexData) -> None:
        self.data = data
        self._rows: dict[str, list[int]] = {}
        self._starts: dict[str, list[int]] = {}
        self._terms: dict[int, frozenset[str]] = {}
        self._kinds: dict[int, frozenset[str]] = {}
        self._shapes: dict[int, tuple[bool, bool, frozenset[str]]] = {}
        self._headings: dict[int, bool] = {}
        self._instructs: dict[int, bool] = {}
        for row, sentence in enumerate(data.sentences):
            self._rows.setdefault(sentence.doc_id, []).append(row)
            self._starts.setdefault(sentence.doc_id, []).append(sentence.start)

    def terms(self, row: int) -> frozenset[str]:
        """Content terms of a sentence, computed once (on first use: queries touch few sentences)."""
        cached = self._terms.get(row)
        if cached is None:
            cached = self._terms[row] = frozenset(terms(self.data.sentences[row].text))
        return cached

    def previous(self, row: int) -> int | None:
        """The row of the sentence before this one in the same document, if any."""
        if row <= 0 or self.data.sentences[row - 1].doc_id != self.data.sentences[row].doc_id:
            return None
        return row - 1

    def following(self, row: int) -> int | None:
        """The row of the sentence after this one in the same document, if any."""
        sentences = self.data.sentences
        if row + 1 >= len(sentences) or sentences[row + 1].doc_id != sentences[row].doc_id:
            return None
        return row + 1

    def position(self, row: int) -> int:
        """How many sentences of its document come before this one."""
        return row - self._rows[self.data.sentences[row].doc_id][0]

    def terms_with_preceding(self, row: int, count: int) -> frozenset[str]:
        """Terms of a sentence and the `count` sentences before it in the same document."""
        collected = self.terms(row)
        for _ in range(count):
            previous = self.previous(row)
            if previous is None:
                break
            collected |= self.terms(previous)
            row = previous
        return collected

    def instructs(self, row: int) -> bool:
        """Whether the sentence instructs a model or its reader (`instructions.addresses_a_model`): a
        planted instruction, never quoted nor counted as support. Computed once."""
        cached = self._instructs.get(row)
        if cached is None:
            cached = self._instructs[row] = addresses_a_model(self.data.sentences[row].text)
        return cached

    def heading(self, row: int) -> bool:
        """Whether the sentence is a heading-like line (`is_heading_like`), computed once."""
        cached = self._headings.get(row)
        if cached is None:
            cached = self._headings[row] = is_heading_like(self.data.sentences[row].text)
        return cached

    def shape(self, row: int) -> tuple[bool, bool, frozenset[str]]:
        """(holds a digit, holds a year, its capitalised words lower-cased), computed once."""
        cached = self._shapes.get(row)
        if cached is None:
            text = self.data.sentences[row].text
            cached = self._shapes[row] = (
                bool(_DIGIT.search(text)),
                bool(_YEAR.search(text)),
                frozenset(w.lower() for w in _CAPITALISED.findall(text)),
            )
        return cached

    def kinds(self, row: int) -> frozenset[str]:
        """Kinds of answer a sentence holds (`answer_type.sentence_kinds`), computed once."""
        cached = self._kinds.get(row)
        if cached is None:
            cached = self._kinds[row] = sentence_kinds(self.data.sentences[row].text)
        return cached

    def rows_within(self, doc_id: str, start: int, end: int) -> list[int]:
        starts = self._starts.get(doc_id, [])
        rows = self._rows.get(doc_id, [])
        first = bisect.bisect_left(starts, start)
        out = []
        for i in range(first, len(rows)):
            sentence = self.data.sentences[rows[i]]
            if sentence.start >= end:
                break
            if sentence.end <= end:
                out.append(rows[i])
        return out


def score_candidates(
    question: str,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    sentences: SentenceIndex,
    config: AnswerConfig,
    idf: Callable[[str], float] | None = None,
    *,
    kind: str | None,
) -> list[Candidate]:
    """Every sentence inside the hits, scored, best first (each sentence once).

    Term overlap is the share of the question's terms a sentence contains, each weighted by `idf`
    (the engine passes BM25's, so rare, specific words count for more); unweighted without it.
    A `config.context_weight` part of it is counted over the sentence and the one before it.
    `kind` is what the question asks for (`answer_type.expected_type`, read once by the caller):
    sentences holding it get `config.answer_type_bonus`.
    """
    seen: dict[int, Hit] = {}
    for hit in hits:
        for row in sentences.rows_within(hit.doc_id, hit.start, hit.end):
            seen.setdefault(row, hit)
    if not seen:
        return []
    rows = list(seen)
    cosines = np.asarray(sentences.data.sentence_vectors[rows]) @ query_vector
    weights = {t: (idf(t) if idf else 1.0) for t in set(terms(question))}
    total_weight = sum(weights.values())
    candidates = []
    for row, cosine in zip(rows, cosines, strict=True):
        sentence = sentences.data.sentences[row]
        sentence_terms = sentences.terms(row)
        own = sum(w for t, w in weights.items() if t in sentence_terms)
        overlap = own / total_weight if total_weight else 0.0
        if config.context_weight and total_weight:
            previous = sentences.previous(row)
            if previous is not None:
                previous_terms = sentences.terms(previous)
                borrowed = sum(w for t, w in weights.items() if t not in sentence_terms and t in previous_terms)
                overlap += config.context_weight * borrowed / total_weight
        cosine = float(cosine) if np.isfinite(cosine) else 0.0
        passage = seen[row].score
        score = (
            (1 - config.lexical_weight - config.passage_weight) * cosine
            + config.lexical_weight * overlap
            + config.passage_weight * passage
        )
        if config.answer_type_bonus and kind in sentences.kinds(row):
            score += config.answer_type_bonus
        candidates.append(
            Candidate(
                row, sentence, seen[row], score, cosine, is_heading_like(sentence.text), is_deck(sentence.text)
            )
        )
    candidates.sort(key=lambda c: (-c.score, c.row))
    return candidates
