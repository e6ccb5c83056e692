"""Candidate sentences and the cheap signals a learned reader scores them by.

Every sentence inside the retrieved passages is a candidate. Its features are the same at training
time (`training/reader.py`, on public QA data) and at answer time, because both call `gather`:

- similarity: the sentence's cosine with the question (vectors stored at ingest), its neighbours',
  and its margin to the best candidate;
- term overlap: the idf-weighted share of the question's terms in the sentence, in its neighbours,
  in the three together (news sentences lean on the one before for their subject), and in its
  passage and its article as a whole;
- the passage: its cosine; the sentence's place in its article (no retrieval rank: the same
  scores rerank the passages, so they must not depend on the order they came in);
- shape: length, a heading-like line, whether it holds a number or a year, how many names the
  question does not use, each also crossed with the question's interrogative (a "how many" question wants a
  number, a "who" question a new name) so the model learns answer types instead of rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer.evidence import SentenceIndex
from rag.answer.question import WH_CLASSES, ParsedQuestion
from rag.types import Hit

_SHAPES = ("has_number", "has_year", "new_names")
BASE_FEATURES = (
    "cos",
    "cos_prev",
    "cos_next",
    "cos_rel",
    "lex",
    "lex_prev",
    "lex_next",
    "lex_window",
    "lex_rel",
    "passage_lex",
    "doc_lex",
    "passage_cos",
    "doc_position",
    "log_words",
    "heading",
    *_SHAPES,
)
FEATURES = BASE_FEATURES + tuple(f"{wh}*{shape}" for wh in WH_CLASSES for shape in _SHAPES)



@dataclass(frozen=True)
class Candidates:
    """The candidates of one question, in a fixed order (passage rank, then text order)."""

    rows: tuple[int, ...]  # rows in the index's sentence list
    hits: tuple[Hit, ...]  # the passage each candidate was found in
    matrix: np.ndarray  # (len(rows), len(FEATURES)) float32
    cosines: np.ndarray  # (len(rows),) the sentence cosines alone

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, FEATURES.index(name)]


def gather(
    question: ParsedQuestion, query_vector: np.ndarray, hits: Sequence[Hit], sentences: SentenceIndex
) -> Candidates:
    rows: list[int] = []
    found_in: list[Hit] = []
    seen: set[int] = set()
    for hit in hits:
        for row in sentences.rows_within(hit.doc_id, hit.start, hit.end):
            if row not in seen:
                seen.add(row)
                rows.append(row)
                found_in.append(hit)
    if not rows:
        return Candidates((), (), np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, np.float32))
    prev = [sentences.previous(r) for r in rows]
    nxt = [sentences.following(r) for r in rows]
    vectors = sentences.data.sentence_vectors
    neighbour_rows = sorted({r for r in (*prev, *nxt) if r is not None} | set(rows))
    cos_of = dict(zip(neighbour_rows, (np.asarray(vectors[neighbour_rows]) @ query_vector).tolist(), strict=True))
    asked = {w.lower() for w in re.findall(r"\w+", question.text)}
    wh_index = WH_CLASSES.index(question.wh)
    # How well the passage, and the article, as a whole cover the question: the sentence that holds
    # the answer often shares few of its words, while its article shares many.
    passage_terms: dict[str, set[str]] = {}
    doc_terms: dict[str, set[str]] = {}
    for row, hit in zip(rows, found_in, strict=True):
        passage_terms.setdefault(hit.chunk_id, set()).update(sentences.terms(row))
        doc_terms.setdefault(hit.doc_id, set()).update(sentences.terms(row))
    passage_cover = {k: question.coverage(v) for k, v in passage_terms.items()}
    doc_cover = {k: question.coverage(v) for k, v in doc_terms.items()}

    matrix = np.zeros((len(rows), len(FEATURES)), np.float32)
    for i, row in enumerate(rows):
        text = sentences.data.sentences[row].text
        own = sentences.terms(row)
        before = sentences.terms(prev[i]) if prev[i] is not None else frozenset()
        after = sentences.terms(nxt[i]) if nxt[i] is not None else frozenset()
        has_digit, has_year, capitalised = sentences.shape(row)
        shapes = (float(has_digit), float(has_year), math.log1p(len(capitalised - asked)))
        values = [
            _finite(cos_of[row]),
            _finite(cos_of[prev[i]]) if prev[i] is not None else 0.0,
            _finite(cos_of[nxt[i]]) if nxt[i] is not None else 0.0,
            0.0,  # cos_rel, below
            question.coverage(own),
            question.coverage(before),
            question.coverage(after),
            question.coverage(own | before | after),
            0.0,  # lex_rel, below
            passage_cover[found_in[i].chunk_id],
            doc_cover[found_in[i].doc_id],
            found_in[i].score,
            1.0 / (1 + sentences.position(row)),
            math.log1p(text.count(" ") + 1),
            float(sentences.heading(row)),
            *shapes,
        ]
        matrix[i, : len(BASE_FEATURES)] = values
        crossed = len(BASE_FEATURES) + wh_index * len(_SHAPES)
        matrix[i, crossed : crossed + len(_SHAPES)] = shapes
    cos_col, lex_col = FEATURES.index("cos"), FEATURES.index("lex")
    matrix[:, FEATURES.index("cos_rel")] = matrix[:, cos_col] - matrix[:, cos_col].max()
    matrix[:, FEATURES.index("lex_rel")] = matrix[:, lex_col] - matrix[:, lex_col].max()
    return Candidates(tuple(rows), tuple(found_in), matrix, matrix[:, cos_col].copy())


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0
