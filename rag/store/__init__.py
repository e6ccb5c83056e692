"""Persistence: the FAISS vector store and the on-disk index (documents, chunks, manifest)."""
