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
        year_boost: float = 1.0,
    ) -> None:
        """`year_boost`: retrieval's preference for the years a question names, kept here: a passage
        from such a year has its score multiplied by it, and with several years each year's best
        passage leads (1.0: no preference)."""
        self.sentences = sentences
        self.scorer = scorer
        self.idf = idf
        self.year_boost = year_boost

    def rerank(self, question: str, query_vector: np.ndarray, hits: Sequence[Hit], k: int) -> list[Hit]:
        if len(hits) <= 1:
            return list(hits[:k])
        parsed = parse_question(question, self.idf)
        candidates = gather(parsed, query_vector, hits, self.sentences)
        scores = self.scorer.score(candidates)
        best: dict[str, float] = {}
        for hit, score in zip(candidates.hits, scores.tolist(), strict=True):
            best[hit.chunk_id] = max(best.get(hit.chunk_id, -np.inf), score)
        years = parsed.years if self.year_boost != 1.0 else frozenset()

        def value(i: int) -> float:
            score = best.get(hits[i].chunk_id, -np.inf)
            return score * self.year_boost if _year(hits[i]) in years and score > 0 else score

        order = sorted(range(len(hits)), key=lambda i: (-value(i), i))
        if len(years) > 1:
            # "…in 2016 and 2017?": each year's best passage leads, so one year cannot crowd out the other.
            first: dict[int, int] = {}
            for i in order:
                year = _year(hits[i])
                if year in years:
                    first.setdefault(year, i)
            leaders = list(first.values())  # already in reranked order
            order = sorted(leaders, key=order.index) + [i for i in order if i not in leaders]
        return [hits[i] for i in order[:k]]


def _year(hit: Hit) -> int | None:
    published = hit.published
    return int(published[:4]) if published and published[:4].isdigit() else None
