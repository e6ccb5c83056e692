"""The on-disk index: atomic generations, verified loading, clear refusals."""

import json
import os
from pathlib import Path

import pytest

from rag.embedding.fake import HashingEmbedder
from rag.engine import RagEngine
from rag.errors import IndexCorruptError, IndexMissingError
from rag.ingest import ingest
from rag.settings import Settings
from rag.store import index_files
from rag.store.index_files import current_generation, load_index


def _generation(index_dir: Path) -> Path:
    return current_generation(index_dir)


def test_manifest_records_model_dimension_chunker_counts_and_checksums(fake_index_dir: Path) -> None:
    manifest = json.loads((_generation(fake_index_dir) / "manifest.json").read_text())
    assert manifest["model"] == "fake-hashing-64"
    assert manifest["dim"] == 64
    assert manifest["chunker"]["max_tokens"] == Settings().chunk_tokens
    assert manifest["counts"]["documents"] == 14
    assert manifest["counts"]["chunks"] > 14
    assert set(manifest["files"]) >= {"documents.jsonl", "chunks.jsonl", "chunk_vectors.faiss"}
    assert all(len(info["sha256"]) == 64 for info in manifest["files"].values())


def test_an_interrupted_write_leaves_the_previous_index_loadable(writable_index: Path, tmp_path, monkeypatch) -> None:
    before = load_index(writable_index).version
    changed = tmp_path / "more.jsonl"
    changed.write_text(json.dumps({"id": "extra", "text": "A brand new article about tea exports."}) + "\n")

    real_replace = os.replace

    def crash_on_generation_rename(src, dst):
        if Path(dst).name.startswith("v-"):
            raise OSError("simulated crash while moving the new generation into place")
        return real_replace(src, dst)

    monkeypatch.setattr(index_files.os, "replace", crash_on_generation_rename)
    with pytest.raises(OSError, match="simulated crash"):
        ingest([changed], Settings(index_dir=writable_index), embedder=HashingEmbedder())
    monkeypatch.undo()

    data = load_index(writable_index)
    assert data.version == before
    assert "extra" not in {d.doc_id for d in data.documents}
    assert not [p for p in writable_index.iterdir() if p.name.startswith(".staging-")]


def test_a_corrupted_file_is_refused_with_a_clear_error(writable_index: Path) -> None:
    chunks = _generation(writable_index) / "chunks.jsonl"
    data = bytearray(chunks.read_bytes())
    data[10] ^= 0x01
    chunks.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="checksum mismatch"):
        load_index(writable_index)


def test_a_missing_index_is_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="rag ingest"):
        load_index(tmp_path / "nowhere")


def test_a_pointer_to_a_missing_generation_is_corrupt(writable_index: Path) -> None:
    (writable_index / "CURRENT").write_text("v-doesnotexist\n")
    with pytest.raises(IndexCorruptError, match="missing generation"):
        load_index(writable_index)


def test_an_index_built_with_another_model_is_refused(fake_index_dir: Path) -> None:
    with pytest.raises(IndexCorruptError, match="built with embedder 'fake-hashing-64'"):
        RagEngine.open(Settings(index_dir=fake_index_dir), embedder=HashingEmbedder(dim=32))


def test_a_newer_format_is_refused(writable_index: Path) -> None:
    manifest_path = _generation(writable_index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="format 99"):
        load_index(writable_index)
