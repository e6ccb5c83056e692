"""The core value types every layer passes around.

All are small frozen dataclasses: they cross thread boundaries in the service and are cached,
so nothing may mutate them after construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Document:
    """One clean article.

    `text` is the clean body; every offset elsewhere (chunks, citations) points into it.
    """

    doc_id: str
    title: str
    text: str
    source: str
    url: str | None = None
    published: str | None = None  # ISO 8601 date (YYYY-MM-DD) or None
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: `document.text[start:end] == text`."""

    chunk_id: str  # content hash: the same passage text in the same document keeps its id
    doc_id: str
    text: str
    start: int
    end: int
    n_tokens: int


@dataclass(frozen=True)
class Sentence:
    """A sentence of a chunk, with its offsets in the document's clean text."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with the metadata a reader needs to judge it."""

    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
    score: float
    title: str
    url: str | None
    published: str | None
    source: str

    def as_dict(self) -> dict[str, Any]:
        return _passage_dict(self)


@dataclass(frozen=True)
class Candidate:
    """A chunk row a store found for a query: its fused rank score and its cosine with the query."""

    row: int
    score: float
    cosine: float


@dataclass(frozen=True)
class Citation:
    """What an `[n]` marker in an answer points at: a quoted span of one document."""

    n: int
    doc_id: str
    chunk_id: str
    title: str
    url: str | None
    published: str | None
    source: str
    text: str
    score: float
    start: int
    end: int

    @classmethod
    def from_hit(cls, n: int, hit: Hit) -> Citation:
        """A citation of a whole passage (abstentions, LLM answers)."""
        return cls(
            n=n, doc_id=hit.doc_id, chunk_id=hit.chunk_id, title=hit.title, url=hit.url, published=hit.published,
            source=hit.source, text=hit.text, score=hit.score, start=hit.start, end=hit.end,
        )

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, **_passage_dict(self)}


def followable_url(url: str | None) -> str | None:
    """The URL if a client may follow it (http or https, with a host), else None. A `javascript:` or
    `data:` URL in an archive would run in whatever page shows the citation, so it is never passed on."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return url if parts.scheme in {"http", "https"} and parts.netloc else None


def _passage_dict(passage: Hit | Citation) -> dict[str, Any]:
    """The SPEC's passage object, shared by /search hits and /ask citations."""
    return {
        "doc_id": passage.doc_id,
        "chunk_id": passage.chunk_id,
        "title": passage.title,
        "url": followable_url(passage.url),
        "published": passage.published,
        "source": passage.source,
        "text": passage.text,
        "score": round(float(passage.score), 4),
        "start": passage.start,
        "end": passage.end,
    }


@dataclass(frozen=True)
class Answer:
    """A composed answer: the SPEC's `/ask` response body, see `as_dict`."""

    question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...]
    mode: str  # "extractive" | "llm" | "extractive_fallback"
    index_version: str
    timings_ms: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    reason: str | None = None  # set when abstained (or when the LLM fell back)
    # The evidence score the abstention decision was made on (best candidate sentence).
    confidence: float | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [c.as_dict() for c in self.citations],
            "mode": self.mode,
            "index_version": self.index_version,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
        if self.reason is not None:
            body["reason"] = self.reason
        if self.confidence is not None:
            body["confidence"] = round(float(self.confidence), 4)
        return body


@dataclass(frozen=True)
class Filters:
    """Optional restrictions on what retrieval may return. Dates are ISO `YYYY-MM-DD`, inclusive."""

    published_from: str | None = None
    published_to: str | None = None
    sources: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.published_from or self.published_to or self.sources or self.doc_ids)


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[Hit, ...]
    index_version: str
    timings_ms: dict[str, float] = field(default_factory=dict, hash=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "hits": [h.as_dict() for h in self.hits],
            "index_version": self.index_version,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }
