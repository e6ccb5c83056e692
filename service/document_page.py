"""An article as a page of the service: the clean text with the quoted spans marked.

`/documents/{doc_id}?hl=START-END&hl=…` answers browsers (`Accept: text/html`) with this page and
API clients with JSON. The page needs no script: each span is a `<mark id="hl-N">`, and a
citation's link ends in `#hl-1`, so the browser scrolls the first quote into view itself.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Sequence
from urllib.parse import quote

from rag.errors import QuestionError
from rag.types import Document, followable_url

MAX_HIGHLIGHTS = 20
_RANGE = re.compile(r"^(\d{1,9})-(\d{1,9})$")

_STYLE = """
  body { margin: 0; font: 17px/1.6 Georgia, "Times New Roman", serif; color: #1d2430; background: #f6f7f9; }
  main { max-width: 44rem; margin: 0 auto; padding: 1rem; }
  header { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  h1 { font-size: 1.5rem; line-height: 1.3; margin: 0.5rem 0; overflow-wrap: anywhere; }
  .meta { color: #5b6575; font-size: 0.9rem; overflow-wrap: anywhere; }
  .meta a { color: #1f5fbf; }
  article { white-space: pre-wrap; overflow-wrap: anywhere; background: #fff; border: 1px solid #d9dde3;
            border-radius: 8px; padding: 1rem; margin-top: 1rem; }
  mark { background: #fff3c4; box-shadow: 0 0 0 2px #e0b400; border-radius: 2px; scroll-margin: 30vh; }
  mark:target { background: #ffe27a; }
  a.back { font-family: system-ui, sans-serif; font-size: 0.9rem; color: #1f5fbf; }
"""


def parse_highlights(values: Sequence[str], text_length: int) -> list[tuple[int, int]]:
    """`START-END` offsets into the clean text, checked, sorted and merged where they overlap."""
    if len(values) > MAX_HIGHLIGHTS:
        raise QuestionError(f"at most {MAX_HIGHLIGHTS} hl ranges")
    spans = []
    for value in values:
        match = _RANGE.match(value)
        if not match:
            raise QuestionError(f"hl must be START-END character offsets, got {value[:40]!r}")
        start, end = int(match.group(1)), int(match.group(2))
        if not 0 <= start < end <= text_length:
            raise QuestionError(f"hl {start}-{end} is outside the document's text (0-{text_length})")
        spans.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def document_path(doc_id: str, spans: Sequence[tuple[int, int]] = ()) -> str:
    """The page's path, e.g. `/documents/abc?hl=10-42#hl-1` (what a citation links to)."""
    path = "/documents/" + quote(doc_id, safe="")
    if not spans:
        return path
    return path + "?" + "&".join(f"hl={s}-{e}" for s, e in spans) + "#hl-1"


def document_link(public_url: str | None, doc_id: str, start: int, end: int) -> str:
    """A citation's link: the page path, absolute when the service has a public address."""
    path = document_path(doc_id, [(start, end)])
    return public_url.rstrip("/") + path if public_url else path


def render(document: Document, spans: Sequence[tuple[int, int]], index_version: str) -> str:
    text = document.text
    body: list[str] = []
    last = 0
    for n, (start, end) in enumerate(spans, start=1):
        body.append(html.escape(text[last:start]))
        body.append(f'<mark id="hl-{n}">{html.escape(text[start:end])}</mark>')
        last = end
    body.append(html.escape(text[last:]))
    meta = [html.escape(document.published or "undated"), html.escape(document.source)]
    url = followable_url(document.url)
    if url:
        meta.append(f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">original article</a>')
    title = html.escape(document.title or document.source or "Untitled")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n<link rel="icon" href="data:,">\n'
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n"
        '<a class="back" href="/">← Ask the archive</a>\n'
        f'<header>\n<h1>{title}</h1>\n<div class="meta">{" · ".join(meta)}</div>\n'
        f'<div class="meta">{len(spans)} quoted passage{"s" if len(spans) != 1 else ""} marked'
        f" · index {html.escape(index_version)}</div>\n</header>\n"
        f'<article id="text">{"".join(body)}</article>\n</main>\n</body>\n</html>\n'
    )


def content_security_policy() -> str:
    digest = base64.b64encode(hashlib.sha256(_STYLE.encode("utf-8")).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src 'self' data:; base-uri 'none';"
        " form-action 'none'; frame-ancestors 'none'"
    )


def wants_html(accept: str | None) -> bool:
    """A browser's Accept names text/html before (or instead of) JSON; API clients get JSON."""
    if not accept:
        return False
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if "text/html" not in kinds:
        return False
    return "application/json" not in kinds or kinds.index("text/html") < kinds.index("application/json")
