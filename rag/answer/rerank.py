"""Passages reranked by their best sentence: the reader's own scorer decides which passages to read.

Hybrid retrieval fetches a wider pool (`AnswerConfig.rerank_pool`); each passage then ranks by the
highest score any of its sentences gets from the sentence scorer, ties kept in retrieval order. The
scorer's features do not depend on retrieval rank, so the same scores hold in the top-k the
composer then reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rag.answer.evidence import SentenceIndex
from rag.answer.features import gather
from rag.answer.question import parse_question
from rag.answer.scoring import SentenceScorer
from rag.types import Hit


class PassageReranker:
    def __init__(
        self,
        sentences: SentenceIndex,
        scorer: SentenceScorer,
        idf: Callable[[str], float] | None = None,
        prefer_years: bool = True,
    ) -> None:
        """`prefer_years`: keep retrieval's preference for the years a question names (passages
        from those years first; with several years, each year's best leads), reranking within it."""
        self.sentences = sentences
        self.scorer = scorer
        self.idf = idf
        self.prefer_years = prefer_years

    def rerank(self, question: str, query_vector: np.ndarray, hits: Sequence[Hit], k: int) -> list[Hit]:
        if len(hits) <= 1:
            return list(hits[:k])
        parsed = parse_question(question, self.idf)
        candidates = gather(parsed, query_vector, hits, self.sentences)
        scores = self.scorer.score(candidates)
        best: dict[str, float] = {}
        for hit, score in zip(candidates.hits, scores.tolist(), strict=True):
            best[hit.chunk_id] = max(best.get(hit.chunk_id, -np.inf), score)
        order = sorted(range(len(hits)), key=lambda i: (-best.get(hits[i].chunk_id, -np.inf), i))
        if self.prefer_years and parsed.years:
            order = _years_first(order, hits, parsed.years)
        return [hits[i] for i in order[:k]]


def _years_first(order: list[int], hits: Sequence[Hit], years: frozenset[int]) -> list[int]:
    def year(i: int) -> int | None:
        published = hits[i].published
        return int(published[:4]) if published and published[:4].isdigit() else None

    leaders = []
    for wanted in sorted(years):
        first = next((i for i in order if year(i) == wanted), None)
        if first is not None:
            leaders.append(first)
    leaders.sort(key=order.index)
    rest = [i for i in order if i not in leaders]
    return leaders + [i for i in rest if year(i) in years] + [i for i in rest if year(i) not in years]
