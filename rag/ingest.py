"""Ingest: files → documents → chunks and sentences → vectors → a new index generation.

Incremental by content: a chunk or sentence whose exact text was embedded before reuses its
vector, so re-running on unchanged input embeds nothing and writes nothing. Documents are
replaced per source file (a changed file replaces its documents, never duplicates them);
`prune` drops documents whose source files are gone.
"""

from __future__ import annotations

import bisect
import fcntl
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer.config import AnswerConfig
from rag.chunking import ChunkerConfig, chunk_document, split_sentences
from rag.embedding import load_embedder
from rag.embedding.checkpoint import EmbeddingCheckpoint
from rag.errors import IndexCorruptError
from rag.parsing import parse_paths
from rag.protocols import Embedder
from rag.settings import Settings
from rag.store.faiss_store import FaissStore, build_faiss_index
from rag.store.index_files import (
    IndexData,
    compute_version,
    document_record,
    index_exists,
    load_index,
    remove_staging_leftovers,
    vector_files,
    write_index,
)
from rag.store.vector_rows import VectorRows, npy_opener
from rag.types import Chunk, Document, Sentence


@dataclass(frozen=True)
class IngestSummary:
    documents: int
    chunks: int
    sentences: int
    embedded: int  # chunks whose vectors were computed in this run
    reused: int  # chunks whose vectors came from the previous index
    removed: int  # chunks of the previous index that are gone
    sentences_embedded: int
    documents_removed: int
    index_version: str
    written: bool
    seconds: float
    rebuilt_from_corrupt: bool = False
    resumed: int = 0  # texts whose vectors a killed run of the same input had checkpointed
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage: parse, chunk, embed, write

    def line(self) -> str:
        status = "index written" if self.written else "index unchanged"
        note = " (previous index was unreadable; rebuilt)" if self.rebuilt_from_corrupt else ""
        if self.resumed:
            note += f"; resumed {self.resumed} texts from an interrupted run"
        stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.stages.items())
        return (
            f"{self.documents} documents, {self.chunks} chunks: {self.embedded} embedded, "
            f"{self.reused} reused, {self.removed} removed ({self.sentences} sentences, "
            f"{self.sentences_embedded} embedded); {status} {self.index_version} "
            f"in {self.seconds:.2f}s{note}" + (f" ({stages})" if stages else "")
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    embedder: Embedder | None = None,
    prune: bool = False,
    progress: bool = False,
    rebuild: bool = False,
    progress_log_s: float | None = None,
) -> IngestSummary:
    """`rebuild`: replace an index that cannot be read; without it such an index is refused
    (`IndexCorruptError`, nothing written), since building over it would drop every document it held.

    With `settings.store` set, the index is written to that PostgreSQL database instead of `index_dir`.
    `progress`: a progress bar (a terminal); else `progress_log_s`: a progress line that often.
    Embedded vectors are checkpointed as they are made: a killed run's successor embeds at most the
    batch (`CHECKPOINT_BATCH` texts) that was in flight again.
    """
    started = time.perf_counter()
    # Parse everything first: bad input fails here, before the index is touched.
    parsed = parse_paths(list(paths))
    stages = {"parse": time.perf_counter() - started}
    if settings.store:
        return _ingest_postgres(
            settings.store, parsed, paths, settings, embedder, prune, (progress, progress_log_s), started
        )
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    with _ingest_lock(index_dir):
        # A killed ingest leaves its staging folder behind (tens of MB each); with the lock held
        # none can be in use.
        remove_staging_leftovers(index_dir)
        previous, corrupt = _load_previous(index_dir, rebuild)
        embedder = embedder or load_embedder(settings)
        mark = time.perf_counter()
        plan = _plan(
            previous.documents if previous else [], previous.manifest.get("sources", {}) if previous else {},
            parsed, paths, prune, settings, embedder,
        )
        previous_chunks = {c.chunk_id for c in previous.chunks} if previous else set()
        previous_ids = {d.doc_id for d in previous.documents} if previous else set()
        if previous is not None and previous.version == plan.version:
            return plan.summary(previous_chunks, previous_ids, 0, 0, written=False, started=started)

        stages["chunk"] = time.perf_counter() - mark
        mark = time.perf_counter()
        mode = plan.sentence_mode
        embedding = _start_embedding(
            index_dir, embedder, _previous_rows(previous, mode, embedder.dim), progress, progress_log_s,
            sentence_mode=mode,
        )
        chunk_keys, sentence_keys = embedding.chunks_and_sentences(plan.chunks, plan.sentences)
        embedded_c, embedded_s = embedding.counts["chunks"], embedding.counts["sentences"]
        stages["embed"] = time.perf_counter() - mark
        mark = time.perf_counter()
        with vector_files(index_dir) as (chunk_file, sentence_file):
            embedding.known.write_npy(chunk_file, chunk_keys)
            embedding.known.write_npy(sentence_file, sentence_keys)
            chunk_vectors = np.load(chunk_file, mmap_mode="r")
            store = FaissStore(*build_faiss_index(chunk_vectors))
            del chunk_vectors
            write_index(
                index_dir,
                documents=plan.documents,
                chunks=plan.chunks,
                sentences=plan.sentences,
                chunk_store=store,
                chunk_vectors=chunk_file,
                sentence_vectors=sentence_file,
                manifest=plan.manifest(embedder, store.params),
                answer_settings=plan.answer_settings,
            )
        embedding.checkpoint.discard()  # the index holds every vector now
        stages["write"] = time.perf_counter() - mark
        return plan.summary(
            previous_chunks, previous_ids, embedded_c, embedded_s, written=True, started=started,
            rebuilt_from_corrupt=corrupt, stages=stages, resumed=embedding.resumed,
        )


