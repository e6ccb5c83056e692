"""Embedders: the real all-MiniLM-L6-v2 model and a hashing fake for tests."""

from __future__ import annotations

from rag.protocols import Embedder
from rag.settings import Settings


def load_embedder(settings: Settings) -> Embedder:
    """The configured real embedder. Imported lazily: torch is slow to import."""
    from rag.embedding.minilm import MiniLMEmbedder

    return MiniLMEmbedder(batch_size=settings.embed_batch_size, cache_size=settings.query_cache_size)
