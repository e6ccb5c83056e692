"""The extractive composer: verbatim quotes at exact offsets, [n] discipline, abstention, fail-closed."""

import re
from dataclasses import replace

import pytest

from rag.answer.abstention import ABSTAIN_TEXT
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


def _one_document_engine(tmp_path, text: str, **changes) -> RagEngine:
    return _engine(tmp_path, [{"id": "acme", "title": "Acme widgets", "text": text}], **changes)


def _engine(tmp_path, records: list[dict[str, str]], **changes) -> RagEngine:
    import json

    from rag.embedding.fake import HashingEmbedder
    from rag.ingest import ingest
    from rag.settings import Settings

    corpus = tmp_path / "doc.jsonl"
    corpus.write_text("".join(json.dumps(record) + "\n" for record in records))
    settings = Settings(index_dir=tmp_path / "index")
    embedder = HashingEmbedder()
    ingest([corpus], settings, embedder=embedder)
    engine = RagEngine.open(settings, embedder=embedder)
    # Threshold off: only the answer-type rule may decline.
    config = replace(engine.config, abstain_threshold=-1.0, **changes)
    return RagEngine(engine.data, embedder, settings, answer_config=config)


NO_FIGURES = "Acme Corp makes widgets in Leeds. Acme Corp widgets are sold across Europe by a family firm."


@pytest.mark.parametrize(
    "question", ["How many widgets does Acme Corp make in Leeds?", "When did Acme Corp start making widgets?"]
)
def test_a_number_or_date_question_abstains_when_the_best_sentence_has_none(tmp_path, question: str) -> None:
    answer = _one_document_engine(tmp_path, NO_FIGURES).ask(question)
    assert answer.abstained and answer.reason == "low_support"
    assert answer.answer.startswith(ABSTAIN_TEXT)
    assert answer.citations  # the nearest passage, for the reader to check


def test_the_same_question_is_answered_when_the_sentence_holds_the_figure(tmp_path) -> None:
    text = "Acme Corp makes 500 widgets a day in Leeds. Acme Corp widgets are sold across Europe by a family firm."
    answer = _one_document_engine(tmp_path, text).ask("How many widgets does Acme Corp make in Leeds?")
    assert not answer.abstained
    assert "500 widgets" in answer.answer


def test_the_answer_type_rule_can_be_switched_off(tmp_path) -> None:
    engine = _one_document_engine(tmp_path, NO_FIGURES, require_answer_type=False)
    assert not engine.ask("How many widgets does Acme Corp make in Leeds?").abstained


def test_a_count_of_the_thing_asked_about_is_an_answer(tmp_path) -> None:
    text = "Acme Corp has 40 widget shops in Leeds. Acme Corp is a family firm."
    engine = _one_document_engine(tmp_path, text)
    answer = engine.ask("How many of the Leeds widget shops does Acme Corp run?")
    assert not answer.abstained
    assert "40 widget shops" in answer.answer


def test_a_question_naming_something_the_documents_never_mention_abstains_and_says_what(tmp_path) -> None:
    text = "Acme Corp makes 500 widgets a day in Leeds. Acme Corp widgets are sold across Europe by a family firm."
    engine = _one_document_engine(tmp_path, text)
    answer = engine.ask("How many widgets does Globex make in Leeds?")
    assert answer.abstained and answer.reason == "no_relevant_passage"
    assert "never mention “Globex”" in answer.answer
    assert answer.citations  # the nearest passage, for the reader to check
    assert not engine.ask("How many widgets does Acme Corp make in Leeds?").abstained


def test_the_unknown_name_rule_can_be_switched_off(tmp_path) -> None:
    text = "Acme Corp makes 500 widgets a day in Leeds. Acme Corp widgets are sold across Europe by a family firm."
    engine = _one_document_engine(tmp_path, text, require_known_names=False)
    assert not engine.ask("How many widgets does Globex make in Leeds?").abstained


