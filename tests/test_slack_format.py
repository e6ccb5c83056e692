"""Answers rendered as Slack mrkdwn / Block Kit."""

from __future__ import annotations

import re

import pytest

from rag.types import Answer, Citation
from service.slack_format import (
    FEEDBACK_ACTIONS,
    MAX_BLOCKS,
    MAX_SECTION_CHARS,
    answer_message,
    escape,
    explain_reason,
    link,
    truncate,
)


def _citation(n: int, **changes: object) -> Citation:
    values: dict[str, object] = {
        "n": n,
        "doc_id": f"d{n}",
        "chunk_id": f"c{n}",
        "title": f"Title {n}",
        "url": f"https://news.example/{n}",
        "published": "2021-04-28",
        "source": "seed.txt",
        "text": f"Passage {n}.",
        "score": 0.5,
        "start": 0,
        "end": 10,
    }
    values.update(changes)
    return Citation(**values)  # type: ignore[arg-type]


def _answer(text: str, citations: tuple[Citation, ...], abstained: bool = False, reason: str | None = None) -> Answer:
    return Answer("q", text, abstained, citations, "extractive", "v1", {}, reason)


def _all_text(message: dict) -> str:
    return "\n".join(block["text"]["text"] for block in message["blocks"] if block["type"] == "section")


def test_escape_the_three_control_characters_once() -> None:
    assert escape("AT&T <b>bold</b> > 3") == "AT&amp;T &lt;b&gt;bold&lt;/b&gt; &gt; 3"
    assert escape("&amp;") == "&amp;amp;"


def test_answer_then_sources_with_links_and_dates() -> None:
    answer = _answer(
        "Alibaba was fined RMB 18.2 billion [1]. It paid [2].", (_citation(1), _citation(2, published=None))
    )
    message = answer_message(answer)
    text = _all_text(message)
    assert message["blocks"][0]["text"]["text"] == "Alibaba was fined RMB 18.2 billion [1]. It paid [2]."
    assert message["blocks"][0]["text"]["type"] == "mrkdwn"
    assert "*Sources*" in text
    assert "*[1]* <https://news.example/1|Title 1> · 2021-04-28\n>Passage 1." in text
    assert "*[2]* <https://news.example/2|Title 2>\n>Passage 2." in text  # undated: no date shown
    assert "<https://news.example/1|Title 1> (2021-04-28)" in message["text"]  # notification fallback


def test_untrusted_text_cannot_inject_mrkdwn_controls() -> None:
    evil = _citation(
        1,
        title="Deals <!channel> & <https://phish.example|click> here",
        url="https://news.example/a?x=1&y=2|z>",
        text="<@U123> & <script>alert(1)</script>",
    )
    message = answer_message(_answer("Quote: <!here> & more [1].", (evil,)))
    text = _all_text(message) + message["text"]
    assert "<!channel>" not in text and "<!here>" not in text and "<@U123>" not in text
    assert "<https://phish.example" not in text and "<script>" not in text
    assert "<https://news.example/a?x=1&amp;y=2%7Cz&gt;|Deals &lt;!channel&gt; &amp; " in text
    # Every remaining "<" opens one of our own links.
    assert all(m.startswith("<https://news.example/") for m in re.findall(r"<[^>]*>", text))


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://files.example/x", "not a url", "", None, "https://"])
def test_only_web_urls_become_links(url: str | None) -> None:
    assert link(url, "Title & co") == "Title &amp; co"


def test_abstention_says_why() -> None:
    message = answer_message(
        _answer("I could not find this in the articles.", (_citation(1),), abstained=True, reason="low_support")
    )
    first = message["blocks"][0]["text"]["text"]
    assert "No answer" in first and "do not clearly support an answer" in first
    assert "*Closest passages*" in _all_text(message)
    assert "none of the indexed articles" in explain_reason("no_relevant_passage")
    assert explain_reason("some_new_code") == "some new code"
    assert explain_reason(None)


def test_block_kit_limits_are_respected() -> None:
    long_answer = "word & " * 2000  # 14,000 characters before escaping
    citations = tuple(_citation(n, text="x" * 5000, title="t" * 4000) for n in range(1, 81))
    message = answer_message(_answer(long_answer, citations), context="an earlier question " * 200)
    assert len(message["blocks"]) == MAX_BLOCKS
    for block in message["blocks"][:-1]:
        assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
    buttons = message["blocks"][-1]
    assert buttons["type"] == "actions" and [b["action_id"] for b in buttons["elements"]] == list(FEEDBACK_ACTIONS)
    assert all(len(b["value"]) <= 2000 for b in buttons["elements"])
    assert len(message["text"]) <= MAX_SECTION_CHARS


def test_a_follow_up_says_which_question_it_took_as_context() -> None:
    message = answer_message(_answer("It sold more [1].", (_citation(1),)), context="How much did <b> sell in 2017?")
    first = message["blocks"][0]["text"]["text"]
    assert first == "_Following up on “How much did &lt;b&gt; sell in 2017?” in this thread._"
    assert message["text"].startswith(first)
    assert answer_message(_answer("x [1].", (_citation(1),)), feedback=False)["blocks"][-1]["type"] == "section"


def test_with_a_public_url_citations_link_to_the_marked_article() -> None:
    message = answer_message(_answer("x [1].", (_citation(1),)), public_url="https://ask.example.org/")
    assert "<https://ask.example.org/documents/d1?hl=" in _all_text(message)


def test_truncation_never_splits_an_escape() -> None:
    text = escape("&" * 2000)
    cut = truncate(text, 3000)
    assert len(cut) <= 3000 and cut.endswith("…")
    assert re.fullmatch(r"(&amp;)+…", cut)
    assert truncate("short", 10) == "short"
