"""Names a question mentions that the indexed documents (or a quote) never do.

"How much was Tencent fined?" over a corpus that never mentions Tencent cannot be answered from
it, however close the best sentence about another company's fine scores. A capitalised word
(other than the question's first) whose content terms appear in no chunk is such a name.

Names are matched on a stem prefix, not exactly, so that a question's "Indonesian" or "Italian"
finds the documents' "Indonesia" or "Italy": an adjective or plural of a known name is known.
"""

from __future__ import annotations

import re
from typing import Protocol

from rag.terms import terms

# A capitalised word that is not the first word of the question.
_NAME = re.compile(r"(?<=[\s(“\"‘'/-])[A-Z][\w&’'.-]*")
_MIN_PREFIX = 4  # shorter stems must match exactly
_SUFFIX_SLACK = 3  # letters a known form may differ by at the end ("indonesian" / "indonesia")


class Vocabulary(Protocol):
    """The corpus's content terms (as `rag.terms.terms` makes them)."""

    def has_prefix(self, prefix: str) -> bool:
        """Whether some term of the corpus starts with `prefix`."""
        ...


def capitalised_words(question: str) -> list[str]:
    """The question's capitalised words but its first: the names it uses."""
    return _NAME.findall(question)


def unknown_names(question: str, vocabulary: Vocabulary) -> list[str]:
    """The question's capitalised words that none of the corpus's terms match, in order."""
    unknown = []
    for word in capitalised_words(question):
        stems = terms(word)
        if stems and not any(_known(stem, vocabulary) for stem in stems):
            unknown.append(word.rstrip(".’'"))
    return unknown


def _known(stem: str, vocabulary: Vocabulary) -> bool:
    if len(stem) <= _MIN_PREFIX:
        return vocabulary.has_prefix(stem)  # short: the stem itself or a longer form of it
    return vocabulary.has_prefix(stem[: max(_MIN_PREFIX, len(stem) - _SUFFIX_SLACK)])


class TermSet:
    """A `Vocabulary` over a handful of terms: what one quote and its context mention."""

    def __init__(self, terms_: frozenset[str] | set[str]) -> None:
        self.terms = frozenset(terms_)

    def has_prefix(self, prefix: str) -> bool:
        return any(term.startswith(prefix) for term in self.terms)


# A sentence that names its subject only by referring back: "…71 percent of mobile internet users
# have the app", "It has launched 20 measures…", "Today, it has about 130,000 customers".
_REFERS_BACK = re.compile(
    r"\b(the|this|that) (app|company|firm|brand|platform|group|site|service|retailer|label|business)\b|"
    r"^\W*(\w+,\s*)?(it|its|they|their)\b",
    re.IGNORECASE,
)


def refers_back(sentence: str) -> bool:
    """Whether the sentence leaves its subject to an earlier one ("the app", "the company", "It …")."""
    return bool(_REFERS_BACK.search(sentence))
