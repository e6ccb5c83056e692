"""The PostgreSQL `VectorStore`: HNSW and BM25 candidates fused by reciprocal rank, in one SQL query."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from rag.answer.config import AnswerConfig
from rag.errors import StoreUnavailableError
from rag.store.index_files import IndexData
from rag.store.postgres.connect import describe, shared_pool
from rag.store.postgres.schema import TEXT_CONFIG
from rag.types import Candidate, Filters

# The lexical side is BM25 (k1 1.5, b 0.75, as bm25s) over the chunks' tsvector lexemes: idf from
# each lexeme's chunk count (`rag_lexemes`), term frequencies and chunk lengths from
# `rag_postings`, so a chunk's score is a few index lookups, not a pass over its text. Only the
# question's rarest terms take part: they carry nearly all of the idf mass, and a tsquery-sized
# term list stays far below what overflows a query (R2R #2293 lost its keyword half that way).
MAX_QUERY_TERMS = 12
# A chunk enters the lexical candidates by holding one of the question's rarest terms: terms are
# taken rarest first while the chunks holding them stay under this many (the rarest one always),
# so the chunks to score stay bounded however large the archive grows; a chunk holding only
# common words would rank below them anyway.
MAX_CANDIDATES = 2000
BM25_K1 = 1.5
BM25_B = 0.75


def filter_clause(filters: Filters | None, alias: str = "") -> tuple[sql.Composable, dict[str, Any]]:
    if filters is None or filters.is_empty():
        return sql.SQL("true"), {}
    column = (lambda name: sql.SQL(f"{alias}.{name}")) if alias else (lambda name: sql.SQL(name))
    parts: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if filters.doc_ids:
        parts.append(sql.SQL("{} = ANY(%(doc_ids)s)").format(column("doc_id")))
        params["doc_ids"] = list(filters.doc_ids)
    if filters.sources:
        parts.append(sql.SQL("{} = ANY(%(sources)s)").format(column("source")))
        params["sources"] = list(filters.sources)
    # An undated chunk fails any date bound (NULL comparisons are never true), as in the file store.
    if filters.published_from:
        parts.append(sql.SQL("{} >= %(published_from)s::date").format(column("published")))
        params["published_from"] = filters.published_from
    if filters.published_to:
        parts.append(sql.SQL("{} <= %(published_to)s::date").format(column("published")))
        params["published_to"] = filters.published_to
    return sql.SQL(" AND ").join(parts), params


_QUERY = """
WITH dense AS MATERIALIZED (
    SELECT chunk_id, embedding <#> %(vector)s AS distance FROM rag_chunks
    WHERE {where} ORDER BY embedding <#> %(vector)s LIMIT %(k)s
), dense_ranked AS (
    SELECT chunk_id, -distance AS cosine, row_number() OVER (ORDER BY distance, chunk_id) AS rank FROM dense
), terms AS MATERIALIZED (
    SELECT word, idf, coalesce(sum(ndoc) OVER (ORDER BY ndoc, word ROWS BETWEEN UNBOUNDED PRECEDING
                                               AND 1 PRECEDING), 0) < %(max_candidates)s AS rare
    FROM (
        SELECT l.word, l.ndoc, ln((%(size)s - l.ndoc + 0.5) / (l.ndoc + 0.5) + 1)::float8 AS idf
        FROM (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector({config}, %(text)s))) AS word) AS w
        JOIN rag_lexemes l USING (word) ORDER BY idf DESC, l.word LIMIT %(terms)s
    ) AS picked
), candidates AS MATERIALIZED (
    -- The GIN index on tsv finds the chunks holding a rare term (the filters apply here).
    SELECT c.chunk_id, c.n_terms FROM rag_chunks c
    WHERE c.tsv @@ (SELECT string_agg(quote_literal(t.word), ' | ')::tsquery FROM terms t WHERE t.rare)
      AND {where_c}
), lexical AS (
    -- Each term's posting list once (an index range), joined to the candidates by hash.
    SELECT p.chunk_id, row_number() OVER (ORDER BY sum(
               t.idf * p.tf * (%(k1)s + 1)
               / (p.tf + %(k1)s * (1 - %(b)s + %(b)s * coalesce(k.n_terms, 0) / %(avg_terms)s))
           ) DESC, p.chunk_id) AS rank
    FROM terms t JOIN rag_postings p ON p.lexeme = t.word JOIN candidates k ON k.chunk_id = p.chunk_id
    GROUP BY p.chunk_id ORDER BY rank LIMIT %(k)s
)
SELECT c.chunk_id,
       coalesce(%(dense_weight)s / (%(rrf_k)s + d.rank), 0)
         + coalesce(%(lexical_weight)s / (%(rrf_k)s + l.rank), 0) AS score,
       coalesce(d.cosine, -(c.embedding <#> %(vector)s)) AS cosine
FROM dense_ranked d FULL JOIN lexical l USING (chunk_id) JOIN rag_chunks c USING (chunk_id)
"""


class PostgresStore:
    """Searches the database's chunks; `rows` maps the loaded version's chunk ids to row numbers.

    Between an ingest's commit and this process loading the new version, the database may return
    chunks the loaded version lacks: they are left out (the service switches within its poll interval).
    """

    def __init__(
        self,
        pool: ConnectionPool,
        url: str,
        rows: Mapping[str, int],
        version: str,
        weights: tuple[float, float] = (1.0, 1.0),
        rrf_k: int = 60,
        avg_terms: float = 1.0,
    ) -> None:
        self.pool = pool
        self.avg_terms = max(1.0, avg_terms)  # BM25's average chunk length, in terms
        self.url = url
        self.rows = dict(rows)
        self._version = version
        self.weights = weights
        self.rrf_k = rrf_k

    @classmethod
    def for_index(cls, url: str, data: IndexData, config: AnswerConfig, connections: int) -> PostgresStore:
        """The store for a loaded version, on this process's shared pool for `url`."""
        rows = {c.chunk_id: i for i, c in enumerate(data.chunks)}
        weights = (config.dense_weight, config.bm25_weight)
        pool = shared_pool(url, connections)
        try:
            with pool.connection() as conn:
                (avg_terms,) = conn.execute("SELECT coalesce(avg(n_terms), 1) FROM rag_chunks").fetchone()
        except psycopg.Error as exc:
            raise StoreUnavailableError(describe(exc, url)) from None
        return cls(pool, url, rows, data.version, weights, config.rrf_k, float(avg_terms))

    @property
    def size(self) -> int:
        return len(self.rows)

    @property
    def version(self) -> str:
        return self._version

    def search(self, query: str, vector: np.ndarray, k: int, filters: Filters | None = None) -> list[Candidate]:
        if k <= 0 or not self.rows:
            return []
        where, params = filter_clause(filters)
        where_c, _ = filter_clause(filters, alias="c")
        statement = sql.SQL(_QUERY).format(where=where, where_c=where_c, config=sql.Literal(TEXT_CONFIG))
        params |= {
            "vector": np.asarray(vector, dtype=np.float32), "k": int(k), "text": query,
            "size": len(self.rows), "terms": MAX_QUERY_TERMS, "max_candidates": MAX_CANDIDATES,
            "k1": BM25_K1, "b": BM25_B, "avg_terms": self.avg_terms,
            "dense_weight": float(self.weights[0]), "lexical_weight": float(self.weights[1]), "rrf_k": int(self.rrf_k),
        }
        try:
            with self.pool.connection() as conn:
                # Binary parameters: the query vector is sent as 1.5 KB of floats, not formatted as text.
                found = conn.execute(statement, params, binary=True).fetchall()
        except psycopg.Error as exc:
            raise StoreUnavailableError(describe(exc, self.url)) from None
        out = [Candidate(self.rows[cid], float(score), float(cos)) for cid, score, cos in found if cid in self.rows]
        out.sort(key=lambda c: (-c.score, c.row))
        return out
