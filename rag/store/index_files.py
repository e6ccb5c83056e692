"""The on-disk index: one immutable generation folder per version, and a CURRENT pointer.

    index/
      CURRENT                   name of the live generation (replaced atomically)
      v-<version>/
        manifest.json           model, dimension, chunker settings, counts, sha256 of every file
        documents.jsonl         one Document per line
        chunks.jsonl            one chunk per line: id, doc_id, offsets (text = document text slice)
        sentences.jsonl         sentence offsets per document (for the extractive composer)
        chunk_vectors.faiss     FAISS index over chunk vectors, row i = chunks.jsonl line i
        chunk_vectors.npy       the exact float32 chunk vectors (the FAISS index may quantize them);
                                re-ingest reuses these, so vectors never drift through re-encoding
        sentence_vectors.npy    float32 sentence vectors, row i = sentences.jsonl line i
        settings.json           tuned answer settings (abstention threshold, fusion weights)

A new generation is written completely (each file fsynced) in a temp folder, renamed into place,
and only then does CURRENT move: an interrupted ingest leaves the previous index loadable.
Loading verifies the manifest and every checksum and refuses a mismatch with a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorruptError, IndexMissingError
from rag.store.atomic import atomic_write_bytes, fsync_dir, fsync_file, sha256_file
from rag.store.faiss_store import FaissStore
from rag.types import Chunk, Document, Sentence

FORMAT_VERSION = 2  # 2: exact chunk vectors in chunk_vectors.npy
POINTER = "CURRENT"


@dataclass
class IndexData:
    documents: list[Document]
    chunks: list[Chunk]
    sentences: list[Sentence]
    # The index folder's own vectors; None when the chunks are searched elsewhere (PostgreSQL).
    chunk_store: FaissStore | None
    chunk_vectors: np.ndarray | None  # memory-mapped, exact
    sentence_vectors: np.ndarray
    manifest: dict[str, Any]
    answer_settings: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.manifest["index_version"])


def index_exists(index_dir: Path) -> bool:
    return (index_dir / POINTER).is_file()


def current_generation(index_dir: Path) -> Path:
    pointer = index_dir / POINTER
    if not pointer.is_file():
        raise IndexMissingError(f"no index at {index_dir} (run `rag ingest` first)")
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (UnicodeDecodeError, OSError) as exc:
        reason = type(exc).__name__
        raise IndexCorruptError(f"{pointer}: unreadable ({reason}); rebuild with `rag ingest --rebuild`") from None
    generation = index_dir / name
    if not name or "/" in name or not generation.is_dir():
        raise IndexCorruptError(f"{pointer}: points at a missing generation {name!r}")
    return generation


def compute_version(
    model: str,
    chunker: dict[str, Any],
    documents: list[Document],
    chunks: list[Chunk],
    answer_settings: dict[str, Any],
    sources: dict[str, str],
) -> str:
    """Content address of an index: same inputs and settings, same version, same answers.

    Two different generations never share a version, so the live one is never overwritten.
    """
    digest = hashlib.sha256()
    header = {
        "format": FORMAT_VERSION, "model": model, "chunker": chunker, "answer": answer_settings, "sources": sources
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for doc in documents:
        digest.update(json.dumps(document_record(doc), sort_keys=True).encode())
    for chunk in chunks:
        digest.update(chunk.chunk_id.encode())
    return digest.hexdigest()[:16]


def write_index(
    index_dir: Path,
    *,
    documents: list[Document],
    chunks: list[Chunk],
    sentences: list[Sentence],
    chunk_store: FaissStore,
    chunk_vectors: Path,
    sentence_vectors: Path,
    manifest: dict[str, Any],
    answer_settings: dict[str, Any],
) -> Path:
    """Write a new generation and make it current. Returns the generation folder.

    `chunk_vectors`, `sentence_vectors`: float32 `.npy` files in `index_dir` (from `vector_files`),
    moved into the generation: a large archive's vectors are never all in memory at once."""
    index_dir.mkdir(parents=True, exist_ok=True)
    version = manifest["index_version"]
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=index_dir))
    # mkdtemp makes it 0700: a server running as another user must still read the generation.
    staging.chmod(0o755)
    try:
        _write_jsonl(staging / "documents.jsonl", (document_record(d) for d in documents))
        _write_jsonl(
            staging / "chunks.jsonl",
            ({"chunk_id": c.chunk_id, "doc_id": c.doc_id, "start": c.start, "end": c.end,
              "n_tokens": c.n_tokens} for c in chunks),
        )
        _write_jsonl(
            staging / "sentences.jsonl",
            ({"doc_id": s.doc_id, "start": s.start, "end": s.end} for s in sentences),
        )
        chunk_store.save(staging / "chunk_vectors.faiss")
        os.replace(chunk_vectors, staging / "chunk_vectors.npy")
        os.replace(sentence_vectors, staging / "sentence_vectors.npy")
        (staging / "settings.json").write_text(json.dumps(answer_settings, indent=2, sort_keys=True))
        files = {}
        for path in sorted(staging.iterdir()):
            fsync_file(path)
            files[path.name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        full_manifest = {**manifest, "format": FORMAT_VERSION, "files": files}
        atomic_write_bytes(staging / "manifest.json", json.dumps(full_manifest, indent=2).encode())
        fsync_dir(staging)

        generation = index_dir / f"v-{version}"
        if generation.exists():  # a stale copy that is not current (CURRENT never points here now)
            shutil.rmtree(generation)
        os.replace(staging, generation)
        fsync_dir(index_dir)
        atomic_write_bytes(index_dir / POINTER, f"{generation.name}\n".encode())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_stale_generations(index_dir, keep=generation.name)
    return generation


@contextmanager
def vector_files(index_dir: Path) -> Iterator[tuple[Path, Path]]:
    """Paths for the chunk and sentence vector files of a generation about to be written; their
    folder is a staging leftover if the ingest is killed (`remove_staging_leftovers`)."""
    folder = Path(tempfile.mkdtemp(prefix=".staging-vectors-", dir=index_dir))
    try:
        yield folder / "chunk_vectors.npy", folder / "sentence_vectors.npy"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_manifest(generation: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"{generation}: manifest.json is missing") from exc
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{generation}/manifest.json: unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"{generation}/manifest.json: format {manifest.get('format') if isinstance(manifest, dict) else '?'}"
            f" is not {FORMAT_VERSION}; rebuild with `rag ingest`"
        )
    return manifest


