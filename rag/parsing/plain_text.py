"""Plain text (.txt): one article, or several articles under headline lines.

The rules (none keyed to particular strings):

- Paragraphs are separated by blank lines. A *headline-like* paragraph is a single short sentence
  without sentence structure around it: 2–14 words, at most 120 characters, no sentence break
  inside, no quotation marks, not ending in `, ; : -` or an ellipsis, starting with a capital or a
  digit, not opening with a pronoun or conjunction ("This", "It", "But", …). A headline may end
  with a period only if it has at least 5 words (a short period-ended line is prose, e.g.
  "Enter online marketplaces."). A byline (`By Jane Doe`, at most 6 words) is never a headline.
- Splitting only happens when the file *opens* with a headline followed by body text; otherwise the
  file is one document, titled by its first paragraph when that is short and title-like (and the
  text follows), else by the file stem.
- A later headline-like paragraph starts a new article only when
  (1) it is followed by body text (not another headline-like line or a byline),
  (2) the current article already has at least `MIN_ARTICLE_CHARS` characters of body, or has just
      been closed by a byline — shorter runs keep the line as a subheading, and
  (3) it does not mostly repeat the current title (60% or more of the title's content words,
      accents and plural -s ignored): "X Strategy With Y is Aggressive" inside an article titled
      "X strategy with Y" is a subheading.
- A glued headline: a paragraph whose last sentence is followed by a short fragment with no closing
  punctuation (at most 8 words, no commas or colons), itself followed by body text, e.g.
  "… Read the full article here. holds annual sale" — the headline's leading link text was lost.
  Under the same conditions (2)–(3) the fragment is split off and starts the next article; its
  title is kept verbatim (the lost words are not guessed).
- Bylines stay in the article they end; the first byline's name is also `metadata["author"]`.
- Titles drop a single trailing period; repeated paragraphs and truncated excerpts are removed per
  article (see `clean`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from rag.parsing.article import Article
from rag.parsing.clean import clean_paragraphs, paragraphs_from_text, remove_boilerplate

MIN_ARTICLE_CHARS = 400
MAX_HEADLINE_WORDS = 14
MAX_HEADLINE_CHARS = 120
MAX_GLUED_WORDS = 8
TITLE_REPEAT_SHARE = 0.6

_SENTENCE_BREAK = re.compile(r"[.!?…][\"”’)\]]*\s+\S")
_QUOTES = re.compile(r"[\"“”„«»]")
_BYLINE = re.compile(r"^(?:by|written by|words by|reporting by|text by)\s+(?P<name>\S.*?)\.?$", re.IGNORECASE)
_GLUED = re.compile(r"^(?P<body>.*[.!?…][\"”’)\]]*)\s+(?P<fragment>[^.!?…\"“”,;:]+)$")
# fmt: off
_NOT_HEADLINE_STARTERS = frozenset((
    "this", "that", "these", "those", "it", "its", "he", "she", "they", "we", "i", "you", "there",
    "here", "and", "but", "so", "or", "yet", "then", "also"
))
# fmt: on
# fmt: off
_STOPWORDS = frozenset((
    "a", "an", "and", "the", "of", "to", "in", "on", "for", "with", "at", "by", "from", "as", "or",
    "but", "is", "are", "was", "were", "be", "its", "it", "this", "that", "how", "why", "what", "is"
))
# fmt: on


def byline_name(paragraph: str) -> str | None:
    m = _BYLINE.match(paragraph)
    if m and len(paragraph.split()) <= 6 and not _SENTENCE_BREAK.search(paragraph):
        return m["name"]
    return None


def headline_like(paragraph: str, glued: bool = False) -> bool:
    words = paragraph.split()
    if not 2 <= len(words) <= MAX_HEADLINE_WORDS or len(paragraph) > MAX_HEADLINE_CHARS:
        return False
    if byline_name(paragraph) or _SENTENCE_BREAK.search(paragraph) or _QUOTES.search(paragraph):
        return False
    if paragraph[-1] in ",;:-–—…" or paragraph.endswith(".."):
        return False
    # A glued headline lost its leading (linked) words, so it may start in lower case.
    if not glued and not (paragraph[0].isupper() or paragraph[0].isdigit()):
        return False
    if words[0].casefold().strip("’'") in _NOT_HEADLINE_STARTERS:
        return False
    return not (paragraph.endswith(".") and len(words) < 5)


def _body_like(paragraph: str) -> bool:
    return not headline_like(paragraph) and byline_name(paragraph) is None


def _content_words(text: str) -> set[str]:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = set()
    for word in re.findall(r"\w+", plain):
        if word in _STOPWORDS:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") else word)
    return words


def repeats_title(candidate: str, title: str) -> bool:
    title_words = _content_words(title)
    if not title_words:
        return False
    return len(title_words & _content_words(candidate)) / len(title_words) >= TITLE_REPEAT_SHARE


def _split_glued(paragraph: str) -> tuple[str, str] | None:
    m = _GLUED.match(paragraph)
    if not m:
        return None
    fragment = m["fragment"].strip()
    if len(fragment.split()) > MAX_GLUED_WORDS or len(m["body"]) < 40 or not headline_like(fragment, glued=True):
        return None
    return m["body"], fragment


def _title(headline: str) -> str:
    return headline[:-1].rstrip() if headline.endswith(".") and not headline.endswith("..") else headline


@dataclass
class _Draft:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    body_chars: int = 0  # kept as a running total: recounting per paragraph is quadratic

    def add(self, paragraph: str) -> None:
        self.paragraphs.append(paragraph)
        self.body_chars += len(paragraph)

    def closed_by_byline(self) -> bool:
        return bool(self.paragraphs) and byline_name(self.paragraphs[-1]) is not None


def _split(paragraphs: list[str]) -> list[_Draft]:
    drafts = [_Draft(_title(paragraphs[0]))]
    for i, p in enumerate(paragraphs[1:], start=1):
        current = drafts[-1]
        following = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
        if following is not None and _body_like(following):
            ready = current.body_chars >= MIN_ARTICLE_CHARS or current.closed_by_byline()
            if ready and headline_like(p) and not repeats_title(p, current.title):
                drafts.append(_Draft(_title(p)))
                continue
            glued = _split_glued(p)
            if glued is not None:
                body, fragment = glued
                long_enough = current.body_chars + len(body) >= MIN_ARTICLE_CHARS
                if long_enough and not repeats_title(fragment, current.title):
                    current.add(body)
                    drafts.append(_Draft(_title(fragment)))
                    continue
        current.add(p)
    return drafts


def _title_like(paragraph: str) -> bool:
    return len(paragraph.split()) <= 20 and len(paragraph) <= 150 and not _SENTENCE_BREAK.search(paragraph)


def parse_plain_text(text: str, stem: str) -> list[Article]:
    paragraphs = remove_boilerplate(paragraphs_from_text(text))
    if not paragraphs:
        return []
    if len(paragraphs) > 1 and headline_like(paragraphs[0]) and _body_like(paragraphs[1]):
        drafts = _split(paragraphs)
    elif len(paragraphs) > 1 and _title_like(paragraphs[0]):
        drafts = [_Draft(_title(paragraphs[0]), paragraphs[1:])]
    else:
        drafts = [_Draft(stem, paragraphs)]

    articles: list[Article] = []
    for draft in drafts:
        body = clean_paragraphs(draft.paragraphs)
        if not body:
            continue
        metadata = {}
        author = next((name for p in body if (name := byline_name(p))), None)
        if author:
            metadata["author"] = author
        articles.append(Article(title=draft.title, paragraphs=body, metadata=metadata))
    return articles
