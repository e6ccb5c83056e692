"""Embedders: the real all-MiniLM-L6-v2 model (ONNX Runtime or torch) and a hashing fake for tests."""

from __future__ import annotations

import importlib.util

from rag.errors import ConfigError
from rag.protocols import Embedder
from rag.settings import Settings


def onnxruntime_available() -> bool:
    # find_spec, not import: answering "is it there?" should not cost the ~0.2 s import.
    try:
        return importlib.util.find_spec("onnxruntime") is not None
    except (ImportError, ValueError):
        return False


def load_embedder(settings: Settings) -> Embedder:
    """The configured real embedder; nothing heavy is imported or loaded until the first embed.

    "onnx": ONNX Runtime (the model is exported once and cached in `<index_dir>/models`);
    "onnx-int8": the same, int8-quantized (a different model name, so an index never mixes them);
    with "onnx", `RAG_QUERY_ENCODER=int8` (the default) encodes queries only with the int8 model;
    "torch": sentence-transformers on torch; "auto": ONNX when onnxruntime is installed, else torch.
    Both real backends give the same vectors under the same name, so either can read the other's index.
    """
    choice = settings.embedder
    if choice == "auto":
        choice = "onnx" if onnxruntime_available() else "torch"
    if choice in {"onnx", "onnx-int8"}:
        if not onnxruntime_available():
            raise ConfigError(f"RAG_EMBEDDER={settings.embedder} needs onnxruntime, which is not installed")
        from rag.embedding.onnx_minilm import OnnxMiniLMEmbedder

        return OnnxMiniLMEmbedder(
            settings.index_dir / "models",
            quantized=choice == "onnx-int8",
            query_quantized=settings.query_encoder == "int8",
            cache_size=settings.query_cache_size,
        )
    if choice == "torch":
        from rag.embedding.minilm import MiniLMEmbedder

        return MiniLMEmbedder(batch_size=settings.embed_batch_size, cache_size=settings.query_cache_size)
    raise ConfigError(f"unknown embedder {settings.embedder!r}: use auto, onnx, onnx-int8 or torch")
