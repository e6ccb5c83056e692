"""The `VectorStore` contract, run against every implementation: the NumPy in-memory store, the
FAISS index of an index folder, and PostgreSQL (a real server, see `postgres_server`).

Each store holds the seed corpus embedded with the hashing fake, so expected results can be
computed exactly from the same vectors.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rag.answer.config import AnswerConfig
from rag.embedding.fake import HashingEmbedder
from rag.ingest import ingest
from rag.protocols import VectorStore
from rag.retrieval.lexical import BM25Index
from rag.settings import Settings
from rag.store.faiss_store import FaissStore, build_faiss_index
from rag.store.in_process import InProcessStore, NumpyVectors
from rag.store.index_files import IndexData, load_index
from rag.store.postgres.load import load_version
from rag.store.postgres.search import PostgresStore
from rag.types import Filters

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
STORES = ("numpy", "faiss-flat", "faiss-hnsw", "postgresql")


@pytest.fixture(autouse=True)
def _own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings' default index folder (the ingest checkpoint's home) is this test's own."""
    monkeypatch.chdir(tmp_path)


def _in_process(data: IndexData, dense) -> InProcessStore:
    documents = {d.doc_id: d for d in data.documents}
    bm25 = BM25Index([c.text for c in data.chunks])
    return InProcessStore(dense, np.asarray(data.chunk_vectors), bm25, data.chunks, documents, data.version)


@pytest.fixture(params=STORES)
def store_case(request, fake_index_dir: Path) -> tuple[VectorStore, IndexData, np.ndarray]:
    """(store, the index data its rows refer to, the exact chunk vectors)."""
    files = load_index(fake_index_dir)
    vectors = np.asarray(files.chunk_vectors)
    if request.param == "numpy":
        return _in_process(files, NumpyVectors(vectors)), files, vectors
    if request.param == "faiss-flat":
        return _in_process(files, files.chunk_store), files, vectors
    if request.param == "faiss-hnsw":
        # Approximate, but exact once a filter leaves few rows; the contract holds for it too.
        hnsw = FaissStore(*build_faiss_index(vectors, params={"type": "hnsw", "m": 8}))
        return _in_process(files, hnsw), files, vectors
    url = request.getfixturevalue("postgres_url")
    ingest([SEEDS], Settings(store=url), embedder=HashingEmbedder())
    data = load_version(url)
    store = PostgresStore.for_index(url, data, AnswerConfig.defaults(), connections=2)
    by_id = {c.chunk_id: i for i, c in enumerate(files.chunks)}
    pg_vectors = vectors[[by_id[c.chunk_id] for c in data.chunks]]
    return store, data, pg_vectors


def _query(data: IndexData, row: int) -> tuple[str, np.ndarray]:
    text = data.chunks[row].text
    return text, HashingEmbedder().embed_query(text)


def test_implements_the_protocol(store_case) -> None:
    store, data, _ = store_case
    assert isinstance(store, VectorStore)
    assert store.size == len(data.chunks)
    assert store.version == data.version


def test_candidates_sorted_unique_with_exact_cosines(store_case) -> None:
    store, data, vectors = store_case
    text, vector = _query(data, 7)
    found = store.search(text, vector, 10)
    assert 10 <= len(found) <= 20  # the union of 10 dense and at most 10 lexical candidates
    assert len({c.row for c in found}) == len(found)
    keys = [(-c.score, c.row) for c in found]
    assert keys == sorted(keys)
    for c in found:
        assert c.cosine == pytest.approx(float(vectors[c.row] @ vector), abs=1e-4)


def test_a_chunk_finds_itself_first(store_case) -> None:
    store, data, _ = store_case
    for row in (0, 11, len(data.chunks) - 1):
        text, vector = _query(data, row)
        assert store.search(text, vector, 5)[0].row == row


def test_dense_side_is_the_nearest_rows(store_case) -> None:
    """With no word in common, every candidate is dense: the k nearest by inner product."""
    store, _, vectors = store_case
    vector = HashingEmbedder().embed_query("Alibaba revenue growth")
    found = store.search("zzqqxx", vector, 8)
    expected = np.argsort(-(vectors @ vector), kind="stable")[:8]
    assert {c.row for c in found} == set(expected.tolist())


def test_lexical_side_finds_a_rare_word(store_case) -> None:
    store, data, _ = store_case
    row = next(i for i, c in enumerate(data.chunks) if "MYBank" in c.text)
    vector = HashingEmbedder().embed_query("something unrelated entirely")
    found = store.search("MYBank", vector, 5)
    assert row in {c.row for c in found}


def test_doc_filter_returns_k_rows_of_that_document(store_case) -> None:
    store, data, _ = store_case
    counts = Counter(c.doc_id for c in data.chunks)
    doc_id, n = counts.most_common(1)[0]
    text, vector = _query(data, 0)
    found = store.search(text, vector, 4, Filters(doc_ids=(doc_id,)))
    assert len(found) >= min(4, n)
    assert {data.chunks[c.row].doc_id for c in found} == {doc_id}


def test_source_and_date_filters_hold_for_every_row(store_case) -> None:
    store, data, _ = store_case
    docs = {d.doc_id: d for d in data.documents}
    dated = sorted(d.published for d in data.documents if d.published)
    start, end = dated[len(dated) // 4], dated[3 * len(dated) // 4]
    source = data.documents[0].source
    filters = Filters(published_from=start, published_to=end, sources=(source,))
    allowed = [
        i for i, c in enumerate(data.chunks)
        if docs[c.doc_id].source == source and docs[c.doc_id].published and start <= docs[c.doc_id].published <= end
    ]
    assert allowed, "the seed corpus should have chunks in that range"
    text, vector = _query(data, allowed[-1])
    found = store.search(text, vector, 6, filters)
    assert len(found) >= min(6, len(allowed))
    assert {c.row for c in found} <= set(allowed)


def test_a_filter_no_chunk_passes_returns_nothing(store_case) -> None:
    store, data, _ = store_case
    text, vector = _query(data, 0)
    assert store.search(text, vector, 5, Filters(doc_ids=("no-such-document",))) == []
    assert store.search(text, vector, 5, Filters(published_from="1900-01-01", published_to="1900-12-31")) == []


def test_k_beyond_the_corpus_returns_each_row_once(store_case) -> None:
    store, data, _ = store_case
    text, vector = _query(data, 3)
    found = store.search(text, vector, 10 * len(data.chunks))
    assert sorted(c.row for c in found) == list(range(len(data.chunks)))


def test_a_very_long_query_keeps_its_keyword_side(store_case) -> None:
    """A 2,000-character question neither fails nor loses its lexical matches (R2R #2293)."""
    store, data, _ = store_case
    row = next(i for i, c in enumerate(data.chunks) if "MYBank" in c.text)
    long_query = "MYBank " + " ".join(f"word{i}" for i in range(300))
    vector = HashingEmbedder().embed_query("something unrelated entirely")
    found = store.search(long_query[:2000], vector, 5)
    assert row in {c.row for c in found}