def _ingest_postgres(
    url: str,
    parsed: list[Document],
    paths: Sequence[Path],
    settings: Settings,
    embedder: Embedder | None,
    prune: bool,
    progress: tuple[bool, float | None],
    started: float,
) -> IngestSummary:
    from rag.store.postgres.write import PostgresWriter

    embedder = embedder or load_embedder(settings)
    writer = PostgresWriter(url, embedder.dim)
    with writer.locked():
        previous_docs, previous_manifest, previous_version = writer.previous()
        # Documents the run does not change keep their sentence vectors: the database keeps the way
        # they were made (`RAG_SENTENCE_VECTORS` applies to a new database).
        mode = sentence_vector_mode(previous_manifest) if previous_docs else _sentence_mode(settings, embedder)
        plan = _plan(
            previous_docs, previous_manifest.get("sources", {}), parsed, paths, prune, settings, embedder, mode
        )
        previous_ids = {d.doc_id for d in previous_docs}
        previous_chunks = writer.chunk_ids()
        if previous_version == plan.version:
            return plan.summary(previous_chunks, previous_ids, 0, 0, written=False, started=started)
        records = {d.doc_id: document_record(d) for d in plan.documents}
        changed = writer.to_write(records)
        chunks = [c for c in plan.chunks if c.doc_id in changed]
        sentences = [s for s in plan.sentences if s.doc_id in changed]
        chunk_keys = [_text_key(c.text) for c in chunks]
        sentence_keys = [_text_key(s.text) for s in sentences]
        known = VectorRows(embedder.dim)
        stored = writer.known_vectors(chunk_keys + sentence_keys)
        if stored:
            source = known.add_source(npy_opener(np.vstack(list(stored.values()))))
            for row, key in enumerate(stored):
                known.put(key, source, row)
        embedding = _start_embedding(settings.index_dir, embedder, known, *progress, scope=url, sentence_mode=mode)
        embedding.chunks_and_sentences(chunks, sentences)
        chunk_vectors, sentence_vectors = embedding.known.gather(chunk_keys), embedding.known.gather(sentence_keys)
        embedded_c, embedded_s = embedding.counts["chunks"], embedding.counts["sentences"]
        writer.write(
            documents=plan.documents, records=records, changed=changed,
            chunks=chunks, chunk_vectors=chunk_vectors, chunk_keys=chunk_keys,
            sentences=sentences, sentence_vectors=sentence_vectors, sentence_keys=sentence_keys,
            manifest=plan.manifest(embedder, {"type": "pgvector-hnsw"}), answer_settings=plan.answer_settings,
        )
        writer.tidy()
        embedding.checkpoint.discard()
        return plan.summary(
            previous_chunks, previous_ids, embedded_c, embedded_s, written=True, started=started,
            resumed=embedding.resumed,
        )


