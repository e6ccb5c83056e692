"""Boilerplate removal and whitespace normalisation shared by every format.

The clean text is what chunk offsets and citations point into and what evaluators search for
exact substrings of, so cleaning only ever *drops* whole paragraphs or known markers and collapses
whitespace; it never rewrites the characters of the text it keeps (curly quotes, dashes, accents stay).

Contract of the result: paragraphs separated by exactly "\\n\\n", whitespace inside a paragraph
(NBSP and other Unicode spaces included) collapsed to one ASCII space, nothing at either end.

What is dropped, and why each rule is safe:

- CDATA markers (`<![CDATA[`, `]]>`) — serialisation residue, never prose.
- WordPress trailers `The post … appeared first on …` — the feed's own footer on every item.
- Comment-link residue: a paragraph that is only `URL#respond`, `URL#comments` or `URL/feed/ N`.
- Cross-link lines (`Read Also …`, `See also …`, `Related: …`) — titles of other articles.
- Dead calls to action whose link was lost: a short paragraph `Click here …` or `Learn more … here.`.
- A truncated excerpt: a paragraph ending in an ellipsis whose text reappears in full elsewhere.
- Repeats: a paragraph identical to an earlier one, or a pull quote (8+ words) that is verbatim
  part of a longer paragraph. Dropping them loses no substring of the article.
- In feeds only (see `feed_promo_predicate`): short label lines that are promo/banner image residue.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

_CDATA = re.compile(r"<!\[CDATA\[|\]\]>")
_TRAILER = re.compile(r"^The post .+ appeared first on .+$", re.DOTALL)
# A trailer glued to the end of a real paragraph; anchored after a sentence end so that a paragraph
# merely mentioning "the post" is not cut.
_GLUED_TRAILER = re.compile(r"(?:(?<=[.!?”\"’])\s+)The post (?:(?!The post ).){1,400}? appeared first on [^\n]{1,200}$")
TRAILER_PARTS = re.compile(r"^The post (?P<title>.+?) appeared first on (?P<site>.+?)\.?$", re.DOTALL)
_RESIDUE = re.compile(r"^(?:https?://\S+/feed/?(?:\s+\d+)?|\S*#(?:respond|comments)(?:\s+\d+)?)$")
_CROSS_LINK = re.compile(
    r"^(?:read also|also read|see also|read next|"
    r"(?:related(?: articles?| stories| posts?| reading| content)?|read more)\s*:)",
    re.IGNORECASE,
)
_CTA = re.compile(r"^(?:(?:click|tap) here\b|(?:learn|find out|read) more\b.*\bhere[.!]?$)", re.IGNORECASE)
_ELLIPSIS_END = re.compile(r"\s*(?:\[\s*(?:…|\.\.\.)\s*\]|\(\s*(?:…|\.\.\.)\s*\)|…|\.\.\.)$")
_TERMINAL = re.compile(r"[.!?…:;,\"”’)\]]$")
_SENTENCE_BREAK = re.compile(r"[.!?…][\"”’)\]]*\s+\S")

_MIN_EXCERPT_CHARS = 30  # shorter ellipsis paragraphs are too weak a signal to drop
_MIN_PULL_QUOTE_WORDS = 8  # shorter contained lines are often subheadings, keep them
# The pull-quote scan is quadratic; articles never come near this, a whole book in one .txt might.
_MAX_PULL_QUOTE_SCAN = 2000
# fmt: off
_STOPWORDS = frozenset((
    "a", "an", "and", "the", "of", "to", "in", "on", "for", "with", "at", "by", "from", "as", "or",
    "but", "is", "are", "was", "were", "be", "this", "that", "these", "those", "it", "its", "our",
    "your", "their", "his", "her", "we", "you", "they", "i", "how", "why", "what", "when", "where",
    "who", "new", "more", "our"
))
# fmt: on


def collapse(text: str) -> str:
    """Whitespace runs (NBSP, thin spaces, newlines included) to one space; trimmed."""
    return " ".join(text.split())


def paragraphs_from_text(text: str) -> list[str]:
    """Blank-line separated paragraphs; single newlines inside a paragraph become spaces."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():  # str.strip treats NBSP as whitespace, so " \xa0" lines separate too
            current.append(line)
        elif current:
            paragraphs.append(collapse(" ".join(current)))
            current = []
    if current:
        paragraphs.append(collapse(" ".join(current)))
    return [p for p in paragraphs if p]


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    return "\n\n".join(p for p in paragraphs if p)


def strip_markers(paragraph: str) -> str:
    """Remove CDATA markers and a feed trailer glued to the end of a paragraph."""
    text = collapse(_CDATA.sub(" ", paragraph))
    return collapse(_GLUED_TRAILER.sub("", text))