@pytest.mark.parametrize(
    ("text", "question"),
    [
        # A count question answered only by a share and a year: the count is missing.
        ("Acme Corp sold 18% more widgets in Leeds in 2014. Acme Corp is a family firm.",
         "How many widgets did Acme Corp sell in Leeds?"),
        # A money question answered only by a count.
        ("Acme Corp makes three kinds of widgets in Leeds. Acme Corp is a family firm.",
         "How much revenue does Acme Corp make from widgets in Leeds?"),
        # A share question answered only by a count.
        ("Acme Corp has 40 widget shops in Leeds. Acme Corp is a family firm.",
         "What share of Leeds widget shops does Acme Corp own?"),
        # A change question answered only by a level.
        ("Acme Corp made 100 widgets in Leeds this year. Acme Corp is a family firm.",
         "By how much did the number of widgets Acme Corp made in Leeds grow this year?"),
        # A count, but of something else than what is asked about.
        ("Acme Corp has 40 widget shops in Leeds. Acme Corp is a family firm.",
         "How many employees does Acme Corp have in its Leeds widget shops?"),
        # The sentence names the counted thing's word, but counts something else next to it.
        ("Police seized 17 truckloads of counterfeit Acme widgets in Leeds. Acme Corp is a family firm.",
         "How many of the Acme widget counterfeiters were convicted in Leeds?"),
        # A change, but of something else than the quantity asked about.
        ("Acme Corp sold 100 widgets in Leeds this year. This marked a 60% increase on last year.",
         "What did the Acme Corp share price do after the Leeds widget sale?"),
    ],
)
def test_a_figure_of_the_wrong_kind_is_not_an_answer(tmp_path, text: str, question: str) -> None:
    answer = _one_document_engine(tmp_path, text).ask(question)
    assert answer.abstained and answer.reason == "low_support"


THREE_ABOUT_WIDGETS = (
    "Acme Corp widgets are made in Leeds by hand. Acme Corp widgets are painted blue in a Leeds workshop. "
    "Acme Corp widgets ship from Leeds to buyers across Europe."
)


def test_past_two_quotes_only_a_new_article_may_add_one(tmp_path) -> None:
    question = "Where are Acme Corp widgets made, painted and shipped from in Leeds?"
    loose = {"sentence_margin": 1.0, "max_sentences": 3}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    capped = _one_document_engine(tmp_path / "a", THREE_ABOUT_WIDGETS, **loose).ask(question)
    assert len(capped.citations) == 2
    uncapped = _one_document_engine(tmp_path / "b", THREE_ABOUT_WIDGETS, same_article_quotes=3, **loose).ask(question)
    assert len(uncapped.citations) == 3


def test_further_quotes_stay_within_the_answer_budget(tmp_path) -> None:
    question = "Where are Acme Corp widgets made, painted and shipped from in Leeds?"
    loose = {"sentence_margin": 1.0, "max_sentences": 3, "same_article_quotes": 3}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    roomy = _one_document_engine(tmp_path / "a", THREE_ABOUT_WIDGETS, **loose).ask(question)
    assert len(roomy.citations) == 3
    first = len(roomy.citations[0].text)
    # Room for the first quote and little more: the first is always quoted, no further one fits.
    tight = _one_document_engine(tmp_path / "b", THREE_ABOUT_WIDGETS, max_answer_chars=first + 5, **loose).ask(
        question
    )
    assert [c.text for c in tight.citations] == [roomy.citations[0].text]


def test_past_the_first_quote_a_figure_question_quotes_only_sentences_with_such_a_figure(tmp_path) -> None:
    text = (
        "Acme Corp makes 500 widgets a day in Leeds. Acme Corp widgets are made in Leeds by a family firm. "
        "Last year the Acme Corp plant in Leeds made 90,000 widgets."
    )
    answer = _one_document_engine(tmp_path, text, sentence_margin=1.0, same_article_quotes=3).ask(
        "How many widgets does Acme Corp make in Leeds?"
    )
    assert not answer.abstained
    quoted = [c.text for c in answer.citations]
    assert len(quoted) == 2 and all("widgets" in q and any(ch.isdigit() for ch in q) for q in quoted)


WIDGET_SALES_BY_YEAR = [
    {"id": "acme-2016", "title": "Acme widget sales", "published": "2016-12-01",
     "text": "Acme Corp widget sales reached $10 billion in Leeds this year. Acme Corp is a family firm."},
    {"id": "acme-2017", "title": "Acme widget sales again", "published": "2017-12-01",
     "text": "Acme Corp widget sales in Leeds reached $12 billion this year. Acme Corp is a family firm."},
]


