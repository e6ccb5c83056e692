"""Years a question asks about, and whether a sentence of a dated article speaks of them.

Retrieval prefers articles from a year the question names; the composer then quotes only
sentences about that year. "How much did Alibaba sell on Singles' Day 2016?" must not be answered
with "£19 billion on Singles' Day this year" from a 2017 article, however similar the sentence.
"""

from __future__ import annotations

import re

_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
# A number in the year range that counts something: "more than 2000 employees", "its 2050 stores".
# Left out, so that a question about them is not held to sentences from the year 2000.
_COUNT_IN_YEAR_RANGE = re.compile(
    r"(?i:\b(?:than|over|under|about|around|nearly|almost|some|the|its|their|his|her|our|with|has|have|had|"
    r"employs?|sold|sells?|of)\s+)(19[5-9]\d|20\d\d)(?=\s+[a-z])"
)


def named_years(text: str) -> frozenset[int]:
    """The years (1950-2099) a text names, leaving out counts in that range."""
    counts = {match.start(1) for match in _COUNT_IN_YEAR_RANGE.finditer(text)}
    return frozenset(int(match.group(1)) for match in _YEAR.finditer(text) if match.start(1) not in counts)


def speaks_of(sentence: str, published: str | None, years: frozenset[int]) -> bool:
    """Whether a sentence names one of `years`, or its article's date makes it about one.

    Dated relative to its article: anything in an article published in year Y is taken to be
    about Y, and "last year" / "next year" about Y-1 / Y+1.
    """
    if named_years(sentence) & years:
        return True
    try:
        year = int((published or "")[:4])
    except ValueError:
        return False
    if year in years:
        return True
    lowered = sentence.lower()
    return (year - 1 in years and "last year" in lowered) or (year + 1 in years and "next year" in lowered)
