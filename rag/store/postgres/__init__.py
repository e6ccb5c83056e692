"""The PostgreSQL store: documents, chunks, sentences and their vectors (pgvector) in one database.

Many `rag serve` processes answer from one database; `rag ingest` writes a new version in one
transaction. `schema` creates and checks the tables, `search` is the `VectorStore`, `load` reads a
version for the engine, `write` is the ingest side.
"""
