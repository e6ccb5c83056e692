"""Which years a question names, and whether a dated article's sentence speaks of them."""

import pytest

from rag.years import named_years, speaks_of


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("Sales in 2016 and 2017, not 12016 or 1949", {2016, 2017}),
        ("How much did Alibaba sell on Singles' Day 2016?", {2016}),
        ("What did the 2022 Singles' Day bring, compared with 2021's?", {2022, 2021}),
        ("What Singles' Day sales figures were reported for 2016, 2017 and 2022?", {2016, 2017, 2022}),
        ("By March 2018, how many years in a row had Taobao been listed?", {2018}),
        ("Which firm has more than 2000 employees in Leeds?", set()),  # a count, not a year
        ("How many of its 2050 stores opened in 2019?", {2019}),
        ("How much did Alibaba sell?", set()),
    ],
)
def test_named_years(text: str, years: set[int]) -> None:
    assert named_years(text) == years


@pytest.mark.parametrize(
    ("sentence", "published", "years", "speaks"),
    [
        ("Sales reached $17.79 billion in 2016.", "2017-01-10", {2016}, True),  # names the year
        ("Alibaba took £19 billion on Singles' Day this year.", "2017-12-22", {2017}, True),  # dated article
        ("Alibaba took £19 billion on Singles' Day this year.", "2017-12-22", {2016}, False),
        ("Sales rose 30% last year.", "2017-03-01", {2016}, True),
        ("Sales should double next year.", "2016-06-01", {2017}, True),
        ("Sales rose 30% last year.", "2017-03-01", {2015}, False),
        ("Sales rose 30%.", None, {2016}, False),  # undated, and names no year
        ("Sales rose 30%.", "unknown", {2016}, False),
    ],
)
def test_speaks_of(sentence: str, published: str | None, years: set[int], speaks: bool) -> None:
    assert speaks_of(sentence, published, frozenset(years)) is speaks
