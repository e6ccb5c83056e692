"""Which years a question names, and whether a dated article's sentence speaks of them."""

import pytest

from rag.years import named_years, speaks_of


def test_named_years() -> None:
    assert named_years("Sales in 2016 and 2017, not 12016 or 1949") == {2016, 2017}
    assert named_years("How much did Alibaba sell?") == frozenset()


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
