"""Step 4b of the reader: which sentences to quote, and with how much context.

The best-scored sentence is always quoted. When the sentence before it covers more of the
question than it does (news sentences lean on their predecessor for the subject: "Storm Ciaran
reached Cornwall on Thursday. Gusts of 100 mph were recorded."), the two are quoted together as
one citation. Further quotes are other facts: a candidate within `further_ratio` of the best score,
not next to or a near-repeat of a quote already taken, while the answer stays within its budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.answer.evidence import SentenceIndex
from rag.answer.features import Candidates

# Two quotes whose sentence vectors are this close say the same thing: the second adds nothing.
NEAR_REPEAT = 0.9


@dataclass(frozen=True)
class SelectionConfig:
    max_quotes: int = 3
    further_ratio: float = 0.8
    max_answer_chars: int = 600
    context_sentence: bool = True


@dataclass(frozen=True)
class Quote:
    rows: tuple[int, ...]  # consecutive sentences of one document, in text order
    candidate: int  # index of the scored candidate it was chosen for
    score: float


def select(
    candidates: Candidates, scores: np.ndarray, allowed: np.ndarray, sentences: SentenceIndex, config: SelectionConfig
) -> list[Quote]:
    """Quotes in the order they should be read; empty when no candidate is allowed."""
    order = [int(i) for i in np.argsort(-scores, kind="stable") if allowed[i]]
    if not order:
        return []
    best = order[0]
    quotes = [Quote(_with_context(candidates, best, sentences, config), best, float(scores[best]))]
    used = set(quotes[0].rows)
    chars = _chars(quotes[0].rows, sentences)
    vectors = sentences.data.sentence_vectors
    floor = float(scores[best]) * config.further_ratio
    for i in order[1:]:
        if len(quotes) >= config.max_quotes or scores[i] < floor:
            break
        row = candidates.rows[i]
        if row in used or (row - 1) in used or (row + 1) in used:
            continue
        if max(float(np.asarray(vectors[row]) @ np.asarray(vectors[r])) for r in used) > NEAR_REPEAT:
            continue
        length = _chars((row,), sentences)
        if chars + length > config.max_answer_chars:
            continue
        quotes.append(Quote((row,), i, float(scores[i])))
        used.add(row)
        chars += length
    return quotes


def _with_context(candidates: Candidates, i: int, sentences: SentenceIndex, config: SelectionConfig) -> tuple[int, ...]:
    row = candidates.rows[i]
    previous = sentences.previous(row)
    if not config.context_sentence or previous is None:
        return (row,)
    if candidates.column("lex_prev")[i] > candidates.column("lex")[i]:
        both = (previous, row)
        if _chars(both, sentences) <= config.max_answer_chars:
            return both
    return (row,)


def _chars(rows: tuple[int, ...], sentences: SentenceIndex) -> int:
    first, last = sentences.data.sentences[rows[0]], sentences.data.sentences[rows[-1]]
    return last.end - first.start
