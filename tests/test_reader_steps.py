"""Each step of the reader pipeline alone: question parsing, candidate features, scorers, selection,
abstention, the verbatim check, passage reranking and the composer that chains them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.answer.abstention import LearnedAbstainer, QuestionSignals, answerability_features, question_signals
from rag.answer.features import FEATURES, gather
from rag.answer.question import parse_question, wh_class
from rag.answer.reader import ReaderComposer
from rag.answer.reader_model import ANSWERABILITY_FEATURES, LinearModel, ReaderModel, load_reader_model
from rag.answer.rerank import PassageReranker
from rag.answer.scoring import CosineScorer, LearnedScorer, RandomScorer
from rag.answer.selection import SelectionConfig, select
from rag.answer.verbatim import is_verbatim
from rag.embedding.fake import HashingEmbedder
from rag.engine import RagEngine
from rag.errors import ConfigError
from rag.ingest import ingest
from rag.settings import Settings

STORM = (
    "Storm Ciaran reached the coast of Cornwall on Thursday morning. Gusts of 100 mph were recorded at "
    "the Lizard. Schools stayed closed.\n\nForecasters expect calmer weather next week."
)
TRAMS = "Leeds council approved a tram line in 2023. Construction of the tram line starts in 2026 near the station."


def _engine(tmp_path: Path, docs: dict[str, str], **changes: object) -> RagEngine:
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps({"id": k, "title": "", "text": v}) + "\n" for k, v in docs.items()))
    settings = Settings(index_dir=tmp_path / "index")
    embedder = HashingEmbedder()
    ingest([corpus], settings, embedder=embedder)
    engine = RagEngine.open(settings, embedder=embedder)
    if changes:
        engine = RagEngine(engine.data, embedder, settings, answer_config=replace(engine.config, **changes))
    return engine


def _linear(names: tuple[str, ...], weights: dict[str, float], intercept: float = 0.0) -> LinearModel:
    coef = np.array([weights.get(n, 0.0) for n in names])
    return LinearModel(names, np.zeros(len(names)), np.ones(len(names)), coef, intercept)


def _candidates(engine: RagEngine, question: str):
    vector = engine.embedder.embed_query(question)
    hits = engine.retriever.retrieve(question, vector, 5)
    parsed = parse_question(question, engine.retriever.bm25.idf)
    return parsed, gather(parsed, vector, hits, engine.extractive.sentences), hits, vector


@pytest.mark.parametrize(
    ("question", "wh"),
    [
        ("How many people were evacuated?", "how_many"),
        ("How much did the fine cost?", "how_much"),
        ("In which county were the graves found?", "which_what"),
        ("Who won the marathon?", "who"),
        ("When did the strike end?", "when"),
        ("Why did the bank raise rates?", "why_how"),
        ("Storm Ciaran hit Cornwall", "other"),
    ],
)
def test_the_interrogative_is_read_once_into_a_class(question: str, wh: str) -> None:
    assert wh_class(question) == wh


def test_a_parsed_question_has_weighted_terms_years_and_names() -> None:
    parsed = parse_question("Did Storm Ciaran hit Cornwall in 2023?", idf=lambda t: 2.0 if t == "cornwal" else 1.0)
    assert parsed.years == frozenset({2023})
    assert "Cornwall" in parsed.names and "Ciaran" in parsed.names
    assert parsed.weights["cornwal"] == 2.0
    assert parsed.coverage(frozenset(parsed.weights)) == 1.0 and parsed.coverage(frozenset()) == 0.0


def test_candidates_are_the_sentences_of_the_hits_with_their_features(tmp_path: Path) -> None:
    engine = _engine(tmp_path, {"storm": STORM, "trams": TRAMS})
    _, cands, _, vector = _candidates(engine, "How many mph were the gusts of Storm Ciaran?")
    assert cands.matrix.shape == (len(cands), len(FEATURES)) and len(cands) >= 4
    sentences = engine.extractive.sentences
    for row, hit in zip(cands.rows, cands.hits, strict=True):
        s = sentences.data.sentences[row]
        assert s.doc_id == hit.doc_id and hit.start <= s.start and s.end <= hit.end
    texts = [sentences.data.sentences[r].text for r in cands.rows]
    gusts = texts.index("Gusts of 100 mph were recorded at the Lizard.")
    cos = float(np.asarray(sentences.data.sentence_vectors[cands.rows[gusts]]) @ vector)
    assert cands.column("cos")[gusts] == pytest.approx(cos, abs=1e-5)
    assert cands.column("has_number")[gusts] == 1 and cands.column("how_many*has_number")[gusts] == 1
    assert cands.column("who*has_number")[gusts] == 0
    first = texts.index(STORM.split(". ")[0] + ".")
    assert cands.column("cos_prev")[first] == 0 and cands.column("doc_position")[first] == 1.0
    assert cands.column("lex_prev")[gusts] == pytest.approx(cands.column("lex")[first])
    assert cands.column("cos_rel").max() == 0 and cands.column("lex_rel").max() == 0


def test_no_hits_give_no_candidates(tmp_path: Path) -> None:
    engine = _engine(tmp_path, {"storm": STORM})
    nothing = np.zeros(engine.embedder.dim, np.float32)
    cands = gather(parse_question("anything?"), nothing, [], engine.extractive.sentences)
    assert len(cands) == 0 and cands.matrix.shape == (0, len(FEATURES))


def test_scorers_keep_their_contract(tmp_path: Path) -> None:
    engine = _engine(tmp_path, {"storm": STORM, "trams": TRAMS})
    _, cands, _, _ = _candidates(engine, "How many mph were the gusts of Storm Ciaran?")
    lexical = LearnedScorer(_linear(FEATURES, {"lex": 5.0}))
    for scorer in (lexical, CosineScorer(), RandomScorer(seed=3)):
        scores = scorer.score(cands)
        assert scores.shape == (len(cands),) and np.all(np.isfinite(scores))
        assert np.array_equal(scores, scorer.score(cands)), "same candidates, same scores"
    assert np.allclose(CosineScorer().score(cands), cands.cosines)
    probs = lexical.score(cands)
    assert np.all((probs > 0) & (probs < 1))
    assert int(np.argmax(probs)) == int(np.argmax(cands.column("lex")))
    assert not np.array_equal(RandomScorer(seed=3).score(cands), RandomScorer(seed=4).score(cands))


def test_selection_quotes_the_best_with_the_sentence_that_carries_its_subject(tmp_path: Path) -> None:
    engine = _engine(tmp_path, {"storm": STORM})
    sentences = engine.extractive.sentences
    _, cands, _, _ = _candidates(engine, "How strong were the gusts when Storm Ciaran reached Cornwall?")
    texts = [sentences.data.sentences[r].text for r in cands.rows]
    scores = np.array([1.0 if t.startswith("Gusts") else 0.1 for t in texts])
    allowed = np.ones(len(cands), bool)
    quotes = select(cands, scores, allowed, sentences, SelectionConfig())
    first = [sentences.data.sentences[r].text for r in quotes[0].rows]
    assert first == [texts[0], "Gusts of 100 mph were recorded at the Lizard."], "the subject comes along"
    alone = select(cands, scores, allowed, sentences, SelectionConfig(context_sentence=False))
    gusts = "Gusts of 100 mph were recorded at the Lizard."
    assert [sentences.data.sentences[r].text for r in alone[0].rows] == [gusts]
    assert select(cands, scores, np.zeros(len(cands), bool), sentences, SelectionConfig()) == []


def test_further_quotes_need_a_close_score_no_neighbour_and_room(tmp_path: Path) -> None:
    engine = _engine(tmp_path, {"storm": STORM})
    sentences = engine.extractive.sentences
    _, cands, _, _ = _candidates(engine, "What happened in Cornwall and what do forecasters expect?")
    n = len(cands)
    allowed = np.ones(n, bool)
    close = np.linspace(1.0, 0.9, n)
    quotes = select(cands, close, allowed, sentences, SelectionConfig(max_quotes=3, context_sentence=False))
    rows = [r for q in quotes for r in q.rows]
    assert 1 < len(quotes) <= 3 and len(set(rows)) == len(rows)
    assert all(abs(a - b) > 1 for i, a in enumerate(rows) for b in rows[i + 1 :]), "no neighbour of a quote"
    far = np.array([1.0] + [0.1] * (n - 1))
    assert len(select(cands, far, allowed, sentences, SelectionConfig(context_sentence=False))) == 1
    tight = select(cands, close, allowed, sentences, SelectionConfig(max_answer_chars=70, context_sentence=False))
    assert len(tight) == 1


def test_abstainer_follows_its_threshold_and_features_are_in_order(tmp_path: Path) -> None:
    engine = _engine(tmp_path, {"storm": STORM})
    parsed, cands, _, _ = _candidates(engine, "How strong were the gusts of Storm Ciaran?")
    signals = question_signals(parsed, cands, engine.extractive.sentences, engine.retriever.bm25)
    assert signals.unknown == () and 0 < signals.coverage <= 1
    probs = np.linspace(0.9, 0.1, len(cands))
    x = answerability_features(probs, cands, signals)
    assert len(x) == len(ANSWERABILITY_FEATURES) and x[0] == pytest.approx(0.9)
    on_p1 = _linear(ANSWERABILITY_FEATURES, {"p1": 10.0}, intercept=-5.0)
    assert not LearnedAbstainer(on_p1, 0.5).decide(probs, cands, signals).abstain
    decision = LearnedAbstainer(on_p1, 0.5).decide(probs * 0.2, cands, signals)
    assert decision.abstain and decision.reason == "low_support" and decision.confidence < 0.5
    unknown = question_signals(parse_question("Did Storm Zelda hit Mars?"), cands, engine.extractive.sentences,
                               engine.retriever.bm25)
    assert "Zelda" in unknown.unknown and unknown.unknown_share > 0
    empty = answerability_features(np.zeros(0), replace(cands, rows=(), hits=(), matrix=cands.matrix[:0],
                                                        cosines=cands.cosines[:0]), QuestionSignals((), 0.0, 0.5))
    assert empty[ANSWERABILITY_FEATURES.index("passages_coverage")] == 0.5


def test_verbatim_check_fails_closed(tmp_path: Path) -> None:
    engine = _engine(tmp_path, {"storm": STORM})
    docs = {d.doc_id: d for d in engine.documents()}
    assert is_verbatim(docs, "storm", "Schools stayed closed.", STORM.index("Schools"), STORM.index("Schools") + 22)
    assert not is_verbatim(docs, "storm", "Schools stayed open.", STORM.index("Schools"), STORM.index("Schools") + 20)
    assert not is_verbatim(docs, "nope", "Schools stayed closed.", 0, 22)
    assert not is_verbatim(docs, "storm", " ", 5, 6)


def test_reranker_moves_the_passage_with_the_best_sentence_first(tmp_path: Path) -> None:
    engine = _engine(tmp_path, {"storm": STORM, "trams": TRAMS})
    question = "When does construction of the Leeds tram line start?"
    vector = engine.embedder.embed_query(question)
    hits = engine.retriever.retrieve(question, vector, 5)
    trams_last = sorted(hits, key=lambda h: h.doc_id == "trams")
    reranker = PassageReranker(engine.extractive.sentences, LearnedScorer(_linear(FEATURES, {"lex": 5.0})),
                               engine.retriever.bm25.idf)
    ranked = reranker.rerank(question, vector, trams_last, 5)
    assert ranked[0].doc_id == "trams" and sorted(h.chunk_id for h in ranked) == sorted(h.chunk_id for h in hits)
    assert len(reranker.rerank(question, vector, trams_last, 1)) == 1


def test_composer_chains_the_steps_and_cites_what_it_quotes(tmp_path: Path) -> None:
    engine = _engine(tmp_path, {"storm": STORM, "trams": TRAMS})
    model = ReaderModel(_linear(FEATURES, {"lex": 5.0}), _linear(ANSWERABILITY_FEATURES, {"p1": 10.0}, -3.0), 0.5, "x")
    composer = ReaderComposer(
        engine.extractive.sentences, {d.doc_id: d for d in engine.documents()}, engine.config, engine.index_version,
        model, idf=engine.retriever.bm25.idf, vocabulary=engine.retriever.bm25,
    )
    question = "When does construction of the Leeds tram line start?"
    vector = engine.embedder.embed_query(question)
    answer = composer.compose(question, engine.retriever.retrieve(question, vector, 5), vector)
    assert not answer.abstained and "2026" in answer.answer
    for c in answer.citations:
        assert f"[{c.n}]" in answer.answer and engine.document(c.doc_id).text[c.start : c.end] == c.text
    unknown = composer.compose("Did Storm Zelda hit Mars?", engine.retriever.retrieve("Storm Zelda", vector, 5), vector)
    assert unknown.abstained and unknown.reason == "no_relevant_passage" and "Zelda" in unknown.answer
    assert composer.compose(question, [], vector).reason == "no_relevant_passage"
    year = composer.compose("What did Leeds council approve in 1999?", engine.retriever.retrieve(question, vector, 5),
                            vector)
    assert year.abstained and year.reason == "no_relevant_passage"
    strict = replace(model, threshold=0.999)
    doubtful = ReaderComposer(
        engine.extractive.sentences, {d.doc_id: d for d in engine.documents()}, engine.config, engine.index_version,
        strict, idf=engine.retriever.bm25.idf,
    )
    low = doubtful.compose(question, engine.retriever.retrieve(question, vector, 5), vector)
    assert low.abstained and low.reason == "low_support" and low.citations


def test_an_unknown_reader_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown reader"):
        _engine(tmp_path, {"storm": STORM}, reader="oracle")


def test_the_shipped_model_loads_and_matches_the_features() -> None:
    model = load_reader_model()
    assert model.scorer.features == FEATURES and model.answerability.features == ANSWERABILITY_FEATURES
    assert 0 < model.threshold < 1 and len(model.sha256) == 64
