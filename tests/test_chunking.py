import itertools
from pathlib import Path

import pytest

from rag.chunking import ChunkerConfig, chunk_document, split_sentences
from rag.embedding.minilm import MiniLMEmbedder
from rag.parsing import parse_paths
from rag.tokens import count_tokens
from rag.types import Document

CONFIG = ChunkerConfig(max_tokens=160, overlap_tokens=40)


@pytest.fixture(scope="module")
def seed_docs(seeds_dir: Path) -> list[Document]:
    return parse_paths([seeds_dir])


@pytest.fixture(scope="module")
def wordpieces() -> MiniLMEmbedder:
    return MiniLMEmbedder()  # only its tokenizer is used: the model itself is never loaded


def test_every_chunk_is_an_exact_slice_of_its_document(seed_docs, wordpieces) -> None:
    total = 0
    for doc in seed_docs:
        chunks = chunk_document(doc, CONFIG, wordpieces.count_model_tokens)
        assert chunks, doc.title
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert chunk.doc_id == doc.doc_id
            total += 1
    assert total > len(seed_docs)


def test_chunks_respect_the_token_budget_and_the_model_window(seed_docs, wordpieces) -> None:
    for doc in seed_docs:
        for chunk in chunk_document(doc, CONFIG, wordpieces.count_model_tokens):
            assert chunk.n_tokens == count_tokens(chunk.text) <= CONFIG.max_tokens
            assert wordpieces.count_model_tokens(chunk.text) <= 254


def test_neighbouring_chunks_overlap_and_cover_every_sentence(seed_docs) -> None:
    long_doc = max(seed_docs, key=lambda d: len(d.text))
    chunks = chunk_document(long_doc, CONFIG)
    assert len(chunks) >= 3
    sentences = split_sentences(long_doc)
    for before, after in itertools.pairwise(chunks):
        assert after.start > before.start, "chunking must advance"
        last = max((s for s in sentences if s.end <= before.end), key=lambda s: s.end)
        if count_tokens(last.text) <= CONFIG.max_tokens // 2:
            assert after.start <= last.start, "the trailing sentence must be repeated in the next chunk"
    for sentence in split_sentences(long_doc):
        assert any(c.start <= sentence.start and sentence.end <= c.end for c in chunks)


def test_a_sentence_longer_than_the_budget_is_cut_at_words() -> None:
    text = " ".join(f"word{i}" for i in range(600))  # one 600-word "sentence", no punctuation
    doc = Document(doc_id="d", title="t", text=text, source="s")
    chunks = chunk_document(doc, ChunkerConfig(max_tokens=50, overlap_tokens=10))
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.n_tokens <= 50
        assert text[chunk.start : chunk.end] == chunk.text
        assert not chunk.text.startswith(" ") and not chunk.text.endswith(" ")


def test_the_model_window_guard_splits_chunks_the_model_would_truncate() -> None:
    text = "Numbers " + " ".join(str(10_000 + i) for i in range(120)) + "."
    doc = Document(doc_id="d", title="t", text=text, source="s")
    # A counter that says every word costs 5 word-pieces forces a second split.
    chunks = chunk_document(doc, ChunkerConfig(max_tokens=400, overlap_tokens=0), lambda t: 5 * len(t.split()))
    assert len(chunks) >= 3
    assert all(5 * len(c.text.split()) <= 254 for c in chunks)


def test_chunk_ids_are_stable_content_hashes(seed_docs) -> None:
    doc = seed_docs[0]
    first = [c.chunk_id for c in chunk_document(doc, CONFIG)]
    assert first == [c.chunk_id for c in chunk_document(doc, CONFIG)]
    assert len(set(first)) == len(first)
