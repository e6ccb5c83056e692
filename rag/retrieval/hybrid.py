"""Hybrid retrieval: a store's fused dense + lexical candidates, then year preference and de-duplication."""

from __future__ import annotations

import numpy as np

from rag.answer.config import AnswerConfig
from rag.protocols import VectorStore
from rag.retrieval.filters import validate_filters
from rag.retrieval.lexical import BM25Index
from rag.store.in_process import InProcessStore
from rag.store.index_files import IndexData
from rag.terms import terms
from rag.types import Filters, Hit
from rag.years import named_years


class HybridRetriever:
    def __init__(self, data: IndexData, config: AnswerConfig, store: VectorStore | None = None) -> None:
        """`store`: where chunks are searched; by default the index folder's FAISS index and bm25s."""
        self.data = data
        self.config = config
        self.documents = {d.doc_id: d for d in data.documents}
        # Built here for either store: the composer reads its idf and vocabulary.
        self.bm25 = BM25Index([c.text for c in data.chunks])
        if store is None:
            if data.chunk_store is None or data.chunk_vectors is None:
                raise ValueError("an index without its own vectors needs a store")
            store = InProcessStore(
                data.chunk_store, data.chunk_vectors, self.bm25, data.chunks, self.documents, data.version,
                (config.dense_weight, config.bm25_weight), config.rrf_k,
            )
        self.store = store
        self._chunk_year = np.array(
            [int((self.documents[c.doc_id].published or "0")[:4]) for c in data.chunks], dtype=np.int32
        )
        self._term_sets: dict[int, frozenset[str]] = {}

    def retrieve(self, query: str, query_vector: np.ndarray, k: int, filters: Filters | None = None) -> list[Hit]:
        size = len(self.data.chunks)
        if filters is not None and not filters.is_empty():
            validate_filters(filters)
        if size == 0 or k <= 0:
            return []
        pool = min(max(self.config.candidate_pool, 4 * k), size)
        candidates = [c for c in self.store.search(query, query_vector, pool, filters) if c.row < size]
        fused = self._prefer_years(query, [(c.row, c.score) for c in candidates])
        return self._hits(fused, {c.row: c.cosine for c in candidates}, k)

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

    def _hits(self, fused: list[tuple[int, float]], cosines: dict[int, float], k: int) -> list[Hit]:
        hits: list[Hit] = []
        kept_terms: list[frozenset[str]] = []
        for row, _ in fused:
            row_terms = self._terms(row)
            if any(_jaccard(row_terms, other) >= self.config.duplicate_jaccard for other in kept_terms):
                continue  # the same passage again (syndicated copy): one hit is enough
            kept_terms.append(row_terms)
            hits.append(self._hit(row, cosines[row]))
            if len(hits) == k:
                break
        return hits

    def _hit(self, row: int, score: float) -> Hit:
        chunk = self.data.chunks[row]
        doc = self.documents[chunk.doc_id]
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
