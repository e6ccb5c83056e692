"""A tiny deterministic embedder for fast tests: hashed bag of words, L2-normalized.

Texts sharing words get similar vectors, so retrieval over it behaves sensibly enough for
tests of the plumbing, at no model cost.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"fake-hashing-{dim}"
        self.calls = 0  # texts embedded so far; tests use it to prove no work was done

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self._vector(text)
        return out

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dim
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = np.linalg.norm(vector)
        return vector / norm if norm > 0 else vector

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


class PoolingHashingEmbedder(HashingEmbedder):
    """A `HashingEmbedder` that also pools span vectors from a text's own pass (`embed_with_spans`,
    as the ONNX embedder does): a span's vector mixes its words with the whole text's, so a vector
    made in context can be told from the span embedded alone."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.name = f"fake-pooling-{dim}"

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        vectors = self.embed(texts)
        pooled: list[list[np.ndarray | None]] = []
        for text, vector, rows in zip(texts, vectors, spans, strict=True):
            out: list[np.ndarray | None] = []
            for start, end in rows:
                mixed = self._vector(text[start:end]) + 0.5 * vector
                norm = float(np.linalg.norm(mixed))
                out.append((mixed / norm).astype(np.float32) if norm > 0 else None)
            pooled.append(out)
        return vectors, pooled
