"""Turning `Filters` into the set of chunk rows retrieval may return."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from rag.errors import QuestionError
from rag.types import Chunk, Document, Filters

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def validate_filters(filters: Filters) -> None:
    for name in ("published_from", "published_to"):
        value = getattr(filters, name)
        if value is not None and not _ISO_DATE.match(value):
            raise QuestionError(f"filters.{name} must be a date YYYY-MM-DD, got {value!r}")
    if filters.published_from and filters.published_to and filters.published_from > filters.published_to:
        raise QuestionError("filters.published_from is after filters.published_to")


def allowed_rows(filters: Filters | None, chunks: Sequence[Chunk], documents: dict[str, Document]) -> np.ndarray | None:
    """Row ids that pass the filters, or None when nothing is filtered."""
    if filters is None or filters.is_empty():
        return None
    validate_filters(filters)
    sources, doc_ids = set(filters.sources), set(filters.doc_ids)
    keep = []
    for row, chunk in enumerate(chunks):
        doc = documents[chunk.doc_id]
        if doc_ids and doc.doc_id not in doc_ids:
            continue
        if sources and doc.source not in sources:
            continue
        # A document without a date cannot be shown to fall inside a date range.
        if (filters.published_from or filters.published_to) and not doc.published:
            continue
        if filters.published_from and doc.published < filters.published_from:
            continue
        if filters.published_to and doc.published > filters.published_to:
            continue
        keep.append(row)
    return np.asarray(keep, dtype=np.int64)
