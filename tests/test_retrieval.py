"""Hybrid retrieval: fusion, filters, year preference, de-duplication, edge cases."""

import json
from pathlib import Path

import numpy as np
import pytest

from rag.embedding.fake import HashingEmbedder
from rag.engine import RagEngine
from rag.errors import QuestionError
from rag.ingest import ingest
from rag.retrieval.fusion import reciprocal_rank_fusion
from rag.settings import Settings
from rag.types import Filters


def test_rrf_rewards_agreement_between_rankers() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)
    order = [item for item, _ in fused]
    assert order[0] == 1  # ranks 1 and 2 beat ranks 3 and 1
    assert order.index(3) < order.index(2) and order.index(3) < order.index(4)
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_search_returns_ranked_hits_with_metadata(fake_engine: RagEngine) -> None:
    result = fake_engine.search("fake Peppa Pig products seized in a police raid", k=5)
    assert 1 <= len(result.hits) <= 5
    top = result.hits[0]
    assert "Peppa" in top.title
    assert top.url == "https://focus.cbbc.org/fake-peppa-pig-raid/"
    assert top.published == "2017-12-22"
    doc = fake_engine.document(top.doc_id)
    assert doc.text[top.start : top.end] == top.text
    assert set(result.timings_ms) >= {"encode", "retrieve", "total"}


def test_k_larger_than_the_index_returns_every_chunk_once(fake_engine: RagEngine) -> None:
    result = fake_engine.search("Alibaba", k=20)
    ids = [h.chunk_id for h in result.hits]
    assert len(ids) == len(set(ids)) == min(20, len(fake_engine.data.chunks))


@pytest.mark.parametrize(
    ("filters", "check"),
    [
        (Filters(published_from="2021-01-01", published_to="2021-12-31"), lambda h: h.published.startswith("2021")),
        (Filters(sources=("002_11f0ea087dfcc475.txt",)), lambda h: h.source == "002_11f0ea087dfcc475.txt"),
    ],
)
def test_filters_restrict_the_hits(fake_engine: RagEngine, filters: Filters, check) -> None:
    hits = fake_engine.search("Alibaba sales", k=10, filters=filters).hits
    assert hits
    assert all(check(h) for h in hits)


def test_doc_id_filter_and_an_empty_filter_result(fake_engine: RagEngine) -> None:
    doc_id = fake_engine.documents()[3].doc_id
    hits = fake_engine.search("Alibaba", k=10, filters=Filters(doc_ids=(doc_id,))).hits
    assert hits and {h.doc_id for h in hits} == {doc_id}
    assert fake_engine.search("Alibaba", filters=Filters(doc_ids=("no-such-doc",))).hits == ()


def test_a_malformed_date_filter_is_a_question_error(fake_engine: RagEngine) -> None:
    with pytest.raises(QuestionError, match="YYYY-MM-DD"):
        fake_engine.search("Alibaba", filters=Filters(published_from="last week"))


def test_a_named_year_prefers_articles_from_that_year(tmp_path: Path) -> None:
    records = [
        {"id": f"y{year}", "title": f"Sales {year}", "published": f"{year}-11-12",
         "text": "Singles Day sales figures were announced by the company after the festival."}
        for year in (2019, 2020, 2021)
    ]
    # Same text: only the year separates them (and de-duplication must not merge them away
    # before the year preference is applied, so each gets a distinct sentence).
    for record in records:
        record["text"] += f" The report covered the {record['id']} season."
    path = tmp_path / "years.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    settings = Settings(index_dir=tmp_path / "index")
    ingest([path], settings, embedder=HashingEmbedder())
    engine = RagEngine.open(settings, embedder=HashingEmbedder())
    for year in (2019, 2020, 2021):
        assert engine.search(f"What were the Singles Day sales in {year}?", k=3).hits[0].doc_id == f"y{year}"


def test_near_duplicate_passages_collapse_into_one_hit(tmp_path: Path) -> None:
    text = "Alibaba fined a record sum by the regulator for anti-trust violations in April."
    records = [
        {"id": "original", "title": "Fine", "text": text},
        {"id": "syndicated", "title": "Fine (syndicated)", "text": text},
        {"id": "other", "title": "Other", "text": "Tea exports to China grew in the spring."},
    ]
    path = tmp_path / "dupes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    settings = Settings(index_dir=tmp_path / "index")
    ingest([path], settings, embedder=HashingEmbedder())
    engine = RagEngine.open(settings, embedder=HashingEmbedder())
    hits = engine.search("Alibaba regulator fine", k=3).hits
    assert [h.doc_id for h in hits].count("original") + [h.doc_id for h in hits].count("syndicated") == 1
    assert len(hits) == 2


def test_a_query_vector_of_nan_gives_no_nan_scores(fake_engine: RagEngine) -> None:
    vector = np.full(64, np.nan, dtype=np.float32)
    hits = fake_engine.retriever.retrieve("Alibaba fine", vector, 5)
    assert hits and all(np.isfinite(h.score) for h in hits)


def test_an_empty_index_answers_with_no_hits(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "Tea."}) + "\n")
    settings = Settings(index_dir=tmp_path / "index")
    ingest([path], settings, embedder=HashingEmbedder())
    engine = RagEngine.open(settings, embedder=HashingEmbedder())
    assert engine.search("anything at all about silk", k=5).hits  # one chunk, found by dense
    assert engine.search("Tea", k=5, filters=Filters(published_from="2020-01-01")).hits == ()


def test_a_question_naming_several_years_finds_an_article_from_each(tmp_path: Path) -> None:
    # Three close matches from 2017 and a weaker one from 2016: with k=2 the year boost alone
    # returns two 2017 articles; each year's best must lead instead.
    endings = ["broke records after the festival.", "beat every forecast made by analysts.",
               "rose again as shoppers crowded online."]
    records = [
        {"id": f"a{i}", "title": "Singles Day sales", "published": "2017-11-12",
         "text": f"Singles Day sales figures at Alibaba {ending}"}
        for i, ending in enumerate(endings)
    ]
    records.append({"id": "old", "title": "Retail", "published": "2016-11-12",
                    "text": "Shoppers were busy in November."})
    path = tmp_path / "years.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    settings = Settings(index_dir=tmp_path / "index")
    ingest([path], settings, embedder=HashingEmbedder())
    engine = RagEngine.open(settings, embedder=HashingEmbedder())
    question = "What were the Singles Day sales figures at Alibaba in 2016 and 2017?"
    years = [h.published[:4] for h in engine.search(question, k=2).hits]
    assert sorted(years) == ["2016", "2017"]
