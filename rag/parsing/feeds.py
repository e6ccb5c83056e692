"""RSS and Atom feeds (.xml/.rss/.atom) via feedparser: one article per entry.

- text: the entry's full content (`content:encoded` / Atom `content`, the longest if several), else
  its summary. When full content exists the summary is ignored: it is the truncated excerpt.
  HTML is reduced to paragraphs; feed boilerplate and promo lines (see `clean.feed_promo_predicate`)
  are removed.
- url: the entry link; published: `published`, else `updated`, as written (see `dates`).
- metadata: `guid`, `author`, `tags` and the feed's title, where present.
Entries left with no text are skipped; a file with no entries at all is an error.
"""

from __future__ import annotations

import io
from typing import Any

import feedparser

from rag.parsing.article import Article
from rag.parsing.clean import (
    clean_paragraphs,
    collapse,
    feed_promo_predicate,
    paragraphs_from_text,
    remove_boilerplate,
)
from rag.parsing.dates import to_iso_date
from rag.parsing.html import fragment_to_paragraphs, strip_tags


class FeedError(ValueError):
    """The bytes are not a feed with entries; files.py turns this into an InputFileError."""


def _detail_paragraphs(detail: Any) -> list[str]:
    value = detail.get("value") or ""
    if "html" in (detail.get("type") or "text/html"):
        return fragment_to_paragraphs(value)
    return paragraphs_from_text(value)


def _body(entry: Any) -> list[str]:
    contents = [c for c in entry.get("content") or [] if (c.get("value") or "").strip()]
    if contents:
        return _detail_paragraphs(max(contents, key=lambda c: len(c.get("value") or "")))
    summary = entry.get("summary_detail")
    if summary is not None and (summary.get("value") or "").strip():
        return _detail_paragraphs(summary)
    return []


def _title(entry: Any) -> str:
    detail = entry.get("title_detail") or {}
    raw = entry.get("title") or ""
    return strip_tags(raw) if "html" in (detail.get("type") or "") else collapse(raw)


def parse_feed(data: bytes) -> list[Article]:
    # A file-like object: given bytes or str, feedparser would first try them as a path or URL.
    parsed = feedparser.parse(io.BytesIO(data))
    entries = parsed.get("entries") or []
    problem = ""
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        problem = f" ({str(exc).splitlines()[0] if exc is not None and str(exc) else 'malformed XML'})"
    if not entries:
        if problem:
            raise FeedError(f"not a readable RSS/Atom feed{problem}")
        raise FeedError("no RSS/Atom entries found")

    feed_title = collapse((parsed.get("feed") or {}).get("title") or "")
    bodies = [remove_boilerplate(_body(entry)) for entry in entries]
    is_promo = feed_promo_predicate(bodies)
    articles: list[Article] = []
    for entry, body in zip(entries, bodies, strict=True):
        paragraphs = clean_paragraphs(body, is_promo)
        title = _title(entry)
        if not paragraphs:
            continue
        metadata: dict[str, Any] = {}
        if entry.get("id"):
            metadata["guid"] = entry["id"]
        if entry.get("author"):
            metadata["author"] = collapse(entry["author"])
        tags = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
        if tags:
            metadata["tags"] = tags
        if feed_title:
            metadata["feed_title"] = feed_title
        published = None
        for key in ("published", "updated"):
            published = to_iso_date(entry.get(key)) or to_iso_date(entry.get(f"{key}_parsed"))
            if published:
                break
        articles.append(
            Article(
                title=title or paragraphs[0][:80],
                paragraphs=paragraphs,
                url=(entry.get("link") or "").strip() or None,
                published=published,
                metadata=metadata,
            )
        )
    if not articles:
        raise FeedError(f"no RSS/Atom entry has any text{problem}")
    return articles