def test_a_question_about_a_year_is_answered_from_that_year(tmp_path) -> None:
    engine = _engine(tmp_path, WIDGET_SALES_BY_YEAR)
    for year, figure, doc_id in [("2016", "$10 billion", "acme-2016"), ("2017", "$12 billion", "acme-2017")]:
        answer = engine.ask(f"How much did Acme Corp widget sales in Leeds reach in {year}?")
        assert not answer.abstained
        assert figure in answer.answer
        assert {c.doc_id for c in answer.citations} == {doc_id}


def test_a_question_about_a_year_no_article_speaks_of_abstains(tmp_path) -> None:
    (tmp_path / "on").mkdir()
    (tmp_path / "off").mkdir()
    question = "How much did Acme Corp widget sales in Leeds reach in 2019?"
    answer = _engine(tmp_path / "on", WIDGET_SALES_BY_YEAR).ask(question)
    assert answer.abstained and answer.reason == "no_relevant_passage"
    assert answer.citations  # the nearest passages, for the reader to check
    assert not _engine(tmp_path / "off", WIDGET_SALES_BY_YEAR, require_asked_year=False).ask(question).abstained


def test_the_next_sentence_may_answer_when_the_best_one_only_names_the_subject(tmp_path) -> None:
    text = "Acme Corp is a widget maker in Leeds. Today it has 40 shops in the north."
    answer = _one_document_engine(tmp_path, text).ask("How many shops does the Leeds widget maker Acme Corp have?")
    assert not answer.abstained
    assert [c.text for c in answer.citations] == ["Today it has 40 shops in the north."]


def test_a_change_is_answered_with_what_it_measures_named_in_the_sentence_before(tmp_path) -> None:
    text = "Acme Corp took 100 widget orders in Leeds this year. This marked a 60% increase on last year."
    answer = _one_document_engine(tmp_path, text).ask("By how much did Acme Corp's Leeds widget orders grow?")
    assert not answer.abstained
    assert "60% increase" in answer.answer


def test_a_figure_two_sentences_away_does_not_answer(tmp_path) -> None:
    text = "Acme Corp is a widget maker in Leeds. It is a family firm. Today it makes £40 million a year."
    answer = _one_document_engine(tmp_path, text).ask("How much revenue does the Leeds widget maker Acme Corp make?")
    assert answer.abstained and answer.reason == "low_support"


def test_a_count_of_the_thing_asked_about_anywhere_in_the_best_article_may_answer(tmp_path) -> None:
    text = (
        "Police raided an Acme Corp widget factory in Leeds. The raid took months to plan. Officers praised "
        "the team. The raid has led to 24 arrests so far."
    )
    answer = _one_document_engine(tmp_path, text).ask("How many arrests followed the Acme Corp raid in Leeds?")
    assert not answer.abstained
    assert [c.text for c in answer.citations] == ["The raid has led to 24 arrests so far."]


def test_a_count_far_from_the_best_sentence_must_still_be_about_the_names_asked(tmp_path) -> None:
    text = (
        "Acme Corp makes widgets in Leeds. Widget making is an old craft. Makers work long hours. "
        "Bolt Ltd sells gadgets in York. Today, it has about 40 shops."
    )
    answer = _one_document_engine(tmp_path, text).ask("How many shops does Acme Corp have in Leeds?")
    assert answer.abstained and answer.reason == "low_support"


WIDGET_ARTICLE = "Acme Corp widgets are made in Leeds by hand. Acme Corp widgets are painted blue in Leeds."


def test_who_wrote_an_article_is_answered_by_its_byline(tmp_path) -> None:
    answer = _one_document_engine(tmp_path, WIDGET_ARTICLE + "\n\nBy Jane Doe").ask(
        "Who wrote the piece about Acme Corp widgets made in Leeds?"
    )
    assert not answer.abstained
    assert [c.text for c in answer.citations] == ["By Jane Doe"]


