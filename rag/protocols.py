"""The narrow seams that must stay swappable.

Each is a `typing.Protocol`: any object with these methods fits, no base class needed. Tests
swap in fakes (a hashing embedder, the NumPy in-memory store, an `httpx.MockTransport` LLM).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from rag.types import Answer, Candidate, Filters, Hit


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
    """Where the chunks' vectors and text are searched: hybrid (dense + lexical) candidates.

    Contract: `search(query, vector, k, filters)` returns `Candidate`s sorted by descending fused
    score (ties by row): the union of the k nearest chunks by inner product and the k best lexical
    matches among the chunks the filters allow, fused by weighted reciprocal rank. Every candidate
    carries its cosine with `vector`; rows are positions in the index's chunk list; a filter never
    makes it return fewer dense candidates than min(k, allowed chunks). `version` names the index
    generation whose chunks it searches.
    """

    @property
    def size(self) -> int: ...

    @property
    def version(self) -> str: ...

    def search(
        self, query: str, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[Candidate]: ...


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
