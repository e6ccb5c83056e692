"""What a question asks for, whether a sentence holds it, and names the corpus never mentions."""

import pytest

from rag.answer.answer_type import (
    ANSWER_KINDS,
    counted_nouns,
    counts,
    expected_type,
    has_type,
    measured_terms,
    sentence_kinds,
)
from rag.answer.names import TermSet, refers_back, unknown_names
from rag.retrieval.lexical import BM25Index


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many customers does the brand have in China?", "count"),
        ("What number of stores opened?", "count"),
        ("What share of Chinese shoppers buy British brands?", "share"),
        ("percentage of chinese shoppers willing to pay more", "share"),
        ("In the 12 months to March 2016, what share of revenue came from abroad?", "share"),
        ("How much was the company fined by the regulator?", "money"),
        ("What is Acme's current market capitalisation?", "money"),
        ("What was Taobao's gross merchandise volume in 2016?", "money"),
        ("What Singles' Day sales figures were reported for 2016 and 2017?", "money"),
        ("By how much did revenue grow last year?", "change"),
        ("How much did orders in the one-day sale grow compared with a year earlier?", "change"),
        ("By how much did the shares beat the forecast?", "change"),
        ("What did JD.com's share price do after its June sale?", "change"),
        ("What happened to Alibaba's sales after the fine?", "change"),
        ("How did the brand's revenue change between 2016 and 2017?", "change"),
        ("What happened to Alibaba's membership of the alliance?", None),
        # A leading clause that sets the scope is not where the question is asked.
        ("Including live-streaming e-commerce, how large was the GMV in 2022?", "money"),
        ("By March 2018, how many years in a row had Taobao been on the list?", "count"),
        ("Which British brands launched on Tmall, and when?", None),
        ("What did Alibaba do with its sales data?", None),
        ("How much of the group's revenue came from abroad?", "number"),
        ("How long after the fine did the central bank act?", "duration"),
        ("How long does the Nestlé campaign run?", "duration"),
        ("When did Amazon hold its first Prime Day?", "date"),
        ("Over what dates was the survey conducted?", "date"),
        ("Since what year has the platform run?", "date"),
        ("From which month will the products be featured?", "date"),
        ("Who is the chief executive?", "name"),
        ("Who wrote the piece on off-season sales days?", "author"),
        ("Who is the author of the Focus analysis?", "author"),
        ("Which journalist covered the raid?", "author"),
        ("Why was the raid timed before Singles' Day?", None),
        ("What was special about the sales strategy?", None),
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question: str, kind: str | None) -> None:
    assert expected_type(question) == kind


@pytest.mark.parametrize(
    ("sentence", "kinds"),
    [
        ("It has about 130,000 customers in China.", {"count", "number"}),
        ("The raid has led to 24 arrests so far.", {"count", "number"}),
        ("Three British brands joined.", {"count", "number"}),
        ("China now accounts for 25% of the business.", {"share", "number"}),
        ("Only 8.5 percent of revenue was made abroad.", {"share", "number"}),
        ("More than a quarter of the population will shop online.", {"share", "number"}),
        ("Seven in ten expect exports to grow.", {"share", "number"}),
        ("The regulator fined it RMB 18.2 billion (£2 billion).", {"count", "number", "money"}),
        ("Sales stood at $547 billion.", {"count", "number", "money"}),
        ("The brand started in 2016, after its founder saw a gap.", {"date"}),
        ("In 2015, 2016 and 2017.", {"date"}),
        ("Amazon sold 18% more than on Black Friday in 2014.", {"share", "number", "date"}),
        ("The brand sells well in many markets.", set()),
    ],
)
def test_which_kinds_of_answer_a_sentence_holds(sentence: str, kinds: set[str]) -> None:
    held = {kind for kind in ("count", "share", "money", "number", "date") if has_type(sentence, kind)}
    assert held == kinds
    # What the sentence index caches per sentence says the same, for every kind.
    assert sentence_kinds(sentence) == {kind for kind in ANSWER_KINDS if has_type(sentence, kind)}


@pytest.mark.parametrize(
    ("sentence", "held"),
    [
        ("The company kicked off the six-month campaign yesterday.", True),
        ("Two days later, the central bank acted.", True),
        ("The sale runs until the end of November.", True),
        ("It has been on the list since 2008.", True),
        ("Nestlé is basing its campaign on its 150th anniversary.", False),  # a figure, but no span of time
        ("It launched 67 products in 2014.", False),
    ],
)
def test_a_span_of_time_answers_how_long(sentence: str, held: bool) -> None:
    assert has_type(sentence, "duration") is held


@pytest.mark.parametrize(
    ("question", "counted"),
    [
        ("How many shoppers took part in Harbolnas?", {"shopper"}),
        ("How many of the stores did Acme close in 2020?", {"store"}),
        ("How many customers in China does the brand have?", {"customer"}),
        ("how many students and cities did the live streams reach", {"student", "city"}),
        ("What number of flagship outlets does Nestlé run?", {"outlet"}),
        ("How many arrests followed the Peppa Pig raid?", {"arrest"}),  # a verb slipped into the phrase
        ("How many of the Peppa Pig counterfeiters were convicted?", {"counterfeiter"}),
        ("How many Nestlé's businesses closed?", {"business"}),  # a possessive is not the counted noun
        ("How many people work there?", {"people", "work"}),  # no plural in -s: every word counts
        ("How many were there?", set()),
        ("By March 2018, how many years in a row had Taobao been on the list?", {"year"}),
        ("What share of shoppers buy online?", set()),
    ],
)
def test_what_a_count_question_counts(question: str, counted: set[str]) -> None:
    assert counted_nouns(question) == counted