@dataclass(frozen=True)
class _Plan:
    """What the new version holds, whatever store it is written to."""

    documents: list[Document]
    sources: dict[str, str]
    chunks: list[Chunk]
    sentences: list[Sentence]
    chunker: dict[str, Any]
    answer_settings: dict[str, Any]
    version: str

    @property
    def sentence_mode(self) -> str:
        return sentence_vector_mode({"chunker": self.chunker})

    def manifest(self, embedder: Embedder, vector_index: dict[str, Any]) -> dict[str, Any]:
        return {
            "index_version": self.version,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": embedder.name,
            "dim": embedder.dim,
            "chunker": self.chunker,
            "vector_index": vector_index,
            "counts": {"documents": len(self.documents), "chunks": len(self.chunks), "sentences": len(self.sentences)},
            "sources": self.sources,
        }

    def summary(
        self, previous_chunks: set[str], previous_ids: set[str], embedded: int, sentences_embedded: int,
        *, written: bool, started: float, rebuilt_from_corrupt: bool = False,
        stages: dict[str, float] | None = None, resumed: int = 0,
    ) -> IngestSummary:
        chunk_ids = {c.chunk_id for c in self.chunks}
        return IngestSummary(
            documents=len(self.documents),
            chunks=len(self.chunks),
            sentences=len(self.sentences),
            embedded=embedded,
            reused=len(self.chunks) - embedded,
            sentences_embedded=sentences_embedded,
            removed=len(previous_chunks - chunk_ids) if written else 0,
            documents_removed=len(previous_ids - {d.doc_id for d in self.documents}) if written else 0,
            index_version=self.version,
            written=written,
            seconds=time.perf_counter() - started,
            rebuilt_from_corrupt=rebuilt_from_corrupt,
            resumed=resumed,
            stages={k: round(v, 3) for k, v in (stages or {}).items()},
        )


def _plan(
    previous_documents: list[Document],
    previous_sources: dict[str, str],
    parsed: list[Document],
    paths: Sequence[Path],
    prune: bool,
    settings: Settings,
    embedder: Embedder,
    sentence_mode: str | None = None,
) -> _Plan:
    documents, sources = _merge_documents(previous_documents, previous_sources, parsed, paths, prune)
    config = ChunkerConfig(settings.chunk_tokens, settings.chunk_overlap_tokens)
    count_model = getattr(embedder, "count_model_tokens", None)
    chunks = [c for d in documents for c in chunk_document(d, config, count_model)]
    sentences = [s for d in documents for s in split_sentences(d)]
    answer_settings = AnswerConfig.defaults().as_dict()
    chunker = config.as_dict()
    if (sentence_mode or _sentence_mode(settings, embedder)) == POOLED:
        # Only then: an index of separately embedded sentences keeps the version it always had.
        chunker["sentence_vectors"] = POOLED
    version = compute_version(embedder.name, chunker, documents, chunks, answer_settings, sources)
    return _Plan(documents, sources, chunks, sentences, chunker, answer_settings, version)


