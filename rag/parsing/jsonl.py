"""JSON Lines (.jsonl, one object a line) and JSON (.json, a list of objects).

Fields: `text` (required, non-empty), `id` (kept verbatim as the doc_id, as a string), `title`,
`url`, `published` (normalised to `YYYY-MM-DD`; an unparseable value is kept as
`metadata["published_raw"]` and `published` is None). Every other key, `source` included, goes to
`metadata`: the document's own `source` stays the file it came from, so pruning by file works.
Without an `id`, the id is derived like any other article's (URL, else title). Without a title,
the first line of the text (up to 80 characters) is used.

The text is the caller's own: only whitespace is normalised and unambiguous feed markers
(`]]>`, `The post … appeared first on …`) are removed; nothing else is judged boilerplate.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rag.parsing.article import Article
from rag.parsing.clean import collapse, paragraphs_from_text, remove_boilerplate
from rag.parsing.dates import to_iso_date
from rag.parsing.html import fragment_to_paragraphs

_KNOWN = ("id", "text", "title", "url", "published")


class RecordError(ValueError):
    """A bad record; `line` is its line number (JSONL) or None (JSON, where the reason says which item)."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


def _optional_str(record: dict[str, Any], key: str, where: str, line: int | None) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{where}field '{key}' must be a string, got {type(value).__name__}", line)
    return collapse(value) or None


# An inline tag (`<a href=…>`, `<p>`, `</em>`): scraped text that still holds markup.
_MARKUP = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")


def _paragraphs(text: str) -> list[str]:
    """Paragraphs of a record's text; text that holds HTML markup is read as an HTML fragment, so the
    clean body has no tags (and offsets point at words, not at `href`s)."""
    if _MARKUP.search(text):
        return [p for block in paragraphs_from_text(text) for p in fragment_to_paragraphs(block)]
    return paragraphs_from_text(text)


def _title_from(paragraph: str, limit: int = 80) -> str:
    """The opening words of the text, cut at a word boundary, for records without a title."""
    if len(paragraph) <= limit:
        return paragraph
    cut = paragraph[:limit]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def _article(record: Any, where: str, line: int | None) -> Article:
    if not isinstance(record, dict):
        raise RecordError(f"{where}expected a JSON object, got {type(record).__name__}", line)
    text = record.get("text")
    if text is None:
        raise RecordError(f"{where}missing required field 'text'", line)
    if not isinstance(text, str):
        raise RecordError(f"{where}field 'text' must be a string, got {type(text).__name__}", line)
    paragraphs = remove_boilerplate(_paragraphs(text))
    if not paragraphs:
        raise RecordError(f"{where}field 'text' is empty", line)

    raw_id = record.get("id")
    if raw_id is None:
        doc_id = None
    elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int | float):
        raise RecordError(f"{where}field 'id' must be a string or a number, got {type(raw_id).__name__}", line)
    else:
        doc_id = str(raw_id)
        if not doc_id.strip():
            raise RecordError(f"{where}field 'id' is empty", line)

    metadata = {k: v for k, v in record.items() if k not in _KNOWN}
    raw_published = record.get("published")
    published = to_iso_date(raw_published)
    if raw_published not in (None, "") and published is None:
        metadata["published_raw"] = raw_published
    title = _optional_str(record, "title", where, line) or _title_from(paragraphs[0])
    return Article(
        title=title,
        paragraphs=paragraphs,
        url=_optional_str(record, "url", where, line),
        published=published,
        metadata=metadata,
        doc_id=doc_id,
    )


def _check_unique(articles: list[Article], lines: list[int | None], labels: list[str], prefix: bool) -> None:
    first: dict[str, str] = {}
    for article, line, label in zip(articles, lines, labels, strict=True):
        if article.doc_id is None:
            continue
        if article.doc_id in first:
            where = f"{label}: " if prefix else ""
            raise RecordError(f"{where}duplicate id {article.doc_id!r} (first at {first[article.doc_id]})", line)
        first[article.doc_id] = label


def parse_jsonl(text: str) -> list[Article]:
    articles: list[Article] = []
    lines: list[int | None] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordError(f"malformed JSON: {exc.msg} (column {exc.colno})", number) from None
        articles.append(_article(record, "", number))
        lines.append(number)
    _check_unique(articles, lines, [f"line {n}" for n in lines], prefix=False)
    return articles


def parse_json(text: str) -> list[Article]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"malformed JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(data, list):
        raise RecordError(f"expected a JSON list of objects, got {type(data).__name__}")
    if not data:
        raise RecordError("the JSON list is empty")
    articles = [_article(record, f"item {i}: ", None) for i, record in enumerate(data)]
    labels = [f"item {i}" for i in range(len(articles))]
    _check_unique(articles, [None] * len(articles), labels, prefix=True)
    return articles
