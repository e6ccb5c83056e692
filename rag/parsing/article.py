"""The intermediate every format parser produces, and its conversion to `Document`s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.parsing.clean import collapse, join_paragraphs
from rag.parsing.ids import make_doc_id, unique_keys
from rag.types import Document


@dataclass
class Article:
    title: str
    paragraphs: list[str]
    url: str | None = None
    published: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    doc_id: str | None = None  # set only where the input names its own id (JSON/JSONL)


def to_documents(articles: Sequence[Article], source: str) -> list[Document]:
    """Documents with stable ids: `make_doc_id(source, url or title)`, repeats suffixed `#2`, `#3`."""
    keys = iter(unique_keys(a.url or collapse(a.title) for a in articles if a.doc_id is None))
    docs: list[Document] = []
    for a in articles:
        doc_id = a.doc_id if a.doc_id is not None else make_doc_id(source, next(keys))
        docs.append(
            Document(
                doc_id=doc_id,
                title=collapse(a.title),
                text=join_paragraphs(a.paragraphs),
                source=source,
                url=a.url or None,
                published=a.published,
                metadata=dict(a.metadata),
            )
        )
    return docs
