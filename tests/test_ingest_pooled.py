"""Sentence vectors pooled from the chunk pass (`RAG_SENTENCE_VECTORS=pooled`): no second model pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from corpora import ward_news

from rag.embedding.fake import HashingEmbedder, PoolingHashingEmbedder
from rag.ingest import CHECKPOINT_BATCH, ingest
from rag.settings import Settings
from rag.store.index_files import current_generation, load_index

FILES = ("chunk_vectors.npy", "sentence_vectors.npy", "chunks.jsonl", "sentences.jsonl")


def test_sentence_vectors_come_from_the_chunk_pass(tmp_path: Path) -> None:
    corpus = ward_news(tmp_path / "corpus")
    embedder = PoolingHashingEmbedder()
    summary = ingest([corpus], Settings(index_dir=tmp_path / "i"), embedder=embedder)
    assert summary.sentences_embedded == 0
    assert embedder.calls == summary.embedded  # one model pass: the chunks
    data = load_index(tmp_path / "i", expected_model=embedder.name)
    assert data.manifest["chunker"]["sentence_vectors"] == "pooled"
    # Each sentence's vector is its span pooled in the first chunk that holds it whole.
    sentence = data.sentences[40]
    chunk = next(c for c in data.chunks if c.doc_id == sentence.doc_id and c.start <= sentence.start
                 and sentence.end <= c.end)
    _, pooled = PoolingHashingEmbedder().embed_with_spans(
        [chunk.text], [[(sentence.start - chunk.start, sentence.end - chunk.start)]]
    )
    assert np.allclose(data.sentence_vectors[40], pooled[0][0])
    alone = HashingEmbedder().embed([sentence.text])[0]
    assert not np.allclose(data.sentence_vectors[40], alone)


def test_a_sentence_no_chunk_holds_whole_is_embedded_on_its_own(tmp_path: Path) -> None:
    corpus = ward_news(tmp_path / "corpus", articles=2, long_sentence=True)
    summary = ingest([corpus], Settings(index_dir=tmp_path / "i"), embedder=PoolingHashingEmbedder())
    assert summary.sentences_embedded == 1


def test_separate_and_pooled_indexes_are_different_versions_and_switch_cleanly(tmp_path: Path) -> None:
    corpus = ward_news(tmp_path / "corpus", articles=4)
    index = tmp_path / "i"
    embedder = PoolingHashingEmbedder()
    separate = ingest([corpus], Settings(index_dir=index, sentence_vectors="separate"), embedder=embedder)
    assert separate.sentences_embedded > 0
    separate_vectors = np.load(current_generation(index) / "sentence_vectors.npy")
    pooled = ingest([corpus], Settings(index_dir=index), embedder=embedder)
    assert pooled.index_version != separate.index_version and pooled.written
    # The chunks' vectors were known, but their pass is what makes the sentences' vectors: run again.
    assert pooled.embedded == separate.embedded and pooled.sentences_embedded == 0
    assert not np.allclose(np.load(current_generation(index) / "sentence_vectors.npy"), separate_vectors)
    back = ingest([corpus], Settings(index_dir=index, sentence_vectors="separate"), embedder=embedder)
    assert back.index_version == separate.index_version
    assert np.array_equal(np.load(current_generation(index) / "sentence_vectors.npy"), separate_vectors)


class _Crash(Exception):
    pass


class _CrashingEmbedder(PoolingHashingEmbedder):
    """Fails on the model call after `batches` of them, as a kill would stop the run there."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.left = batches

    def embed_with_spans(self, texts, spans):  # type: ignore[no-untyped-def]
        if self.left == 0:
            raise _Crash
        self.left -= 1
        return super().embed_with_spans(texts, spans)


def test_a_run_stopped_halfway_resumes_to_the_same_index(tmp_path: Path) -> None:
    corpus = ward_news(tmp_path / "corpus", articles=400)
    index = tmp_path / "i"
    with pytest.raises(_Crash):
        ingest([corpus], Settings(index_dir=index), embedder=_CrashingEmbedder(batches=2))
    embedder = PoolingHashingEmbedder()
    resumed = ingest([corpus], Settings(index_dir=index), embedder=embedder)
    assert resumed.resumed == 2 * CHECKPOINT_BATCH
    assert embedder.calls == resumed.embedded == resumed.chunks - resumed.resumed  # the rest, once
    assert resumed.sentences_embedded == 0  # the resumed batches brought their sentences' vectors
    clean = tmp_path / "clean"
    uninterrupted = ingest([corpus], Settings(index_dir=clean), embedder=PoolingHashingEmbedder())
    assert uninterrupted.index_version == resumed.index_version
    for name in FILES:
        assert (current_generation(index) / name).read_bytes() == (current_generation(clean) / name).read_bytes()


def test_an_embedder_that_cannot_pool_embeds_sentences_separately(tmp_path: Path) -> None:
    corpus = ward_news(tmp_path / "corpus", articles=2)
    summary = ingest([corpus], Settings(index_dir=tmp_path / "i"), embedder=HashingEmbedder())
    assert summary.sentences_embedded == summary.sentences
    data = load_index(tmp_path / "i", expected_model=HashingEmbedder().name)
    assert "sentence_vectors" not in data.manifest["chunker"]
