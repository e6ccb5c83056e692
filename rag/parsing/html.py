"""HTML pages (.html/.htm) and HTML fragments (feed item content), via selectolax (lexbor).

A page becomes one article:
- title: `og:title`, else the first `<h1>` of the article body, else `<title>`, else the file stem;
- url: `<link rel="canonical">`, else `og:url`;
- published: `article:published_time` and the usual date metas, `itemprop=datePublished`,
  JSON-LD `datePublished`, else the first `<time datetime>`;
- text: the paragraphs of `<article>`, else `<main>`, else `<body>`, with scripts, styles, navigation,
  asides, footers and forms removed; a leading `<h1>` equal to the title is not repeated in the text.
Block elements (p, headings, list items, table rows, …) become paragraphs; inline markup is dropped
and its text kept.
"""

from __future__ import annotations

import json
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from rag.parsing.article import Article
from rag.parsing.clean import clean_paragraphs, collapse
from rag.parsing.dates import to_iso_date

# Never article prose, in a page or in a feed fragment.
# fmt: off
_DROP = frozenset((
    "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed", "canvas",
    "button", "select", "option", "input", "textarea", "head"
))
# fmt: on
# Page chrome, dropped from full pages only (a feed fragment has none, and its <footer> may be prose).
_PAGE_CHROME = frozenset(["nav", "aside", "footer", "form", "dialog"])
# fmt: off
_BLOCK = frozenset((
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hgroup", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section",
    "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"
))
# fmt: on
_DATE_METAS = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "date",
    "pubdate",
    "publishdate",
    "publish-date",
    "publication_date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "dcterms.issued",
    "sailthru.date",
    "parsely-pub-date",
)


def _paragraphs(root: LexborNode, drop: frozenset[str]) -> list[str]:
    """Text of `root` split at block elements. Iterative, so deeply nested pages cannot overflow."""
    paragraphs: list[list[str]] = [[]]
    # Stack entries: a node to enter, or None meaning "a block element ended here".
    stack: list[LexborNode | None] = [root]
    while stack:
        node = stack.pop()
        if node is None:
            paragraphs.append([])
            continue
        tag = node.tag or ""
        if tag == "-text":
            paragraphs[-1].append(node.text(deep=False))
            continue
        if tag.startswith("-") and node is not root:  # comments, doctype
            continue
        if tag in drop:
            continue
        if tag == "br":
            paragraphs[-1].append(" ")
            continue
        if tag in _BLOCK:
            paragraphs.append([])
            stack.append(None)
        children = list(node.iter(include_text=True))
        stack.extend(reversed(children))
    return [p for p in (collapse("".join(parts)) for parts in paragraphs) if p]


def fragment_to_paragraphs(fragment: str) -> list[str]:
    """Paragraphs of an HTML fragment (feed content), boilerplate not yet removed."""
    tree = LexborHTMLParser(f"<body>{fragment}</body>")
    body = tree.body
    return _paragraphs(body, _DROP) if body is not None else []


def strip_tags(fragment: str) -> str:
    """One line of text from a fragment that may hold markup (`… the <a href=…>CBBC</a>`)."""
    if "<" not in fragment and "&" not in fragment:
        return collapse(fragment)
    return collapse(" ".join(fragment_to_paragraphs(fragment)))


def _meta(tree: LexborHTMLParser, *names: str) -> str | None:
    wanted = {n.lower() for n in names}
    for node in tree.css("meta"):
        attrs = node.attributes
        key = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").lower()
        content = attrs.get("content")
        if key in wanted and content and content.strip():
            return content.strip()
    return None


def _canonical(tree: LexborHTMLParser) -> str | None:
    for node in tree.css("link"):
        rel = (node.attributes.get("rel") or "").lower().split()
        href = (node.attributes.get("href") or "").strip()
        if "canonical" in rel and href:
            return href
    return _meta(tree, "og:url")


def _json_ld_date(tree: LexborHTMLParser) -> str | None:
    def find(obj: Any) -> str | None:
        if isinstance(obj, dict):
            for key in ("datePublished", "dateCreated"):
                if isinstance(obj.get(key), str):
                    return obj[key]
            values = obj.values()
        elif isinstance(obj, list):
            values = obj
        else:
            return None
        for value in values:
            found = find(value)
            if found:
                return found
        return None

    for node in tree.css('script[type="application/ld+json"]'):
        try:
            found = find(json.loads(node.text(deep=True)))
        except ValueError:
            continue  # a broken JSON-LD block is the page's problem, not a reason to reject it
        if found:
            return found
    return None


def _published(tree: LexborHTMLParser) -> str | None:
    candidates: list[str | None] = [_meta(tree, *_DATE_METAS), _json_ld_date(tree)]
    for node in tree.css("[itemprop=datePublished]"):
        candidates.append(node.attributes.get("datetime") or node.attributes.get("content"))
    for node in tree.css("time[datetime]"):
        candidates.append(node.attributes.get("datetime"))
    for value in candidates:
        iso = to_iso_date(value)
        if iso:
            return iso
    return None


def parse_html(html: str, stem: str) -> Article:
    tree = LexborHTMLParser(html)
    url = _canonical(tree)
    published = _published(tree)
    page_title = tree.css_first("title")
    description = _meta(tree, "description", "og:description")
    author = _meta(tree, "author", "article:author")

    root = tree.css_first("article") or tree.css_first("main") or tree.body or tree.root
    h1 = root.css_first("h1") if root is not None else None
    title = (
        _meta(tree, "og:title")
        or (collapse(h1.text(deep=True)) if h1 is not None else "")
        or (collapse(page_title.text(deep=True)) if page_title is not None else "")
        or stem
    )
    paragraphs = _paragraphs(root, _DROP | _PAGE_CHROME) if root is not None else []
    if paragraphs and h1 is not None and paragraphs[0] == collapse(h1.text(deep=True)) == collapse(title):
        paragraphs = paragraphs[1:]
    metadata: dict[str, Any] = {}
    if description:
        metadata["description"] = collapse(description)
    if author:
        metadata["author"] = collapse(author)
    return Article(
        title=collapse(title),
        paragraphs=clean_paragraphs(paragraphs),
        url=url,
        published=published,
        metadata=metadata,
    )