def is_boilerplate(paragraph: str) -> bool:
    """Feed trailers, comment-link residue, cross-links and dead calls to action."""
    words = len(paragraph.split())
    return bool(
        _TRAILER.match(paragraph)
        or _RESIDUE.match(paragraph)
        or (words <= 30 and _CROSS_LINK.match(paragraph))
        or (words <= 15 and _CTA.match(paragraph))
    )


def is_short_label(paragraph: str, max_words: int) -> bool:
    """A standalone line without sentence structure: few words, no closing punctuation."""
    words = paragraph.split()
    return (
        0 < len(words) <= max_words
        and len(paragraph) <= 60
        and not _TERMINAL.search(paragraph)
        and not _SENTENCE_BREAK.search(paragraph)
    )


def _looks_like_alt_text(paragraph: str) -> bool:
    # Image alt text / banner file names ("launchpad gateway") start with an all-lowercase word;
    # real subheadings are capitalised. Brand names like "eBay" or "iPhone" are not all-lowercase.
    first = paragraph.split()[0]
    return is_short_label(paragraph, 3) and first.isalpha() and first.islower()


def feed_promo_predicate(items: Sequence[Sequence[str]]) -> Callable[[str], bool]:
    """Recognise promo/banner lines in a feed from all of its items at once.

    A promo line is a short label line (no sentence structure) that
    (a) appears in two or more items of the same feed (template-inserted banners), or
    (b) looks like image alt text (3 words at most, starting with an all-lowercase word), or
    (c) has 4 words at most and starts with the same distinctive word as a line found by (a)/(b)
        ("Launchpad membership 2" next to "launchpad gateway": one banner family).
    Single-word labels are never counted under (a): "Background" may well head two articles.
    """
    counts: Counter[str] = Counter()
    alt_lines: set[str] = set()
    for paragraphs in items:
        labels = {p.casefold() for p in paragraphs if is_short_label(p, 5) and len(p.split()) >= 2}
        counts.update(labels)
        alt_lines.update(p.casefold() for p in paragraphs if _looks_like_alt_text(p))
    repeated = {label for label, n in counts.items() if n >= 2}
    families = {
        word
        for label in repeated | alt_lines
        if (word := label.split()[0]).isalpha() and len(word) >= 4 and word not in _STOPWORDS
    }

    def is_promo(paragraph: str) -> bool:
        if not is_short_label(paragraph, 5):
            return False
        key = paragraph.casefold()
        if key in repeated or _looks_like_alt_text(paragraph):
            return True
        words = key.split()
        return len(words) <= 4 and words[0] in families

    return is_promo


def drop_truncated_excerpts(paragraphs: Sequence[str]) -> list[str]:
    """Drop a paragraph ending in an ellipsis whose text also appears (in full) in the others.

    The excerpt may cover more than one paragraph of the body, so it is looked for in the
    paragraphs joined by a space (which is how a one-line excerpt flattens them).
    """
    joined = " ".join(paragraphs)
    kept: list[str] = []
    for paragraph in paragraphs:
        m = _ELLIPSIS_END.search(paragraph)
        stem = paragraph[: m.start()].rstrip() if m else ""
        # The stem occurs once in the excerpt itself; a second occurrence is the full version.
        if m and len(stem) >= _MIN_EXCERPT_CHARS and joined.count(stem) >= 2:
            continue
        kept.append(paragraph)
    return kept


def drop_repeats(paragraphs: Sequence[str]) -> list[str]:
    """Drop exact repeats (keep the first) and pull quotes contained verbatim in a longer paragraph."""
    unique = list(dict.fromkeys(paragraphs))
    if len(unique) > _MAX_PULL_QUOTE_SCAN:
        return unique
    joined = "\n".join(unique)
    kept: list[str] = []
    for p in unique:
        body = p.rstrip(".")
        # `body` occurs once in `p` itself; another occurrence is inside a different, longer paragraph.
        if len(p.split()) >= _MIN_PULL_QUOTE_WORDS and joined.count(body) >= 2:
            continue
        kept.append(p)
    return kept


def remove_boilerplate(paragraphs: Iterable[str], is_promo: Callable[[str], bool] | None = None) -> list[str]:
    """Markers stripped, whitespace collapsed, boilerplate (and promo) paragraphs dropped."""
    out: list[str] = []
    for raw in paragraphs:
        p = strip_markers(raw)
        if not p or is_boilerplate(p) or (is_promo is not None and is_promo(p)):
            continue
        out.append(p)
    return out


def clean_paragraphs(paragraphs: Iterable[str], is_promo: Callable[[str], bool] | None = None) -> list[str]:
    """The full pipeline for one article's paragraphs."""
    return drop_repeats(drop_truncated_excerpts(remove_boilerplate(paragraphs, is_promo)))
