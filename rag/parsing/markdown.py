"""Markdown (.md/.markdown) via markdown-it-py: one article per file.

- Optional YAML-style front matter (`---` lines around `key: value` pairs): `title`, `url`
  (or `link`, `canonical_url`), `published` (or `date`); other keys go to metadata.
- title: front matter, else the first heading (not repeated in the text when it opens the file),
  else the file stem.
- text: every block (paragraph, heading, list item, quote, code block, table row) is a paragraph;
  emphasis, links and inline code keep their text and lose their markup; images and raw HTML tags
  are dropped (raw HTML blocks keep their text).
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from rag.parsing.article import Article
from rag.parsing.clean import clean_paragraphs, collapse
from rag.parsing.dates import to_iso_date
from rag.parsing.html import fragment_to_paragraphs

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<body>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_PAIR = re.compile(r"^(?P<key>[A-Za-z_][\w.-]*)\s*:\s*(?P<value>.*)$")


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    pairs: dict[str, str] = {}
    for line in m["body"].splitlines():
        pair = _PAIR.match(line.strip())
        if pair:
            pairs[pair["key"].lower()] = pair["value"].strip().strip("\"'")
    if not pairs:  # a thematic break at the top, not front matter
        return {}, text
    return pairs, text[m.end() :]


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        # images (alt text) and inline HTML tags are not prose
    return collapse("".join(parts))


def _blocks(tokens: list[Token]) -> tuple[list[str], str | None, bool]:
    """Paragraphs, the first heading's text, and whether that heading opened the document."""
    paragraphs: list[str] = []
    first_heading: str | None = None
    heading_first = False
    in_heading = False
    row: list[str] | None = None
    for token in tokens:
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            if any(row):
                paragraphs.append(collapse(" ".join(row)))
            row = None
        elif token.type == "inline":
            text = _inline_text(token)
            if row is not None:
                row.append(text)
                continue
            if in_heading and first_heading is None and text:
                first_heading = text
                heading_first = not paragraphs
            if text:
                paragraphs.append(text)
        elif token.type in ("fence", "code_block"):
            paragraphs.append(collapse(token.content))
        elif token.type == "html_block":
            paragraphs.extend(fragment_to_paragraphs(token.content))
    return [p for p in paragraphs if p], first_heading, heading_first


def parse_markdown(text: str, stem: str) -> Article:
    meta, body = _front_matter(text)
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    paragraphs, heading, heading_first = _blocks(tokens)
    title = collapse(meta.pop("title", "")) or heading or stem
    if heading_first and heading == title and len(paragraphs) > 1:
        paragraphs = paragraphs[1:]
    url = next((meta.pop(k) for k in ("url", "link", "canonical_url") if meta.get(k)), None)
    raw_date = next((meta.pop(k) for k in ("published", "date") if meta.get(k)), None)
    metadata: dict[str, Any] = dict(meta)
    published = to_iso_date(raw_date)
    if raw_date and published is None:
        metadata["published_raw"] = raw_date
    return Article(
        title=title,
        paragraphs=clean_paragraphs(paragraphs),
        url=url,
        published=published,
        metadata=metadata,
    )
