"""The flattened RSS dump: an RSS feed whose XML tags were stripped, leaving only text.

No library reads this, so it is parsed by hand. What the stripping leaves of a WordPress feed:

    <channel title> <link> <description> <date> <language> … <image title> <link> 32 32 ⏎
        (the channel header; glued to the start of the first item's header line)
    TITLE URL [URL#respond] Ddd, DD Mon YYYY HH:MM:SS +ZZZZ GUID EXCERPT…      (item header line)
    The post TITLE appeared first on SITE.        (trailer of the description CDATA)
    ]]>
    FULL CONTENT paragraphs                       (content:encoded)
    The post TITLE appeared first on SITE.
    ]]>
    [URL/feed/ 0]                                 (wfw:commentRss + slash:comments residue)

Detection (`looks_like_flattened_feed`) is by shape, not file name: at least one item header line
(a URL, optionally its `#respond` twin, an RFC-822 date and a guid) plus CDATA ends (`]]>`) or
`appeared first on` trailers.

Per item:
- url: the first URL of the header (the item link; the `#respond` one is the comments link);
  published: the RFC-822 date as written (see `dates`); metadata: `guid` and the `site` named in
  the trailer.
- title: the text before the URL. The first header also carries the channel header, so the title
  is taken from the item's `The post TITLE appeared first on` trailer (HTML tags stripped) when the
  header text ends with it; without a trailer, the channel residue is cut at the last URL and the
  image width/height numbers (`32 32`).
- text: the content after the first `]]>`; the description before it is the truncated excerpt of
  the same article and is dropped (used only when an item has no content). Boilerplate, cross-links
  and promo lines are removed as `clean` describes, with promo lines recognised across all items.
"""

from __future__ import annotations

import re
from itertools import chain

from rag.parsing.article import Article
from rag.parsing.clean import (
    TRAILER_PARTS,
    clean_paragraphs,
    collapse,
    feed_promo_predicate,
    paragraphs_from_text,
    remove_boilerplate,
)
from rag.parsing.dates import to_iso_date
from rag.parsing.html import strip_tags

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_RFC822 = (
    rf"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s+)?\d{{1,2}}\s+{_MONTH}\s+\d{{4}}\s+"
    r"\d{1,2}:\d{2}(?::\d{2})?\s+(?:[+-]\d{4}|GMT|UTC|UT|[ECMP][SD]T|Z)"
)
_HEADER = re.compile(
    rf"(?P<url>https?://\S+)(?:\s+(?P<comments>\S+#(?:respond|comments)))?"
    rf"\s+(?P<date>{_RFC822})\s+(?P<guid>\S+)(?:\s+(?P<excerpt>.*))?$"
)
_CDATA_END = "]]>"
_CHANNEL_RESIDUE = re.compile(r"^.*https?://\S+\s+")
_IMAGE_SIZE = re.compile(r"^\d+\s+\d+\s+")  # <image><width> <height>


def _header(line: str) -> re.Match[str] | None:
    return _HEADER.search(line)


def looks_like_flattened_feed(text: str) -> bool:
    if _CDATA_END not in text and "appeared first on" not in text:
        return False
    return any(_header(line) for line in text.splitlines())


def _title(prefix: str, trailer_title: str | None) -> str:
    prefix = collapse(prefix)
    if trailer_title and (prefix.endswith(trailer_title) or not prefix):
        return trailer_title
    # No usable trailer: cut what the channel header left in front of the first item (everything up
    # to its last URL, then the channel image's width and height).
    cut = _CHANNEL_RESIDUE.sub("", prefix)
    if cut != prefix:
        cut = _IMAGE_SIZE.sub("", cut)
    return cut or trailer_title or prefix


def _sections(lines: list[str]) -> list[list[str]]:
    """Split at CDATA ends (a `]]>` line, or one ending a line)."""
    sections: list[list[str]] = [[]]
    for line in lines:
        if line.rstrip().endswith(_CDATA_END):
            head = line.rstrip()[: -len(_CDATA_END)]
            if head.strip():
                sections[-1].append(head)
            sections.append([])
        else:
            sections[-1].append(line)
    return sections


def parse_flattened_feed(text: str) -> list[Article]:
    lines = text.splitlines()
    headers = [(i, m) for i, line in enumerate(lines) if (m := _header(line))]
    items: list[tuple[re.Match[str], str, list[str], str | None, str | None]] = []
    for n, (start, m) in enumerate(headers):
        end = headers[n + 1][0] if n + 1 < len(headers) else len(lines)
        block = lines[start + 1 : end]
        trailer_title = site = None
        for line in block:
            t = TRAILER_PARTS.match(collapse(line))
            if t:
                trailer_title, site = strip_tags(t["title"]), collapse(t["site"])
                break
        sections = _sections(block)
        description = remove_boilerplate(paragraphs_from_text("\n".join([m["excerpt"] or "", *sections[0]])))
        content = remove_boilerplate(paragraphs_from_text("\n".join(chain.from_iterable(sections[1:]))))
        prefix = lines[start][: m.start()]
        items.append((m, prefix, content or description, trailer_title, site))

    is_promo = feed_promo_predicate([body for _, _, body, _, _ in items])
    articles: list[Article] = []
    for m, prefix, body, trailer_title, site in items:
        paragraphs = clean_paragraphs(body, is_promo)
        if not paragraphs:
            continue
        metadata = {"guid": m["guid"]}
        if site:
            metadata["site"] = site
        articles.append(
            Article(
                title=_title(prefix, trailer_title),
                paragraphs=paragraphs,
                url=m["url"],
                published=to_iso_date(m["date"]),
                metadata=metadata,
            )
        )
    return articles
