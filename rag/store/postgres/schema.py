"""The store's tables, created once per database and checked on every open.

    rag_manifest   one row: the committed index version, its manifest and answer settings
    rag_documents  one row per document (the full record as JSON), `seq` = position in the index
    rag_chunks     offsets, text, `embedding vector(dim)` (HNSW, inner product on unit vectors) and a
                   generated `tsv` column with a GIN index on that same column
    rag_sentences  offsets and vectors of each document's sentences, for the composer
    rag_lexemes    how many chunks hold each lexeme: the lexical side's idf, recounted by each ingest
    rag_postings   (lexeme, chunk, term frequency) from each chunk's tsvector: BM25 scored by lookups

Chunks and sentences carry the sha256 of their text: re-ingest reuses a vector by it.
"""

from __future__ import annotations

import psycopg

from rag.errors import StoreUnavailableError

# pgvector 0.8 is the first with iterative index scans, without which a filtered search returns
# fewer rows than asked (pgvector #259).
MIN_PGVECTOR = (0, 8)
# HNSW build settings: recall@10 against exact at 100k MiniLM vectors is in `rag bench --store`.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64
TEXT_CONFIG = "english"
RECOUNT_LEXEMES = "INSERT INTO rag_lexemes SELECT word, ndoc FROM ts_stat('SELECT tsv FROM rag_chunks')"
# The postings of the chunks `WHERE` selects, then their lengths (in terms) from those postings.
ADD_POSTINGS = (
    "INSERT INTO rag_postings (lexeme, chunk_id, tf) SELECT u.lexeme, c.chunk_id,"
    " coalesce(array_length(u.positions, 1), 1) FROM rag_chunks c, unnest(c.tsv) AS u WHERE {where}"
)
# Only chunks without a length yet (the new ones): each sums its own postings through their index.
SET_LENGTHS = (
    "UPDATE rag_chunks c SET n_terms = coalesce((SELECT sum(p.tf) FROM rag_postings p"
    " WHERE p.chunk_id = c.chunk_id), 0) WHERE c.n_terms IS NULL"
)


