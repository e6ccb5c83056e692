"""End to end with the real all-MiniLM-L6-v2 model on seeds/ (loaded once per session)."""

import re
from pathlib import Path

import pytest

from rag.engine import RagEngine
from rag.ingest import ingest
from rag.settings import Settings

pytestmark = pytest.mark.integration

ANTITRUST_URL = "https://focus.cbbc.org/the-latest-on-chinas-anti-trust-crackdown/"
PEPPA_URL = "https://focus.cbbc.org/fake-peppa-pig-raid/"


def test_the_fine_question_is_answered_with_the_figure_and_the_right_article(real_engine: RagEngine) -> None:
    answer = real_engine.ask("How much did China's market regulator fine Alibaba?")
    assert not answer.abstained
    assert "18.2 billion" in answer.answer
    assert ANTITRUST_URL in {c.url for c in answer.citations}
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)} == {c.n for c in answer.citations}
    for citation in answer.citations:
        assert real_engine.document(citation.doc_id).text[citation.start : citation.end] == citation.text


def test_the_peppa_pig_question_cites_the_raid_article(real_engine: RagEngine) -> None:
    answer = real_engine.ask("How many fake Peppa Pig products were seized?")
    assert "600,000" in answer.answer
    assert PEPPA_URL in {c.url for c in answer.citations}


def test_a_question_the_articles_do_not_answer_is_declined(real_engine: RagEngine) -> None:
    answer = real_engine.ask("What was Apple's revenue in 2020?")
    assert answer.abstained and answer.reason in {"low_support", "no_relevant_passage"}


def test_search_ranks_the_relevant_article_first(real_engine: RagEngine) -> None:
    hits = real_engine.search("anti-trust crackdown on Ant Group and Jack Ma", k=5).hits
    assert hits[0].url == ANTITRUST_URL
    assert 0.0 < hits[0].score <= 1.0


def test_reingesting_unchanged_seeds_embeds_nothing(real_index_dir: Path, real_embedder, seeds_dir: Path) -> None:
    summary = ingest([seeds_dir], Settings(index_dir=real_index_dir), embedder=real_embedder)
    assert summary.embedded == 0 and summary.sentences_embedded == 0 and not summary.written