def load_index(index_dir: Path, *, expected_model: str | None = None, verify: bool = True) -> IndexData:
    generation = current_generation(index_dir)
    manifest = read_manifest(generation)
    if expected_model is not None and manifest.get("model") != expected_model:
        raise IndexCorruptError(
            f"{index_dir}: built with embedder {manifest.get('model')!r}, but {expected_model!r} is loaded;"
            " rebuild with `rag ingest`"
        )
    if verify:
        for name, info in manifest.get("files", {}).items():
            path = generation / name
            if not path.is_file():
                raise IndexCorruptError(f"{path}: missing")
            if path.stat().st_size != info["bytes"] or sha256_file(path) != info["sha256"]:
                raise IndexCorruptError(f"{path}: checksum mismatch (corrupted); rebuild with `rag ingest`")
    try:
        documents = [_document_from_record(r) for r in _read_jsonl(generation / "documents.jsonl")]
        by_id = {d.doc_id: d for d in documents}
        chunks = [
            Chunk(chunk_id=r["chunk_id"], doc_id=r["doc_id"], text=by_id[r["doc_id"]].text[r["start"] : r["end"]],
                  start=r["start"], end=r["end"], n_tokens=r["n_tokens"])
            for r in _read_jsonl(generation / "chunks.jsonl")
        ]
        sentences = [
            Sentence(chunk_id="", doc_id=r["doc_id"], text=by_id[r["doc_id"]].text[r["start"] : r["end"]],
                     start=r["start"], end=r["end"])
            for r in _read_jsonl(generation / "sentences.jsonl")
        ]
        chunk_vectors = np.load(generation / "chunk_vectors.npy", mmap_mode="r")
        sentence_vectors = np.load(generation / "sentence_vectors.npy", mmap_mode="r")
        answer_settings = json.loads((generation / "settings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{generation}: unreadable index data ({exc!r})") from exc
    chunk_store = FaissStore.load(generation / "chunk_vectors.faiss", manifest.get("vector_index", {"type": "flat"}))
    if not chunk_store.size == len(chunk_vectors) == len(chunks) or len(sentence_vectors) != len(sentences):
        raise IndexCorruptError(f"{generation}: vector counts do not match the chunk and sentence lists")
    if chunk_store.size and chunk_store.dim != manifest.get("dim"):
        raise IndexCorruptError(
            f"{generation}: vectors have dimension {chunk_store.dim}, manifest says {manifest.get('dim')}"
        )
    return IndexData(
        documents, chunks, sentences, chunk_store, chunk_vectors, sentence_vectors, manifest, answer_settings
    )


def remove_staging_leftovers(index_dir: Path) -> int:
    """Delete the staging folders of ingests that were killed before they finished; call only while
    holding the ingest lock (no other ingest can be writing one). Returns how many went."""
    removed = 0
    for child in index_dir.glob(".staging-*"):
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
    return removed


# Generations kept on disk: the current one and the two before it. A server notices a new one
# within its poll interval (seconds), so one that is still reading the previous generation never
# has it deleted from under it, even when two ingests commit in quick succession.
KEEP_GENERATIONS = 3


def _remove_stale_generations(index_dir: Path, keep: str) -> None:
    generations = [c for c in index_dir.iterdir() if c.is_dir() and c.name.startswith("v-") and c.name != keep]
    generations.sort(key=lambda c: c.stat().st_mtime_ns, reverse=True)
    for child in generations[KEEP_GENERATIONS - 1 :]:
        shutil.rmtree(child, ignore_errors=True)


def document_record(doc: Document) -> dict[str, Any]:
    record = asdict(doc)
    record["metadata"] = dict(doc.metadata)
    return record


def _document_from_record(record: dict[str, Any]) -> Document:
    return Document(**record)


def _write_jsonl(path: Path, records: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False))
            handle.write("\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


