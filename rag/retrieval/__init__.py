"""Retrieval: dense (FAISS) and lexical (BM25) rankings over chunks, fused, filtered, de-duplicated."""
