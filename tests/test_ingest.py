"""Incremental ingest: unchanged input embeds nothing, changes replace, prune drops, bad input touches nothing."""

import json
import shutil
from pathlib import Path

import pytest

from rag.embedding.fake import HashingEmbedder
from rag.errors import IndexCorruptError, InputFileError
from rag.ingest import ingest
from rag.settings import Settings
from rag.store.index_files import current_generation, load_index


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture()
def corpus(tmp_path: Path, seeds_dir: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(seeds_dir, folder)
    _jsonl(folder / "extra.jsonl", [
        {"id": "tea-1", "title": "Tea exports", "text": "British tea exports to China grew by 12% in 2021."},
        {"id": "silk-1", "title": "Silk", "text": "Silk imports fell sharply after new tariffs were announced."},
    ])
    return folder


def test_second_ingest_on_unchanged_input_embeds_nothing(corpus: Path, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    first = ingest([corpus], settings, embedder=HashingEmbedder())
    assert first.written and first.embedded == first.chunks > 0 and first.reused == 0
    generation = current_generation(settings.index_dir)
    mtime = (generation / "manifest.json").stat().st_mtime_ns

    embedder = HashingEmbedder()
    second = ingest([corpus], settings, embedder=embedder)
    assert (second.embedded, second.sentences_embedded, embedder.calls) == (0, 0, 0)
    assert second.reused == first.chunks and not second.written
    assert second.index_version == first.index_version
    assert (generation / "manifest.json").stat().st_mtime_ns == mtime
    assert "0 embedded" in second.line()


def test_a_changed_document_is_replaced_not_duplicated(corpus: Path, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    first = ingest([corpus], settings, embedder=HashingEmbedder())
    _jsonl(corpus / "extra.jsonl", [
        {"id": "tea-1", "title": "Tea exports", "text": "British tea exports to China grew by 15% in 2022."},
        {"id": "silk-1", "title": "Silk", "text": "Silk imports fell sharply after new tariffs were announced."},
    ])
    second = ingest([corpus], settings, embedder=HashingEmbedder())
    data = load_index(settings.index_dir)
    tea = [d for d in data.documents if d.doc_id == "tea-1"]
    assert len(tea) == 1 and "15%" in tea[0].text
    assert len(data.documents) == first.documents
    assert second.embedded == 1 and second.removed == 1  # only the changed chunk is new
    assert second.index_version != first.index_version


def test_prune_drops_documents_whose_files_are_gone(corpus: Path, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    ingest([corpus], settings, embedder=HashingEmbedder())
    (corpus / "extra.jsonl").unlink()

    kept = ingest([corpus], settings, embedder=HashingEmbedder())
    assert "tea-1" in {d.doc_id for d in load_index(settings.index_dir).documents}
    assert kept.documents_removed == 0

    pruned = ingest([corpus], settings, embedder=HashingEmbedder(), prune=True)
    ids = {d.doc_id for d in load_index(settings.index_dir).documents}
    assert "tea-1" not in ids and "silk-1" not in ids
    assert pruned.documents_removed == 2
    assert len(ids) == 14


def test_ingesting_another_file_keeps_the_documents_already_indexed(corpus: Path, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    ingest([corpus / "extra.jsonl"], settings, embedder=HashingEmbedder())
    other = _jsonl(tmp_path / "other.jsonl", [{"id": "o-1", "text": "Another article entirely."}])
    ingest([other], settings, embedder=HashingEmbedder())
    assert {d.doc_id for d in load_index(settings.index_dir).documents} == {"tea-1", "silk-1", "o-1"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("binary.txt", b"\x00\x01\x02\xff\xfe binary", "binary"),
        ("bad.jsonl", b'{"id": "a", "text": "fine"}\n{not json}\n', "bad.jsonl:2"),
    ],
)
def test_bad_input_raises_and_leaves_the_index_untouched(
    writable_index: Path, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    before = load_index(writable_index)
    files_before = sorted(p.name for p in current_generation(writable_index).iterdir())
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        ingest([bad], Settings(index_dir=writable_index), embedder=HashingEmbedder())
    after = load_index(writable_index)
    assert after.version == before.version
    assert sorted(p.name for p in current_generation(writable_index).iterdir()) == files_before


def test_a_missing_path_is_named_in_the_error(writable_index: Path, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="nope.txt"):
        ingest([tmp_path / "nope.txt"], Settings(index_dir=writable_index), embedder=HashingEmbedder())


def test_new_answer_settings_are_stamped_into_a_new_version_without_embedding(
    writable_index: Path, seeds_dir: Path, monkeypatch
) -> None:
    from dataclasses import replace

    from rag.answer.config import AnswerConfig

    before = load_index(writable_index)
    fitted = replace(AnswerConfig.defaults(), abstain_threshold=0.1234)
    monkeypatch.setattr(AnswerConfig, "defaults", classmethod(lambda cls: fitted))
    embedder = HashingEmbedder()
    summary = ingest([seeds_dir], Settings(index_dir=writable_index), embedder=embedder)
    after = load_index(writable_index)
    assert summary.written and embedder.calls == 0
    assert after.version != before.version
    assert after.answer_settings["abstain_threshold"] == 0.1234


def test_reused_vectors_are_the_exact_ones_first_computed(corpus: Path, tmp_path: Path) -> None:
    import numpy as np

    settings = Settings(index_dir=tmp_path / "index")
    ingest([corpus], settings, embedder=HashingEmbedder())
    first = np.array(load_index(settings.index_dir).chunk_vectors)
    (corpus / "more.jsonl").write_text(json.dumps({"id": "m", "text": "A new article on silk."}) + "\n")
    ingest([corpus], settings, embedder=HashingEmbedder())
    second = load_index(settings.index_dir)
    assert len(second.chunk_vectors) == len(first) + 1
    rows = [i for i, c in enumerate(second.chunks) if c.doc_id != "m"]
    assert np.array_equal(np.asarray(second.chunk_vectors)[rows], first)


def test_ingest_over_an_unreadable_index_is_refused_and_loses_nothing(tmp_path: Path, seeds_dir: Path) -> None:
    # Building over an index that cannot be read would write an index of the new input alone and
    # drop every document the old one held: refused, and the old generation stays as it was.
    settings = Settings(index_dir=tmp_path / "index")
    ingest([seeds_dir], settings, embedder=HashingEmbedder())
    generation = current_generation(settings.index_dir)
    (generation / "documents.jsonl").write_text("garbage\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in generation.iterdir()}
    new = _jsonl(tmp_path / "new.jsonl", [{"id": "n1", "text": "One new article about tea."}])
    with pytest.raises(IndexCorruptError, match="--rebuild") as exc:
        ingest([new], settings, embedder=HashingEmbedder())
    assert "documents.jsonl" in exc.value.message and "\n" not in exc.value.message
    assert current_generation(settings.index_dir) == generation
    assert {p.name: p.read_bytes() for p in generation.iterdir()} == before


def test_rebuild_replaces_an_unreadable_index(tmp_path: Path, seeds_dir: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    ingest([seeds_dir], settings, embedder=HashingEmbedder())
    (current_generation(settings.index_dir) / "documents.jsonl").write_text("garbage\n", encoding="utf-8")
    new = _jsonl(tmp_path / "new.jsonl", [{"id": "n1", "text": "One new article about tea."}])
    summary = ingest([new], settings, embedder=HashingEmbedder(), rebuild=True)
    assert summary.written and summary.rebuilt_from_corrupt
    assert [d.doc_id for d in load_index(settings.index_dir).documents] == ["n1"]


def test_a_noop_ingest_removes_what_killed_ingests_left_behind(tmp_path: Path, seeds_dir: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    ingest([seeds_dir], settings, embedder=HashingEmbedder())
    leftover = settings.index_dir / ".staging-killed123"
    leftover.mkdir()
    (leftover / "chunk_vectors.npy").write_bytes(b"\0" * 1024)
    summary = ingest([seeds_dir], settings, embedder=HashingEmbedder())
    assert not summary.written and not leftover.exists()


def test_generations_are_readable_by_other_users(tmp_path: Path, seeds_dir: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    ingest([seeds_dir], settings, embedder=HashingEmbedder())
    mode = current_generation(settings.index_dir).stat().st_mode & 0o777
    assert mode & 0o055 == 0o055, oct(mode)
