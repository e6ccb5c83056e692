"""What kind of answer a question expects, and whether a sentence contains one.

"How many …?" wants a count, "What share …?" a proportion, "How much was X fined?" a sum of
money, "By how much did X grow?" a change, "How long …?" a span of time ("six-month", "two days
later"), "How big …?" some other figure, "When …?" or "Over what dates …?" a date,
"Who …?" a name ("Who wrote …?" an author's byline). A sentence that
contains the expected kind of thing is more likely to be the answer than an equally similar one
that only restates the topic; the composer adds a small bonus for it, and for the numeric kinds
and dates abstains when neither the best sentence nor the one next to it has one.

Counts and shares are told apart from other numbers because the documents are full of both:
a sentence that answers "How many orders…?" only with "18% more sales than in 2014" restates the
topic without the count, and a share question answered by a bare count is as wrong. A count is
also of something: "How many shoppers took part…?" is not answered by "130 ecommerce sites joined",
nor "How many counterfeiters were convicted?" by "17 truckloads of counterfeit toys", so the figure
must stand next to the noun the question counts (`counted_nouns`, `counts`). A clause that only
sets the scope ("By March 2018, how many years…?") is skipped before the kind is read (`main_clause`).
"""

from __future__ import annotations

import re

from rag.terms import terms

_COUNT_Q = re.compile(r"^\s*(how many|what number of)\b", re.IGNORECASE)
_SHARE_Q = re.compile(
    r"^\s*((in |to )?(what|which) (share|percentage|proportion|percent|fraction)|percentage of)\b|"
    r"\b(what|which) (share|percentage|proportion|percent|fraction) of\b",
    re.IGNORECASE,
)
_NUMBER_Q = re.compile(
    r"^\s*(how (many|much|big|large|long|far|fast|old)|what (share|percentage|proportion|number|fraction|amount|"
    r"value|figure|sum|price|size|valuation)|by how much|what percent)",
    re.IGNORECASE,
)
# "What is/was X's market capitalisation / revenue / GMV …?": a figure asked for without "how much".
_FIGURE_Q = re.compile(
    r"^\s*what (is|was|are|were) [\w&.'’ -]*?\b((current|total|annual|latest|estimated|reported|overall|combined|"
    r"expected) )*(market (capitali[sz]ation|cap|value)|valuation|revenues?|turnover|profits?|net income|earnings|"
    r"gmv|gross merchandise (value|volume)|sales|share price|stock price)\b(?! (strategy|model|team|channel|"
    r"platform|growth|pitch))|"
    # "What Singles' Day sales figures were reported…?": the figures themselves.
    r"^\s*what [\w&.'’ -]*?\b(revenues?|turnover|profits?|earnings|gmv|sales|takings) (figures?|numbers|totals?)\b",
    re.IGNORECASE,
)
# A number question about money ("How much revenue…", "How much was X fined…") wants an amount
# of money, not any figure; part-of ("how much of") and comparison questions are often answered
# with a share instead, so they stay plain numbers (growth questions are changes, below).
_MONEY_TOPIC = re.compile(
    r"\b(revenues?|fined?|fines|costs?|worth|valuations?|valued|market (capitali[sz]ation|cap|value)|gmv|"
    r"gross merchandise|money|takings|turnover|profits?|earn\w*|spen[dt]|spending|pa(y|id)|prices?|"
    r"fund(s|ing)?|invest\w*|rais(e|ed)|sales|sell|sold|take)\b",
    re.IGNORECASE,
)
_NOT_MONEY = re.compile(
    r"^\s*(how much of|how (long|far|fast|old|soon))\b|\b(change|changed|compare)\b",
    re.IGNORECASE,
)
# "By how much did X grow…?", "How much did orders rise…?": a change, answered by a share, a sum,
# a multiple or "by/up N", never by a level ("generated 100 million orders" is not how much they grew).
_CHANGE_Q = re.compile(
    r"^\s*by how much\b|\b(grow|grew|grown|rise|rose|risen|increased?|fall|fell|fallen|drop|dropped|decline|"
    r"declined|jump|jumped|surge|surged|climb|climbed|shrink|shrank|shrunk)\b",
    re.IGNORECASE,
)
# What a change is of: "What did JD.com's share price do after…?", "What happened to X's sales?",
# "How did X's revenue change?" ask for a change without a verb of growth; and a change in one
# thing is no answer about another ("a 60% increase" in orders says nothing of the share price).
_QUANTITY = (
    r"(share price|stock price|shares|stock|sales|revenues?|profits?|earnings|orders|valuation|market (value|share)|"
    r"turnover|gmv|takings|exports|spending|users|customers)"
)
_CHANGE_OF_Q = re.compile(
    rf"^\s*(what (did|has|have|had) [^?]*?\b{_QUANTITY}\b[^?]*?\b(do|done)\b|what happened to [^?]*?\b{_QUANTITY}\b|"
    rf"how (did|has|have|had) [^?]*?\b{_QUANTITY}\b[^?]*?\b(change|changed|react|reacted|perform|performed|move|"
    rf"moved|fare|fared)\b)",
    re.IGNORECASE,
)
_QUANTITY_WORDS = re.compile(rf"\b{_QUANTITY}\b", re.IGNORECASE)
_DATE_Q = re.compile(
    r"^\s*(when\b|((in|on|over|during|from|since|until|by|at|between) )?(what|which) (year|date|month|day|decade|"
    r"period))",
    re.IGNORECASE,
)
# "How long does the campaign run?", "How long after the fine did…?": a span of time, not any figure.
_DURATION_Q = re.compile(r"^\s*how long\b", re.IGNORECASE)
# "Who wrote …?": answered by the article's byline ("By Jane Doe", "…, writes Jane Doe."), which
# the composer looks for in the best-matching article, never by whichever name is nearest.
_AUTHOR_Q = re.compile(
    r"^\s*(who (wrote|authored|penned|is the author of|was the author of|is the writer of)|"
    r"(who|what) (is|was) the (name of the )?(author|writer)|(which|what) (author|writer|journalist|reporter))\b",
    re.IGNORECASE,
)
_NAME_Q = re.compile(r"^\s*(who|whom|whose|which (company|companies|brand|brands|firm|person|organisation|"
                     r"organization|city|country|platform|body|regulator))\b|^\s*where\b", re.IGNORECASE)

