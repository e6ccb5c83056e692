"""Hybrid retrieval: dense and BM25 candidates, fused by RRF, then year preference and de-duplication."""

from __future__ import annotations

import math

import numpy as np

from rag.answer.config import AnswerConfig
from rag.retrieval.filters import allowed_rows
from rag.retrieval.fusion import reciprocal_rank_fusion
from rag.retrieval.lexical import BM25Index
from rag.store.index_files import IndexData
from rag.terms import terms
from rag.types import Filters, Hit
from rag.years import named_years


class HybridRetriever:
    def __init__(self, data: IndexData, config: AnswerConfig) -> None:
        self.data = data
        self.config = config
        self.documents = {d.doc_id: d for d in data.documents}
        self.bm25 = BM25Index([c.text for c in data.chunks])
        self._chunk_year = np.array(
            [int((self.documents[c.doc_id].published or "0")[:4]) for c in data.chunks], dtype=np.int32
        )
        self._term_sets: dict[int, frozenset[str]] = {}

    def retrieve(self, query: str, query_vector: np.ndarray, k: int, filters: Filters | None = None) -> list[Hit]:
        size = len(self.data.chunks)
        allowed = allowed_rows(filters, self.data.chunks, self.documents)
        if size == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        pool = min(max(self.config.candidate_pool, 4 * k), size)
        dense_scores, dense_ids = self.data.chunk_store.search(query_vector, pool, allowed)
        # Plain Python numbers first: iterating numpy scalars costs more than the search itself here.
        dense = {
            i: s for i, s in zip(dense_ids[0].tolist(), dense_scores[0].tolist(), strict=True) if math.isfinite(s)
        }
        _, bm25_ids = self.bm25.search(query, pool, allowed)
        fused = reciprocal_rank_fusion(
            [list(dense), [int(i) for i in bm25_ids]],
            [self.config.dense_weight, self.config.bm25_weight],
            self.config.rrf_k,
        )
        fused = self._prefer_years(query, fused)
        return self._hits(fused, dense, query_vector, k)

    def _prefer_years(self, query: str, fused: list[tuple[int, float]]) -> list[tuple[int, float]]:
        years = named_years(query)
        if not years or self.config.year_boost == 1.0:
            return fused
        boosted = [
            (row, score * (self.config.year_boost if self._chunk_year[row] in years else 1.0))
            for row, score in fused
        ]
        ranked = sorted(boosted, key=lambda pair: (-pair[1], pair[0]))
        if len(years) < 2:
            return ranked
        # "…between 2016 and 2017?": the best passage of each year asked about leads, so that one
        # year's articles cannot crowd out the other's.
        leaders: dict[int, tuple[int, float]] = {}
        for row, score in ranked:
            leaders.setdefault(int(self._chunk_year[row]), (row, score))
        first = [leaders[year] for year in sorted(years) if year in leaders]
        lead_rows = {row for row, _ in first}
        return sorted(first, key=lambda pair: (-pair[1], pair[0])) + [p for p in ranked if p[0] not in lead_rows]

    def _hits(
        self, fused: list[tuple[int, float]], dense: dict[int, float], query_vector: np.ndarray, k: int
    ) -> list[Hit]:
        hits: list[Hit] = []
        kept_terms: list[frozenset[str]] = []
        for row, _ in fused:
            row_terms = self._terms(row)
            if any(_jaccard(row_terms, other) >= self.config.duplicate_jaccard for other in kept_terms):
                continue  # the same passage again (syndicated copy): one hit is enough
            kept_terms.append(row_terms)
            hits.append(self._hit(row, dense.get(row), query_vector))
            if len(hits) == k:
                break
        return hits

    def _hit(self, row: int, dense_score: float | None, query_vector: np.ndarray) -> Hit:
        chunk = self.data.chunks[row]
        doc = self.documents[chunk.doc_id]
        if dense_score is None:  # found by BM25 only: still report its cosine similarity
            dense_score = float(np.asarray(self.data.chunk_vectors[row]) @ query_vector)
        score = dense_score if np.isfinite(dense_score) else 0.0
        return Hit(
            chunk_id=chunk.chunk_id, doc_id=chunk.doc_id, text=chunk.text, start=chunk.start, end=chunk.end,
            score=score, title=doc.title, url=doc.url, published=doc.published, source=doc.source,
        )

    def _terms(self, row: int) -> frozenset[str]:
        cached = self._term_sets.get(row)
        if cached is None:
            cached = frozenset(terms(self.data.chunks[row].text))
            self._term_sets[row] = cached
        return cached


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
