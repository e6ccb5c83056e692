"""The extractive composer: verbatim quotes at exact offsets, [n] discipline, abstention, fail-closed."""

import re
from dataclasses import replace

import pytest

from rag.answer.extractive import ABSTAIN_TEXT
from rag.engine import RagEngine
from rag.errors import QuestionError
from rag.types import Sentence

QUESTIONS = [
    "How many fake Peppa Pig products were seized?",
    "What did the Alibaba survey find about European exports?",
    "What happened to Alibaba's Taobao and the notorious markets list?",
    "Which sales did JD announce?",
]


def _markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_quote_is_verbatim_at_its_offsets_and_every_marker_has_a_citation(
    fake_engine: RagEngine, question: str
) -> None:
    answer = fake_engine.ask(question)
    assert answer.citations
    assert _markers(answer.answer) == {c.n for c in answer.citations}
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for citation in answer.citations:
        doc = fake_engine.document(citation.doc_id)
        assert doc.text[citation.start : citation.end] == citation.text
        assert (citation.title, citation.url, citation.published) == (doc.title, doc.url, doc.published)
        if not answer.abstained:
            assert f"{citation.text} [{citation.n}]" in answer.answer
    assert answer.mode == "extractive"
    assert answer.index_version == fake_engine.index_version


def test_answers_quote_between_one_and_four_sentences(fake_engine: RagEngine) -> None:
    answer = fake_engine.ask(QUESTIONS[0])
    assert not answer.abstained
    assert 1 <= len(answer.citations) <= 4


def test_unrelated_questions_abstain_plainly_with_a_reason(fake_engine: RagEngine) -> None:
    answer = fake_engine.ask("quantum chromodynamics gluon lattice simulation")
    assert answer.abstained
    assert answer.answer.startswith(ABSTAIN_TEXT)
    assert answer.reason in {"no_relevant_passage", "low_support"}
    assert _markers(answer.answer) == {c.n for c in answer.citations}


def test_a_quote_that_is_not_verbatim_at_its_offsets_is_dropped(fake_engine: RagEngine) -> None:
    composer = fake_engine.extractive
    data = composer.sentences.data
    original = list(data.sentences)
    try:
        # Shift every sentence's offsets by one: none of them sits verbatim any more.
        data.sentences[:] = [
            Sentence(s.chunk_id, s.doc_id, s.text, s.start + 1, s.end + 1) for s in original
        ]
        answer = fake_engine.ask(QUESTIONS[0])
    finally:
        data.sentences[:] = original
    assert answer.abstained and answer.reason == "low_support"


@pytest.mark.parametrize(("question", "k"), [("   ", 5), ("x" * 2001, 5), ("ok?", 0), ("ok?", 21), ("ok?", True)])
def test_bad_questions_and_k_are_rejected(fake_engine: RagEngine, question: str, k: int) -> None:
    with pytest.raises(QuestionError):
        fake_engine.ask(question, top_k=k)


def test_the_answer_body_has_the_spec_fields(fake_engine: RagEngine) -> None:
    body = fake_engine.ask(QUESTIONS[0]).as_dict()
    assert set(body) >= {"question", "answer", "abstained", "citations", "mode", "index_version", "timings_ms"}
    assert set(body["timings_ms"]) >= {"encode", "retrieve", "compose", "total"}
    citation = body["citations"][0]
    assert set(citation) == {
        "n", "doc_id", "chunk_id", "title", "url", "published", "source", "text", "score", "start", "end"
    }
    assert replace(fake_engine.ask(QUESTIONS[0]), timings_ms={}) == replace(
        fake_engine.ask(QUESTIONS[0]), timings_ms={}
    ), "the same question on the same index gives the same answer"