_DATE = re.compile(
    r"\b(1[89]\d\d|20\d\d)\b|\b(January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|spring|summer|autumn|winter)\b|"
    r"\b(last|next|this) (year|month|week)\b|\byesterday\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|trillion|dozen|dozens|hundreds|thousands|millions"
)
# A count: a figure that is neither a share ("25%", "71 percent") nor a bare year ("in 2016").
# "For the second year running" counts years ("How many years in a row…?"); "first" is left out,
# as "for the first time" counts nothing.
_ORDINAL_OF_TIME = (
    r"\b(second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d+(nd|rd|th))"
    r"(?=[- ]((straight|consecutive|successive) )?(years?|times?|months?|weeks?|days?|seasons?|editions?)\b)"
)
_COUNT = re.compile(
    rf"(?<![\w.,])(?!(1[89]|20)\d\d(?!\d|[,.]\d))\d(\d|[,.]\d)*+(?!\s*(%|percent\b|per cent\b|nd\b|rd\b|th\b))|"
    rf"(?<!in )(?<!out of )\b({_NUMBER_WORDS})\b(?!\s*(percent\b|per cent\b|in (ten|\d)))|{_ORDINAL_OF_TIME}",
    re.IGNORECASE,
)
_SHARE = re.compile(
    r"%|\b(percent|per cent|percentage points?|half|quarter|quarters|third|thirds|fifth|tenth|majority|minority)\b|"
    r"\b(\d{1,3}|one|two|three|four|five|six|seven|eight|nine) (in|out of) (\d{1,3}|ten|five|four|three|every)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"[$£€¥₹]|\b(RMB|CNY|yuan|renminbi|dollars?|pounds?|sterling|euros?|yen|rupiah|Rp|rupees?)\b|"
    r"\d\s*(bn|m)\b",
    re.IGNORECASE,
)
_DURATION = re.compile(
    rf"\b(\d+(\.\d+)?|a|an|{_NUMBER_WORDS}|several|few|many)[- ](hours?|days?|weeks?|months?|years?|decades?)\b|"
    r"\b(until|till|since|throughout)\b",
    re.IGNORECASE,
)
_PERSON = r"[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){0,2}"
_BYLINE = re.compile(rf"\b(?:writes|written by)\s+{_PERSON}|^\s*By\s+{_PERSON}\s*$")
_CHANGE = re.compile(
    r"\b(\d+(\.\d+)?|two|three|four|five|ten)[- ]?(times|fold)\b|\b(doubled|tripled|quadrupled|halved)\b|"
    r"\b(by|up)\s+((about|around|nearly|almost|over|more than|some)\s+)?[$£€¥]?\d",
    re.IGNORECASE,
)
# A capitalised word that is not the first word of the sentence: a crude but cheap name signal.
_NAME = re.compile(r"(?<=[\s(“\"‘'])[A-Z][\w&’'-]+")


