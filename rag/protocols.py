"""The narrow seams that must stay swappable.

Each is a `typing.Protocol`: any object with these methods fits, no base class needed. Tests
swap in fakes (a hashing embedder, an in-memory store, an `httpx.MockTransport` LLM).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from rag.types import Answer, Hit


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors of a fixed dimension.

    Contract: `embed(texts)` returns an array of shape (len(texts), dim), dtype float32, each row
    of unit length (or all zeros for an empty text); the same text always gives the same vector.
    """

    name: str  # identifies model + backend settings; recorded in the index manifest
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray:
        """One query vector, shape (dim,). Implementations may cache."""
        ...


@runtime_checkable
class VectorStore(Protocol):
    """Maximum-inner-product search over row ids 0..n-1.

    Contract: `search(q, k)` returns (scores, ids), each of shape (len(q), k'), k' = min(k, n),
    sorted by descending score; ids are row numbers in insertion order; no NaN scores.
    """

    @property
    def size(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class LLMClient(Protocol):
    """An OpenAI-compatible chat completion: messages in, the assistant's text out.

    Raises `rag.errors.LLMError` on timeout, transport or protocol failure.
    """

    def complete(self, messages: Sequence[dict[str, str]], *, max_tokens: int) -> str: ...


@runtime_checkable
class AnswerComposer(Protocol):
    """Composes a cited answer from retrieved hits."""

    def compose(self, question: str, hits: Sequence[Hit], query_vector: np.ndarray) -> Answer: ...