def create(conn: psycopg.Connection, dim: int) -> None:
    """Create the extension and tables if missing (idempotent), then check them."""
    with conn.transaction():
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.FeatureNotSupported as exc:
            raise StoreUnavailableError(f"the pgvector extension is not installed on this server ({exc})") from None
        except psycopg.errors.UndefinedFile:
            raise StoreUnavailableError(
                "the pgvector extension is not installed on this server (scripts/postgres.sh start installs it)"
            ) from None
        except psycopg.errors.InsufficientPrivilege:
            raise StoreUnavailableError(
                "the pgvector extension is not enabled in this database and this user may not enable it"
            ) from None
        conn.execute(
            "CREATE TABLE IF NOT EXISTS rag_manifest ("
            " id boolean PRIMARY KEY DEFAULT true CHECK (id), index_version text NOT NULL,"
            " manifest jsonb NOT NULL, answer_settings jsonb NOT NULL,"
            " committed_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS rag_documents ("
            " doc_id text PRIMARY KEY, seq integer NOT NULL, record jsonb NOT NULL, record_sha text NOT NULL,"
            " source text NOT NULL, published date)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS rag_chunks ("
            " chunk_id text PRIMARY KEY,"
            " doc_id text NOT NULL REFERENCES rag_documents ON DELETE CASCADE,"
            " ord integer NOT NULL, start_offset integer NOT NULL, end_offset integer NOT NULL,"
            " n_tokens integer NOT NULL, text text NOT NULL, text_sha text NOT NULL,"
            " source text NOT NULL, published date,"
            f" embedding vector({int(dim)}) NOT NULL,"
            f" tsv tsvector GENERATED ALWAYS AS (to_tsvector('{TEXT_CONFIG}', text)) STORED, n_terms integer)"
        )
        conn.execute("ALTER TABLE rag_chunks ADD COLUMN IF NOT EXISTS n_terms integer")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS rag_sentences ("
            " doc_id text NOT NULL REFERENCES rag_documents ON DELETE CASCADE, ord integer NOT NULL,"
            " start_offset integer NOT NULL, end_offset integer NOT NULL, text_sha text NOT NULL,"
            f" embedding vector({int(dim)}) NOT NULL, PRIMARY KEY (doc_id, ord))"
        )
        conn.execute("CREATE TABLE IF NOT EXISTS rag_lexemes (word text PRIMARY KEY, ndoc integer NOT NULL)")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS rag_postings (lexeme text NOT NULL,"
            " chunk_id text NOT NULL REFERENCES rag_chunks ON DELETE CASCADE, tf integer NOT NULL,"
            " PRIMARY KEY (lexeme, chunk_id))"
        )
        conn.execute("CREATE INDEX IF NOT EXISTS rag_postings_chunk ON rag_postings (chunk_id)")
        # A term's posting list read from the index alone (with the visibility map set by VACUUM).
        conn.execute("CREATE INDEX IF NOT EXISTS rag_postings_cover ON rag_postings (lexeme) INCLUDE (chunk_id, tf)")
        create_search_indexes(conn)
        conn.execute("CREATE INDEX IF NOT EXISTS rag_chunks_doc ON rag_chunks (doc_id, ord)")
        conn.execute("CREATE INDEX IF NOT EXISTS rag_chunks_published ON rag_chunks (published)")
        conn.execute("CREATE INDEX IF NOT EXISTS rag_chunks_source ON rag_chunks (source)")
        conn.execute("CREATE INDEX IF NOT EXISTS rag_chunks_sha ON rag_chunks (text_sha)")
        conn.execute("CREATE INDEX IF NOT EXISTS rag_sentences_sha ON rag_sentences (text_sha)")
        # A database from before the lexeme counts and postings existed gets them once.
        conn.execute(RECOUNT_LEXEMES + " WHERE NOT EXISTS (SELECT 1 FROM rag_lexemes)")
        conn.execute(ADD_POSTINGS.format(where="NOT EXISTS (SELECT 1 FROM rag_postings)"))
        conn.execute(SET_LENGTHS)
    check(conn, dim)


def create_search_indexes(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE INDEX IF NOT EXISTS rag_chunks_embedding ON rag_chunks USING hnsw (embedding vector_ip_ops)"
        f" WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
    )
    # On the column itself (not an expression): the planner uses it for `tsv @@ query`.
    conn.execute("CREATE INDEX IF NOT EXISTS rag_chunks_tsv ON rag_chunks USING gin (tsv)")


def drop_search_indexes(conn: psycopg.Connection) -> None:
    """Before a bulk load into empty tables: building HNSW once is several times faster than inserting into it."""
    conn.execute("DROP INDEX IF EXISTS rag_chunks_embedding")
    conn.execute("DROP INDEX IF EXISTS rag_chunks_tsv")


def check(conn: psycopg.Connection, dim: int | None) -> None:
    """Refuse a database without pgvector >= 0.8 or whose vectors are of another dimension."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    conn.commit()
    if row is None:
        raise StoreUnavailableError("the pgvector extension is not enabled in this database")
    version = tuple(int(p) for p in str(row[0]).split(".")[:2])
    if version < MIN_PGVECTOR:
        raise StoreUnavailableError(
            f"pgvector {row[0]} is too old: filtered search needs 0.8 or newer (iterative index scans)"
        )
    if dim is None:
        return
    found = stored_dim(conn)
    if found is not None and found != dim:
        raise StoreUnavailableError(
            f"the database holds vectors of dimension {found}, but the embedder gives {dim}:"
            " use another database for this model"
        )


def stored_dim(conn: psycopg.Connection) -> int | None:
    row = conn.execute(
        "SELECT atttypmod FROM pg_attribute WHERE attrelid = to_regclass('rag_chunks') AND attname = 'embedding'"
    ).fetchone()
    conn.commit()
    return None if row is None else int(row[0])


def has_tables(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('rag_manifest') IS NOT NULL").fetchone()
    conn.commit()
    return bool(row and row[0])