# What a count question counts: from "how many" (skipping "of the") to the first auxiliary verb,
# preposition or punctuation. Without a parser a verb can slip in ("arrests followed the raid"),
# so the counted noun is taken to be the phrase's first plural word (`counted_nouns`).
_COUNTED = re.compile(
    r"^\s*(?:how many|what number of)\s+(?:of (?:the |its |their |these |those )?)?(?P<phrase>.*?)"
    r"(?=\b(?:did|does|do|were|was|are|is|have|has|had|will|would|can|could|in|on|at|for|from|to|by|"
    r"during|after|before|per|through|with|across|since|between|over|under)\b|[?,;:]|$)",
    re.IGNORECASE,
)
# A scope-setting clause before the question proper: "By March 2018, how many years…?".
_LEAD_IN = re.compile(
    r"^\s*(?!(how|what|which|when|who|whom|whose|where|why)\b)[^,?]{3,80},\s*"
    r"(?=(how|what|which|when|who|whom|whose|where|why|by how|(in|on|over|from|since|during) (what|which))\b)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_COORDINATION = re.compile(r"\s+(?:and|or)\s+|\s*/\s*", re.IGNORECASE)
# How far from a figure the counted noun may stand: "600,000 fake Peppa Pig products",
# "100 million monthly active users" (after); "orders reached 100 million" (before).
_WORDS_AFTER_FIGURE = 5
_WORDS_BEFORE_FIGURE = 3
# Set phrases whose noun is no thing counted: "sales in order to generate business" holds no orders.
_NOT_A_NOUN = re.compile(r"\bin order (?=to|for|that)\b", re.IGNORECASE)


def _singular(word: str) -> str:
    word = word.lower()
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _is_plural(word: str) -> bool:
    # Possessives ("Nestlé's") and capitalised names ("Harbolnas") are not what is counted.
    return (
        len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "'s", "’s"))
        and not word.istitle()
    )


def counted_nouns(question: str) -> frozenset[str]:
    """What a count question counts, in singular form: the first plural word of each coordinated
    part ("How many arrests followed the raid?" → {"arrest"}; "How many students and cities…" →
    {"student", "city"}); a part without one gives all its words ("How many people…" → {"people"}).

    Empty for any other question, or when nothing is named ("How many were there?"). Singular
    forms, not stems: "counterfeiters" are people, "counterfeit" goods are not.
    """
    match = _COUNTED.match(main_clause(question))
    if not match:
        return frozenset()
    nouns: set[str] = set()
    for part in _COORDINATION.split(match.group("phrase")):
        words = _WORD.findall(part)
        plural = next((w for w in words if _is_plural(w)), None)
        nouns.update([_singular(plural)] if plural else (_singular(w) for w in words if terms(w)))
    return frozenset(nouns)


