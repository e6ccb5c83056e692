"""Step 5 of the reader: a quote is returned only when it sits verbatim at its offsets (fail closed)."""

from __future__ import annotations

from collections.abc import Mapping

from rag.types import Document


def is_verbatim(documents: Mapping[str, Document], doc_id: str, text: str, start: int, end: int) -> bool:
    doc = documents.get(doc_id)
    return doc is not None and bool(text.strip()) and 0 <= start < end and doc.text[start:end] == text
