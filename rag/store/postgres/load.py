"""Reading the committed version out of the database, in one consistent snapshot."""

from __future__ import annotations

import numpy as np
import psycopg

from rag.errors import IndexCorruptError, IndexMissingError, StoreUnavailableError
from rag.store.index_files import IndexData
from rag.store.postgres import schema
from rag.store.postgres.connect import connection, describe, redact, to_array
from rag.types import Chunk, Document, Sentence


def current_version(url: str) -> str | None:
    """The committed index version, or None when there is none yet."""
    with connection(url) as conn:
        if not schema.has_tables(conn):
            return None
        row = conn.execute("SELECT index_version FROM rag_manifest").fetchone()
        return None if row is None else str(row[0])


def load_version(url: str, *, expected_model: str | None = None) -> IndexData:
    """Documents, chunks, sentences and sentence vectors of the committed version.

    The chunks' vectors stay in the database (`PostgresStore` searches them there).
    """
    with connection(url) as conn:
        try:
            return _read(conn, url, expected_model)
        except psycopg.Error as exc:
            raise StoreUnavailableError(describe(exc, url)) from None


def _read(conn: psycopg.Connection, url: str, expected_model: str | None) -> IndexData:
    if not schema.has_tables(conn):
        raise IndexMissingError(f"no index in {redact(url)} (run `rag ingest` with this store first)")
    schema.check(conn, None)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with conn.transaction():
        row = conn.execute("SELECT manifest, answer_settings FROM rag_manifest").fetchone()
        if row is None:
            raise IndexMissingError(f"no index in {redact(url)} (run `rag ingest` with this store first)")
        manifest, answer_settings = row
        if expected_model is not None and manifest.get("model") != expected_model:
            raise IndexCorruptError(
                f"{redact(url)}: built with embedder {manifest.get('model')!r}, but {expected_model!r} is loaded;"
                " rebuild with `rag ingest`"
            )
        documents = [Document(**record) for (record,) in conn.execute("SELECT record FROM rag_documents ORDER BY seq")]
        by_id = {d.doc_id: d for d in documents}
        chunks = [
            Chunk(chunk_id=cid, doc_id=did, text=text, start=start, end=end, n_tokens=n)
            for cid, did, start, end, n, text in conn.execute(
                "SELECT c.chunk_id, c.doc_id, c.start_offset, c.end_offset, c.n_tokens, c.text"
                " FROM rag_chunks c JOIN rag_documents d USING (doc_id) ORDER BY d.seq, c.ord"
            )
        ]
        sentences: list[Sentence] = []
        vectors: list[np.ndarray] = []
        with conn.cursor(binary=True) as cursor:
            cursor.execute(
                "SELECT s.doc_id, s.start_offset, s.end_offset, s.embedding"
                " FROM rag_sentences s JOIN rag_documents d USING (doc_id) ORDER BY d.seq, s.ord"
            )
            for did, start, end, vector in cursor:
                sentences.append(
                    Sentence(chunk_id="", doc_id=did, text=by_id[did].text[start:end], start=start, end=end)
                )
                vectors.append(to_array(vector))
    dim = int(manifest.get("dim", 0))
    sentence_vectors = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, dim), dtype=np.float32)
    counts = manifest.get("counts", {})
    if counts and (counts.get("chunks") != len(chunks) or counts.get("sentences") != len(sentences)):
        raise IndexCorruptError(f"{redact(url)}: the tables do not hold the counts the manifest records")
    return IndexData(documents, chunks, sentences, None, None, sentence_vectors, manifest, answer_settings)