def test_who_wrote_an_article_without_a_byline_abstains(tmp_path) -> None:
    answer = _one_document_engine(tmp_path, WIDGET_ARTICLE + " Jane Doe runs the Leeds works.").ask(
        "Who wrote the piece about Acme Corp widgets made in Leeds?"
    )
    assert answer.abstained and answer.reason == "low_support"


DECK = (
    "From new widget colours to faster shipping and lower prices, these are the major trends at the Leeds "
    "widget fair run by Acme Corp\n\n"
    "Acme Corp widgets are painted blue in Leeds by a family firm."
)


def test_a_standfirst_is_not_quoted_as_an_answer(tmp_path) -> None:
    answer = _one_document_engine(tmp_path, DECK).ask("What are the major trends at the Acme Corp Leeds widget fair?")
    assert not answer.abstained
    assert [c.text for c in answer.citations] == ["Acme Corp widgets are painted blue in Leeds by a family firm."]


def test_a_standfirst_holding_the_figure_asked_for_may_answer(tmp_path) -> None:
    text = (
        "Acme Corp once again stole the headlines last month as sales at its Leeds widget fair reached $17 "
        "million on the opening day of the fair\n\n"
        "Acme Corp widgets are painted blue in Leeds by a family firm."
    )
    answer = _one_document_engine(tmp_path, text).ask("How much did Acme Corp sell at its Leeds widget fair?")
    assert not answer.abstained
    assert "$17 million" in answer.answer


def test_a_syndication_note_is_never_quoted(tmp_path) -> None:
    text = (
        "Acme Corp widgets are painted blue in Leeds by a family firm. This article was originally published "
        "by our partner as “Acme Corp widget fair in Leeds sets the trends for widgets next year”."
    )
    engine = _one_document_engine(tmp_path, text, sentence_margin=1.0)
    answer = engine.ask("What trends does the Acme Corp widget fair set?")
    assert not answer.abstained
    assert all("originally published" not in c.text for c in answer.citations)


def test_a_sentence_borrows_part_of_its_term_overlap_from_the_one_before(tmp_path) -> None:
    from rag.answer.evidence import score_candidates

    text = "Acme Corp widgets sell well across Europe. In Leeds, however, sales are weak."
    engine = _one_document_engine(tmp_path, text)
    question = "How do Acme Corp widgets sell in Leeds?"
    vector = engine.embedder.embed_query(question)
    hits = engine.retriever.retrieve(question, vector, 5)
    composer = engine.extractive

    def scores(context_weight: float) -> dict[str, float]:
        config = replace(composer.config, context_weight=context_weight)
        candidates = score_candidates(question, vector, hits, composer.sentences, config, composer.idf, kind=None)
        return {c.sentence.text: c.score for c in candidates}

    alone, with_context = scores(0.0), scores(0.3)
    elliptical, first = "In Leeds, however, sales are weak.", "Acme Corp widgets sell well across Europe."
    assert with_context[elliptical] > alone[elliptical]
    assert with_context[first] == pytest.approx(alone[first])  # the article's first sentence has no context


APPS = (
    "Acme Corp makes widgets in Leeds. Widget making is an old craft. Its makers work long hours. "
    "The chat app Zapchat is not blocked in Leeds. It is used by most widget "
    "makers. In Leeds for example, 71 percent of widget makers have the app."
)


def test_a_quote_referring_back_to_another_name_does_not_answer(tmp_path) -> None:
    engine = _one_document_engine(tmp_path, APPS)
    answered = engine.ask("What share of widget makers in Leeds have Zapchat?")
    assert not answered.abstained
    assert "71 percent" in answered.answer
    # "the app" is Zapchat: about another app, the same quote says nothing.
    other = engine.ask("What share of widget makers in Leeds have Acme?")
    assert other.abstained and other.reason == "low_support"


def test_a_question_about_several_years_quotes_each_year_in_order(tmp_path) -> None:
    engine = _engine(tmp_path, WIDGET_SALES_BY_YEAR)
    answer = engine.ask("How much did Acme Corp widget sales in Leeds reach in 2016 and 2017?")
    assert not answer.abstained
    assert [c.doc_id for c in answer.citations] == ["acme-2016", "acme-2017"]
    assert "$10 billion" in answer.answer and "$12 billion" in answer.answer