@contextmanager
def _ingest_lock(index_dir: Path) -> Iterator[None]:
    # Two ingests into one folder would each clean up the other's staging generation.
    with open(index_dir / ".ingest.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_previous(index_dir: Path, rebuild: bool) -> tuple[IndexData | None, bool]:
    if not index_exists(index_dir):
        return None, False
    try:
        return load_index(index_dir), False
    except IndexCorruptError as exc:
        if not rebuild:
            reason = exc.message.split(";")[0]
            raise IndexCorruptError(
                f"{reason}; the index there is unreadable and was left as it is: "
                "`rag ingest --rebuild` replaces it with the given input alone"
            ) from None
        return None, True


def _merge_documents(
    previous: list[Document], previous_sources: dict[str, str], parsed: list[Document], paths: Sequence[Path],
    prune: bool,
) -> tuple[list[Document], dict[str, str]]:
    """Documents of the new index, and the source → file path map recorded in the manifest."""
    new_sources = {d.source for d in parsed}
    sources: dict[str, str] = dict(previous_sources)
    for source in new_sources:
        sources[source] = _source_path(source, paths)
    kept: list[Document] = []
    for doc in previous:
        if doc.source in new_sources:
            continue  # the re-parsed file replaces all of its documents
        if prune and not Path(sources.get(doc.source, "")).exists():
            continue
        kept.append(doc)
    if prune:
        sources = {s: p for s, p in sources.items() if s in new_sources or Path(p).exists()}
    sources = {s: p for s, p in sources.items() if s in new_sources or any(d.source == s for d in kept)}
    return kept + parsed, dict(sorted(sources.items()))


def _source_path(source: str, paths: Sequence[Path]) -> str:
    for path in paths:
        candidate = path / source if path.is_dir() else path
        if candidate.exists() and (path.is_dir() or path.name == source):
            return str(candidate.resolve())
    return source


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _previous_rows(previous: IndexData | None, sentence_mode: str, dim: int) -> VectorRows:
    """Where the previous index's vectors are, by text (its memory-mapped arrays, read only when
    a row is copied out); its sentence vectors only if made the same way."""
    rows = VectorRows(dim)
    if previous is None:
        return rows
    assert previous.chunk_vectors is not None  # a file index always has its chunk vectors
    source = rows.add_source(npy_opener(previous.chunk_vectors))
    for row, chunk in enumerate(previous.chunks):
        rows.put(_text_key(chunk.text), source, row)
    if sentence_vector_mode(previous.manifest) == sentence_mode:
        source = rows.add_source(npy_opener(previous.sentence_vectors))
        for row, sentence in enumerate(previous.sentences):
            rows.put(_text_key(sentence.text), source, row)
    return rows


def sentence_vector_mode(manifest: dict[str, Any]) -> str:
    """How an index's sentence vectors were made (indexes from before pooling: separately)."""
    return str(manifest.get("chunker", {}).get("sentence_vectors", SEPARATE))


def _sentence_mode(settings: Settings, embedder: Embedder) -> str:
    if settings.sentence_vectors == POOLED and callable(getattr(embedder, "embed_with_spans", None)):
        return POOLED
    return SEPARATE


def _sentences_within(chunks: Sequence[Chunk], sentences: Sequence[Sentence]) -> list[list[int]]:
    """Per chunk, the sentences (indexes into `sentences`) that lie wholly inside it."""
    by_doc: dict[str, list[int]] = {}
    for i, sentence in enumerate(sentences):
        by_doc.setdefault(sentence.doc_id, []).append(i)
    starts = {doc: [sentences[i].start for i in rows] for doc, rows in by_doc.items()}
    out = []
    for chunk in chunks:
        rows = by_doc.get(chunk.doc_id, [])
        first = bisect.bisect_left(starts.get(chunk.doc_id, []), chunk.start)
        inside = []
        for i in rows[first:]:
            if sentences[i].start >= chunk.end:
                break
            if sentences[i].end <= chunk.end:
                inside.append(i)
        out.append(inside)
    return out


POOLED, SEPARATE = "pooled", "separate"

# Texts embedded per model call and per checkpoint write: a kill costs at most this many texts
# embedded again (a few seconds of work), and the batches are the same in a resumed run.
CHECKPOINT_BATCH = 512


@dataclass(frozen=True)
class EmbedProgress:
    """Where the embedding of one ingest stands. The time left is for the whole run (every pass),
    reckoned in characters, which track the model's work (word pieces) closely: texts per second
    would not, a chunk being several sentences long."""

    label: str  # the pass under way: "chunks" or "sentences"
    done: int  # texts of this pass done (embedded or taken from the checkpoint)
    total: int  # texts this pass has to do
    work_done: int  # characters the model has embedded since the clock started, every pass so far
    work_total: int  # characters the whole run has the model embed from then on
    elapsed_s: float  # since the clock started: the end of the model's first batch in this run

    @property
    def seconds_left(self) -> float | None:
        if self.work_done <= 0 or self.elapsed_s <= 0:
            return None
        return max(self.work_total - self.work_done, 0) * self.elapsed_s / self.work_done


@dataclass
class _Embedding:
    """What one ingest embeds: the vectors it may reuse, and where it checkpoints new ones."""

    embedder: Embedder
    known: VectorRows  # the previous index's vectors, then this run's (all on disk)
    saved: dict[str, int]  # complete batches a killed run of the same input left: key -> checkpoint row
    checkpoint: EmbeddingCheckpoint
    report: Callable[[EmbedProgress], None]
    embedded: int = 0  # texts the model embedded in this run
    resumed: int = 0  # texts taken from the checkpoint
    work_done: int = 0
    work_total: int = 0
    started: float | None = None
    work_timed_from: int = 0  # characters done when the clock started
    sentence_mode: str = SEPARATE  # POOLED: sentence vectors come from the chunk pass
    counts: dict[str, int] = field(default_factory=dict)  # texts embedded per pass

    def __post_init__(self) -> None:
        self._checkpoint_source = self.known.add_source(self.checkpoint.opener())

    def plan(self, passes: Sequence[Sequence[str]]) -> None:
        """Announce every pass's texts before the first, so the time left covers the whole run."""
        todo: dict[str, int] = {}
        for texts in passes:
            for text in texts:
                key = _text_key(text)
                if key not in self.known and key not in self.saved:
                    todo[key] = len(text)
        self.work_total = sum(todo.values())

    def chunks_and_sentences(
        self, chunks: Sequence[Chunk], sentences: Sequence[Sentence]
    ) -> tuple[list[str], list[str]]:
        """Both passes of an ingest, planned together; returns the chunks' and the sentences' keys
        into `known`. `counts` then says how many texts each pass embedded.

        Pooled (`sentence_mode`): each sentence's vector comes from the pass over the first chunk
        that holds it whole (its tokens' mean, in context), so the sentence pass embeds only the
        few no chunk holds whole (a sentence longer than a chunk)."""
        chunk_texts, sentence_texts = [c.text for c in chunks], [s.text for s in sentences]
        spans: dict[str, list[tuple[str, int, int]]] | None = None
        if self.sentence_mode == POOLED:
            spans = {}
            for chunk, inside in zip(chunks, _sentences_within(chunks, sentences), strict=True):
                spans.setdefault(_text_key(chunk.text), [
                    (_text_key(sentences[i].text), sentences[i].start - chunk.start, sentences[i].end - chunk.start)
                    for i in inside
                ])
            held = {key for rows in spans.values() for key, _, _ in rows}
            self.plan([chunk_texts, [t for t in sentence_texts if _text_key(t) not in held]])
        else:
            self.plan([chunk_texts, sentence_texts])
        before = self.embedded
        chunk_keys = self.vectors_for(chunk_texts, "chunks", spans)
        self.counts["chunks"] = self.embedded - before
        sentence_keys = self.vectors_for(sentence_texts, "sentences")
        self.counts["sentences"] = self.embedded - before - self.counts["chunks"]
        return chunk_keys, sentence_keys

    def vectors_for(
        self, texts: list[str], label: str, spans: dict[str, list[tuple[str, int, int]]] | None = None
    ) -> list[str]:
        """Make sure `known` has a vector for each of `texts`; returns their keys, in order. Texts
        the previous index lacks are embedded in fixed batches (each distinct text once), each batch
        checkpointed as soon as it is done. With `spans` (text key -> its sentences' keys and
        offsets), the sentences' pooled vectors are made by the same pass and checkpointed with it."""
        keys = [_text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            # A chunk whose vector is known is run again when a sentence it holds still wants one.
            wanted = key not in self.known or any(k not in self.known for k, _, _ in (spans or {}).get(key, ()))
            if wanted and key not in missing:
                missing[key] = text
        todo = list(missing.items())
        if todo:
            self._report(label, 0, len(todo))
        source = self._checkpoint_source
        for begin in range(0, len(todo), CHECKPOINT_BATCH):
            part = todo[begin : begin + CHECKPOINT_BATCH]
            if all(key in self.saved for key, _ in part):
                self.resumed += len(part)
                for key, _ in part:
                    self.known.put(key, source, self.saved[key])
                    for sentence_key, _, _ in (spans or {}).get(key, ()):
                        if sentence_key in self.saved:
                            self.known.put_new(sentence_key, source, self.saved[sentence_key])
            else:
                if spans is None:
                    first = self.checkpoint.append([key for key, _ in part], self.embedder.embed([t for _, t in part]))
                    for offset, (key, _) in enumerate(part):
                        self.known.put(key, source, first + offset)
                else:
                    self._embed_pooling(part, spans)
                self.embedded += len(part)
                work = sum(len(text) for key, text in part if key not in self.saved)
                self.work_done += work
                if self.started is None:
                    # The rate is timed from the end of the first batch: that one also pays for
                    # loading (or exporting) the model, which would make every later estimate long.
                    self.started, self.work_timed_from = time.perf_counter(), self.work_done
            self._report(label, min(begin + CHECKPOINT_BATCH, len(todo)), len(todo))
        return keys

    def _embed_pooling(self, part: list[tuple[str, str]], spans: dict[str, list[tuple[str, int, int]]]) -> None:
        wanted = [spans.get(key, []) for key, _ in part]
        vectors, pooled = self.embedder.embed_with_spans(  # type: ignore[attr-defined]
            [text for _, text in part], [[(a, b) for _, a, b in rows] for rows in wanted]
        )
        new: dict[str, np.ndarray] = {}
        for rows, row_vectors in zip(wanted, pooled, strict=True):
            for (sentence_key, _, _), vector in zip(rows, row_vectors, strict=True):
                if vector is not None and sentence_key not in self.known and sentence_key not in new:
                    new[sentence_key] = vector
        # The sentences' keys go first: a batch whose chunk keys are all on disk has its sentences too.
        keys = [*new, *(key for key, _ in part)]
        first = self.checkpoint.append(keys, np.vstack([*new.values(), vectors]) if new else vectors)
        for offset, key in enumerate(keys):
            self.known.put(key, self._checkpoint_source, first + offset)

    def _report(self, label: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.started if self.started is not None else 0.0
        work_total = max(self.work_total, self.work_done)  # a run that was not planned: what is known
        timed = self.work_done - self.work_timed_from
        self.report(EmbedProgress(label, done, total, timed, work_total - self.work_timed_from, elapsed))


def _start_embedding(
    index_dir: Path, embedder: Embedder, known: VectorRows, progress: bool, log_every_s: float | None,
    scope: str = "", sentence_mode: str = SEPARATE,
) -> _Embedding:
    index_dir.mkdir(parents=True, exist_ok=True)
    # A sentence's vector differs with the way it is made: each way checkpoints apart.
    scope = scope if sentence_mode == SEPARATE else f"{scope}\0{sentence_mode}"
    checkpoint = EmbeddingCheckpoint(index_dir, embedder.name, embedder.dim, scope)
    report = _progress_reporter(progress, log_every_s)
    return _Embedding(embedder, known, checkpoint.load(), checkpoint, report, sentence_mode=sentence_mode)


def _progress_reporter(enabled: bool, log_every_s: float | None = None) -> Callable[[EmbedProgress], None]:
    """A progress bar with rate and time left (on a terminal), or one line every `log_every_s`
    seconds on stderr (in a log), or nothing."""
    if enabled:
        return _bar()
    if log_every_s:
        return _log_lines(log_every_s)
    return lambda progress: None


def _bar() -> Callable[[EmbedProgress], None]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    state: dict[str, Any] = {}

    def report(p: EmbedProgress) -> None:
        if state.get("label") != p.label:
            if "progress" in state:
                state["progress"].stop()
            state["progress"] = Progress(
                TextColumn("embedding {task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[left]}"), transient=True,
            )
            state["progress"].start()
            state["task"] = state["progress"].add_task(p.label, total=p.total, rate="", left="")
            state["label"], state["started"] = p.label, time.perf_counter()
        elapsed = time.perf_counter() - state["started"]
        rate = f"{p.done / elapsed:,.0f} texts/s" if elapsed > 0 and p.done else ""
        left = p.seconds_left
        state["progress"].update(
            state["task"], completed=p.done, rate=rate, left=f"about {_duration(left)} left" if left else ""
        )
        if p.done >= p.total:
            state["progress"].stop()
            state.clear()

    return report


def _log_lines(every_s: float) -> Callable[[EmbedProgress], None]:
    import sys

    state: dict[str, Any] = {"last": time.perf_counter(), "label": None}

    def report(p: EmbedProgress) -> None:
        now = time.perf_counter()
        if state["label"] != p.label:
            state.update(label=p.label, started=now, last=now)
        if now - state["last"] < every_s and p.done < p.total:
            return
        state["last"] = now
        elapsed = now - state["started"]
        rate = p.done / elapsed if elapsed > 0 else 0.0
        seconds_left = p.seconds_left
        left = f", about {_duration(seconds_left)} left in all" if seconds_left else ""
        print(f"rag ingest: embedded {p.done:,} of {p.total:,} {p.label} ({p.done / max(p.total, 1):.0%}), "
              f"{rate:,.0f} texts/s{left}", file=sys.stderr, flush=True)

    return report


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else (f"{minutes} min {secs:02d} s" if minutes else f"{secs} s")
