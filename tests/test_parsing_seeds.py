"""The seed corpus parses into the articles it holds, with their metadata and without boilerplate."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from rag.parsing import make_doc_id, parse_file, parse_paths
from rag.types import Document

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
FEED = SEEDS / "000_aedad9144de11cee.txt"
PLAIN = SEEDS / "002_11f0ea087dfcc475.txt"

# (title, url, published) exactly as in the feed, in feed order.
FEED_ARTICLES = [
    (
        "Alibaba survey: Exports to China are rising – but challenges remain",
        "https://focus.cbbc.org/alibaba-survey-exports-to-china-are-rising-but-challenges-remain/",
        "2023-06-12",
    ),
    (
        "Singles’ Day 2022 stats and trends",
        "https://focus.cbbc.org/singles-day-2022-stats-and-trends/",
        "2022-11-14",
    ),
    (
        "Video: How to tap into China’s love for leggings",
        "https://focus.cbbc.org/video-how-to-tap-into-chinas-love-for-leggings/",
        "2021-10-18",
    ),
    (
        "Video: How a male grooming brand found success in China",
        "https://focus.cbbc.org/video-how-hawkins-brimble-found-success-in-china/",
        "2021-09-07",
    ),
    (
        "Video: How one UK business sold tea to China",
        "https://focus.cbbc.org/video-teapigs-founder-louise-cheadle-on-their-china-journey/",
        "2021-08-25",
    ),
    (
        "Alibaba, Jack Ma, and the latest on China’s anti-trust crackdown",
        "https://focus.cbbc.org/the-latest-on-chinas-anti-trust-crackdown/",
        "2021-04-28",
    ),
    (
        "Alibaba uses its technological clout to support businesses during COVID-19",
        "https://focus.cbbc.org/alibaba-supports-during-virus/",
        "2020-03-31",
    ),
    (
        "Alibaba’s Taobao is on the notoriuos markets list again. What does this mean for IP protection "
        "in the e-commerce world?",
        "https://focus.cbbc.org/ip-protection-alibaba/",
        "2018-03-22",
    ),
    (
        "Millions of pounds worth of fake Peppa Pig products were discovered on a police raid supported "
        "by Alibaba and the CBBC",
        "https://focus.cbbc.org/fake-peppa-pig-raid/",
        "2017-12-22",
    ),
    (
        "Why won’t Chinese tech companies go global,asks Tom Pattinson?",
        "https://focus.cbbc.org/chinese-tech-companies-go-global/",
        "2016-12-20",
    ),
]

PLAIN_TITLES = [
    "Alibaba launches anti fake drive",
    "holds annual sale",  # the glued headline; its lost link text "JD" is not guessed
    "Sales days to generate online retail business during off season",
    "Nestle brand commerce strategy with Alibaba",
]

BOILERPLATE = [
    "appeared first on",
    "]]>",
    "#respond",
    "/feed/ 0",
    "Read Also",
    "launchpad gateway",
    "Launchpad membership",
    "launchpad CBBC",
    "<a href",
]


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    return parse_paths([SEEDS])


@pytest.fixture(scope="module")
def feed_docs(docs: list[Document]) -> list[Document]:
    return [d for d in docs if d.source == FEED.name]


@pytest.fixture(scope="module")
def plain_docs(docs: list[Document]) -> list[Document]:
    return [d for d in docs if d.source == PLAIN.name]


def _paragraphs(doc: Document) -> list[str]:
    return doc.text.split("\n\n")


def test_only_the_two_seed_files_contribute(docs: list[Document]) -> None:
    assert {d.source for d in docs} == {FEED.name, PLAIN.name}
    assert len(docs) == len(FEED_ARTICLES) + len(PLAIN_TITLES)


def test_feed_holds_exactly_ten_articles_with_title_url_and_date(feed_docs: list[Document]) -> None:
    assert [(d.title, d.url, d.published) for d in feed_docs] == FEED_ARTICLES


def test_feed_items_keep_their_guid_and_site(feed_docs: list[Document]) -> None:
    assert feed_docs[0].metadata["guid"] == "https://focus.cbbc.org/?p=12513"
    assert feed_docs[-1].metadata["guid"] == "https://cbbcfocus.com/?p=2733"
    assert {d.metadata["site"] for d in feed_docs} == {"Focus - China Britain Business Council"}


def test_feed_bodies_start_with_the_standfirst_and_keep_the_facts(feed_docs: list[Document]) -> None:
    by_title = {d.title: d for d in feed_docs}
    crackdown = by_title["Alibaba, Jack Ma, and the latest on China’s anti-trust crackdown"]
    assert crackdown.text.startswith("A record £2 billion fine against Alibaba for monopolistic behaviour")
    assert "fined the company a record-breaking RMB 18.2 billion (£2 billion)" in crackdown.text
    assert feed_docs[0].text.startswith("A new survey by Alibaba shows that European businesses")
    assert feed_docs[0].text.endswith("challenges remain: Alibaba survey")
    # Real subheadings are content, not promo lines.
    assert "\n\nExporters face challenges\n\n" in feed_docs[0].text
    assert "\n\nBackground\n\n" in crackdown.text


def test_the_full_text_of_an_article_stays_in_that_article(feed_docs: list[Document]) -> None:
    tea = next(d for d in feed_docs if "tea" in d.title)
    assert "sweet and indulgent flavours like their chocolate flake tea" in tea.text
    assert all("Hawkins & Brimble" not in d.text for d in feed_docs if d is not feed_docs[3])


def test_plain_text_splits_into_its_articles(plain_docs: list[Document]) -> None:
    assert [d.title for d in plain_docs] == PLAIN_TITLES
    anti_fake, jd, off_season, nestle = plain_docs
    assert anti_fake.text.startswith("Counterfeit designer products is a big problem")
    # The glued headline is cut off the paragraph it was stuck to.
    assert anti_fake.text.endswith("A version of this appeared in Reuters on July 1. Read the full article here.")
    assert jd.text.startswith("JD’s record breaking sales")
    assert "\n\n12x Spike in Foreign Brands in Chinese Ecommerce Sale\n\n" in jd.text  # a subheading
    assert off_season.text.startswith("Online retailers around the world are offering one-day summer sales")
    assert off_season.text.endswith("By Rara Kinasih")  # the byline ends its article
    assert off_season.metadata["author"] == "Rara Kinasih"
    assert "\n\nNestle Brand Commerce Strategy With Alibaba is Aggressive\n\n" in nestle.text
    assert nestle.text.endswith("Read the full story on the Alizila blog, written by Jim Erickson.")
    assert all(d.url is None and d.published is None for d in plain_docs)


def test_no_article_text_is_lost_or_duplicated_by_the_split(plain_docs: list[Document]) -> None:
    raw = " ".join(PLAIN.read_text(encoding="utf-8").split())
    rebuilt = " ".join(" ".join(f"{d.title} {d.text}" for d in plain_docs).split())
    # Only the glued headline's position and the title's closing period differ.
    assert len(raw) - len(rebuilt) == 1
    assert rebuilt.count("Foreign brands contributed to this surge") == 1


@pytest.mark.parametrize("needle", BOILERPLATE)
def test_no_boilerplate_survives(docs: list[Document], needle: str) -> None:
    offenders = [d.title for d in docs if needle in d.text]
    assert offenders == []


def test_text_follows_the_whitespace_contract(docs: list[Document]) -> None:
    for d in docs:
        assert d.text == d.text.strip()
        assert "\xa0" not in d.text
        assert "\n\n\n" not in d.text
        for paragraph in _paragraphs(d):
            assert paragraph
            assert paragraph == " ".join(paragraph.split()), paragraph[:80]


def test_curly_quotes_are_kept_verbatim(feed_docs: list[Document]) -> None:
    assert "Alibaba Group’s latest research revealed" in feed_docs[0].text
    assert "“digital first” approach" in feed_docs[2].text


def test_no_truncated_excerpt_survives(docs: list[Document]) -> None:
    for d in docs:
        paragraphs = _paragraphs(d)
        for i, p in enumerate(paragraphs):
            if p.endswith(("…", "...")):
                stem = p.rstrip("….").rstrip()
                later = " ".join(paragraphs[i + 1 :])
                assert stem not in later, f"{d.title}: truncated excerpt {p[:60]!r}"


def test_each_feed_articles_first_paragraph_occurs_exactly_once(feed_docs: list[Document]) -> None:
    for d in feed_docs:
        first = _paragraphs(d)[0]
        assert d.text.count(first) == 1
        # The excerpt repeats the opening words; they must appear once only.
        assert d.text.count(first[:60]) == 1, d.title


def test_doc_ids_are_stable_unique_and_derived_from_source_and_url(docs: list[Document]) -> None:
    again = parse_paths([SEEDS])
    assert [d.doc_id for d in again] == [d.doc_id for d in docs]
    assert len({d.doc_id for d in docs}) == len(docs)
    for d in docs:
        assert re.fullmatch(r"[0-9a-f]{16}", d.doc_id)
        assert d.doc_id == make_doc_id(d.source, d.url or d.title)


def test_parsing_is_deterministic(docs: list[Document]) -> None:
    again = parse_paths([SEEDS])
    assert [(d.title, d.text, d.metadata) for d in again] == [(d.title, d.text, d.metadata) for d in docs]


def test_a_file_named_directly_gets_the_same_source_and_ids(feed_docs: list[Document]) -> None:
    direct = parse_paths([FEED])
    assert [(d.source, d.doc_id) for d in direct] == [(d.source, d.doc_id) for d in feed_docs]


def test_the_feed_dump_is_recognised_by_shape_not_by_name(tmp_path: Path) -> None:
    renamed = tmp_path / "news.txt"
    shutil.copyfile(FEED, renamed)
    docs = parse_file(renamed, "news.txt")
    assert [(d.title, d.url, d.published) for d in docs] == FEED_ARTICLES