@pytest.mark.parametrize(
    ("sentence", "nouns", "held"),
    [
        ("The raid has led to 24 arrests so far.", {"arrest"}, True),
        ("WeChat has 1.2 billion monthly active users.", {"user"}, True),  # noun a few words after
        ("Orders reached 100 million on the day.", {"order"}, True),  # noun just before
        ("Police took 17 truckloads of counterfeit toys.", {"counterfeiter"}, False),  # a word, not the noun
        ("The 40 shops employ staff from the city of Leeds and its many surrounding villages.", {"village"}, False),
        ("Arrests were made after the raid.", {"arrest"}, False),  # the noun, but no figure
        ("Taobao is on the list for the second year running.", {"year"}, True),  # an ordinal of time
        ("The brand sold online for the first time.", {"time"}, False),  # "first" counts nothing
        ("The shop stands on 42nd Street.", {"street"}, False),  # an ordinal, not a count
        ("Retailers hold one-day sales in order to lift business.", {"order"}, False),  # a set phrase
    ],
)
def test_a_count_must_stand_next_to_what_it_counts(sentence: str, nouns: set[str], held: bool) -> None:
    assert counts(sentence, frozenset(nouns)) is held


@pytest.fixture(scope="module")
def vocabulary() -> BM25Index:
    return BM25Index(
        [
            "Alibaba was fined by China's regulator.",
            "Harbolnas is Indonesia's online shopping day.",
            "Exporters in Italy and the US sell on JD.com.",
        ]
    )


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("How much was Tencent fined by China's regulator?", ["Tencent"]),
        ("How much was Alibaba fined by China's regulator?", []),
        ("How many Indonesian sites join Harbolnas?", []),  # a known name's adjective is known
        ("What share of Italian firms sell on JD.com?", []),
        ("What did the US regulator say about Tencent and Baidu?", ["Tencent", "Baidu"]),
        ("Tencent alone: the first word is not taken for a name", []),
        ("how much was tencent fined", []),  # no capitals, no names
    ],
)
def test_names_the_corpus_never_mentions(vocabulary: BM25Index, question: str, unknown: list[str]) -> None:
    assert unknown_names(question, vocabulary) == unknown


def test_the_vocabulary_answers_prefixes(vocabulary: BM25Index) -> None:
    assert vocabulary.has_prefix("alib") and vocabulary.has_prefix("alibaba")
    assert not vocabulary.has_prefix("tenc")
    assert not BM25Index([]).has_prefix("a")


@pytest.mark.parametrize(
    ("sentence", "byline"),
    [
        ("By Rara Kinasih", True),
        ("Fines have drawn attention to China's anti-trust policies, writes Torsten Weller.", True),
        ("The report was written by Jane Doe of the CBBC.", True),
        ("Sales beat Black Friday's, reports Fortune.", False),  # a source, not the author
        ("By 2020, a quarter of the population will shop online.", False),
        ("Sales rose by a third.", False),
    ],
)
def test_a_byline_is_an_author_answer(sentence: str, byline: bool) -> None:
    assert has_type(sentence, "author") is byline


@pytest.mark.parametrize(
    ("sentence", "change"),
    [
        ("This marked a 60% increase compared to the same sale last year.", True),
        ("Sales in the section were 12 times greater than last year.", True),
        ("Revenue grew by 20 million pounds.", True),
        ("Active users were up about 3 million on the year.", True),
        ("Online sales doubled.", True),
        ("The company generated 100 million orders on its annual one-day sale.", False),  # a level
        ("Its ecommerce business is growing at triple-digit rates.", False),
    ],
)
def test_what_answers_a_question_about_a_change(sentence: str, change: bool) -> None:
    assert has_type(sentence, "change") is change


@pytest.mark.parametrize(
    ("question", "measured"),
    [
        ("What did JD.com's share price do after its June sale?", {"share", "price"}),
        ("How much did orders in the one-day sale grow?", {"order"}),
        ("By how much did the company grow last year?", set()),  # names no quantity
        ("How many orders did the sale take?", set()),  # a count, not a change
    ],
)
def test_what_a_change_question_measures(question: str, measured: set[str]) -> None:
    assert measured_terms(question) == measured


@pytest.mark.parametrize(
    ("sentence", "refers"),
    [
        ("In Hong Kong, 71 percent of mobile internet users have the app.", True),
        ("It has launched 20 measures to support SMEs.", True),
        ("The company launched its first Tmall store in 2008.", True),
        ("Today, it has about 130,000 customers in China.", True),
        ("WhatsApp is used by 71 percent of mobile internet users in Hong Kong.", False),
    ],
)
def test_a_sentence_that_refers_back_for_its_subject(sentence: str, refers: bool) -> None:
    assert refers_back(sentence) is refers


def test_names_a_quote_and_its_context_never_mention() -> None:
    context = TermSet({"hong", "kong", "whatsapp", "mobil", "user"})
    assert unknown_names("What share of Hong Kong's mobile users have WeChat?", context) == ["WeChat"]
    assert unknown_names("What share of Hong Kong's mobile users have WhatsApp?", context) == []