def counts(sentence: str, nouns: frozenset[str]) -> bool:
    """Whether the sentence counts one of `nouns`: a count figure with the noun a few words after
    it ("24 arrests", "100 million monthly active users") or just before ("orders reached 100
    million"). "17 truckloads of counterfeit toothbrushes" does not count counterfeiters."""
    sentence = _NOT_A_NOUN.sub(lambda m: " " * len(m.group()), sentence)  # keep offsets
    words = [(m.start(), _singular(m.group())) for m in _WORD.finditer(sentence)]
    for figure in _COUNT.finditer(sentence):
        after = [w for at, w in words if at >= figure.end()][:_WORDS_AFTER_FIGURE]
        before = [w for at, w in words if at < figure.start()][-_WORDS_BEFORE_FIGURE:]
        if nouns.intersection(after) or nouns.intersection(before):
            return True
    return False


def measured_terms(question: str) -> frozenset[str]:
    """What a change question measures, as content terms ("What did JD.com's share price do…?" →
    {"share", "price"}); empty when it names none of the usual quantities (sales, revenue, orders,
    share price, users…) or asks for no change."""
    if expected_type(question) != "change":
        return frozenset()
    return frozenset(t for match in _QUANTITY_WORDS.finditer(question) for t in terms(match.group()))


def main_clause(question: str) -> str:
    """The question without a leading clause that only sets its scope ("Including live-streaming
    e-commerce, how large was…?" → "how large was…?"), so that its kind is read where it is asked."""
    lead_in = _LEAD_IN.match(question)
    return question[lead_in.end() :] if lead_in else question


def expected_type(question: str) -> str | None:
    question = main_clause(question)
    if _DATE_Q.search(question):
        return "date"
    if _DURATION_Q.search(question):
        return "duration"
    if _COUNT_Q.search(question):
        return "count"
    if _SHARE_Q.search(question):
        return "share"
    if _CHANGE_OF_Q.search(question):
        return "change"
    if _NUMBER_Q.search(question) or _FIGURE_Q.search(question):
        if _CHANGE_Q.search(question):
            return "change"
        return "money" if _MONEY_TOPIC.search(question) and not _NOT_MONEY.search(question) else "number"
    if _AUTHOR_Q.search(question):
        return "author"
    if _NAME_Q.search(question):
        return "name"
    return None


ANSWER_KINDS = ("count", "share", "money", "change", "number", "duration", "date", "name", "author")


def sentence_kinds(sentence: str) -> frozenset[str]:
    """Every kind of answer the sentence holds (a sentence index computes it once per sentence)."""
    return frozenset(kind for kind in ANSWER_KINDS if has_type(sentence, kind))


def has_type(sentence: str, kind: str | None) -> bool:
    if kind == "money":
        return bool(_MONEY.search(sentence))
    if kind == "count":
        return bool(_COUNT.search(sentence))
    if kind == "share":
        return bool(_SHARE.search(sentence))
    if kind == "change":
        return bool(_SHARE.search(sentence) or _MONEY.search(sentence) or _CHANGE.search(sentence))
    if kind == "number":  # any figure but a bare year: "How much…?" is not answered by "in 2016"
        return bool(_COUNT.search(sentence) or _SHARE.search(sentence))
    if kind == "duration":
        return bool(_DURATION.search(sentence))
    if kind == "date":
        return bool(_DATE.search(sentence))
    if kind == "name":
        return bool(_NAME.search(sentence))
    if kind == "author":
        return bool(_BYLINE.search(sentence))
    return False
