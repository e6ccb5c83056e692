"""A question, parsed once: what every step of the composer reads about it.

Nothing here knows a subject or an outlet: the question's content terms (weighted by how rare they
are in the index), the interrogative that says what kind of thing is asked for, the years it names
and the names it uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.answer.names import capitalised_words
from rag.terms import terms
from rag.years import named_years

# The interrogative classes a reader learns answer shapes for (a person, a number, a date…).
WH_CLASSES = ("who", "when", "where", "how_many", "how_much", "which_what", "why_how", "other")
_WH = re.compile(r"\b(who|whom|whose|when|where|which|what|why|how(?:\s+(?:many|much))?)\b", re.IGNORECASE)
_WH_CLASS = {
    "who": "who", "whom": "who", "whose": "who", "when": "when", "where": "where",
    "which": "which_what", "what": "which_what", "why": "why_how", "how": "why_how",
    "how many": "how_many", "how much": "how_much",
}


@dataclass(frozen=True)
class ParsedQuestion:
    text: str
    weights: dict[str, float]  # content term -> weight (idf when the index gives one, else 1)
    total_weight: float  # their sum: coverage divides by it for every candidate
    wh: str  # one of WH_CLASSES
    years: frozenset[int]
    names: tuple[str, ...]

    def coverage(self, found: frozenset[str] | set[str]) -> float:
        """Weighted share of the question's terms among `found`."""
        total = self.total_weight
        return sum(w for t, w in self.weights.items() if t in found) / total if total else 0.0


def parse_question(text: str, idf: Callable[[str], float] | None = None) -> ParsedQuestion:
    weights = {t: (idf(t) if idf else 1.0) for t in dict.fromkeys(terms(text))}
    return ParsedQuestion(
        text=text,
        weights=weights,
        total_weight=sum(weights.values()),
        wh=wh_class(text),
        years=frozenset(named_years(text)),
        names=tuple(capitalised_words(text)),
    )


def wh_class(text: str) -> str:
    """The first interrogative's class ("In which year…" -> which_what; "How many…" -> how_many)."""
    match = _WH.search(text)
    if match is None:
        return "other"
    return _WH_CLASS.get(" ".join(match.group(1).lower().split()), "other")
