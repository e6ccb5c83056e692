"""What kind of answer a question expects, and whether a sentence contains one.

"How many …?" wants a number, "When …?" a date, "Who …?" a name. A sentence that contains the
expected kind of thing is more likely to be the answer than an equally similar one that only
restates the topic; the composer adds a small bonus for it.
"""

from __future__ import annotations

import re

_NUMBER_Q = re.compile(
    r"^\s*(how (many|much|big|large|long|far|fast|old)|what (share|percentage|proportion|number|fraction|amount|"
    r"value|figure|sum|price|size|valuation)|by how much|what percent)",
    re.IGNORECASE,
)
_DATE_Q = re.compile(r"^\s*(when\b|(in |on )?(what|which) (year|date|month|day|decade|period))", re.IGNORECASE)
_NAME_Q = re.compile(r"^\s*(who|whom|whose|which (company|companies|brand|brands|firm|person|organisation|"
                     r"organization|city|country|platform|body|regulator))\b|^\s*where\b", re.IGNORECASE)

_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|trillion|half|quarter|third|dozen|percent)\b",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(1[89]\d\d|20\d\d)\b|\b(January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|spring|summer|autumn|winter)\b|"
    r"\b(last|next|this) (year|month|week)\b|\byesterday\b",
    re.IGNORECASE,
)
# A capitalised word that is not the first word of the sentence: a crude but cheap name signal.
_NAME = re.compile(r"(?<=[\s(“\"‘'])[A-Z][\w&’'-]+")


def expected_type(question: str) -> str | None:
    if _DATE_Q.search(question):
        return "date"
    if _NUMBER_Q.search(question):
        return "number"
    if _NAME_Q.search(question):
        return "name"
    return None


def has_type(sentence: str, kind: str | None) -> bool:
    if kind == "number":
        return bool(_NUMBER.search(sentence))
    if kind == "date":
        return bool(_DATE.search(sentence))
    if kind == "name":
        return bool(_NAME.search(sentence))
    return False
