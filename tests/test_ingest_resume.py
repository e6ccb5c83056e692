"""Issue 18: an ingest killed with SIGKILL resumes from its checkpoint, embeds again at most the
batch that was in flight, and writes the same index as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
from corpora import ward_news

from rag.embedding.checkpoint import EmbeddingCheckpoint
from rag.embedding.fake import HashingEmbedder
from rag.ingest import CHECKPOINT_BATCH, ingest
from rag.settings import Settings
from rag.store.index_files import current_generation

REPO = Path(__file__).resolve().parents[1]


def test_a_checkpoint_keeps_whole_batches_only(tmp_path: Path) -> None:
    checkpoint = EmbeddingCheckpoint(tmp_path, "model-x", dim=4)
    checkpoint.append(["k1", "k2"], np.arange(8, dtype=np.float32).reshape(2, 4))
    # A kill in the middle of the next batch: its vectors half written, its keys not at all.
    with open(checkpoint.folder / "vectors.f32", "ab") as handle:
        handle.write(np.ones(6, dtype=np.float32).tobytes())
    assert sorted(checkpoint.load()) == ["k1", "k2"]
    # A kill while writing keys: the half line is dropped with its vector.
    checkpoint.append(["k3"], np.full((1, 4), 3, dtype=np.float32))
    with open(checkpoint.folder / "keys.txt", "ab") as handle:
        handle.write(b"k4-half")
    loaded = EmbeddingCheckpoint(tmp_path, "model-x", dim=4).load()
    assert sorted(loaded) == ["k1", "k2", "k3"] and checkpoint.opener()()[loaded["k3"]].tolist() == [3, 3, 3, 3]
    assert EmbeddingCheckpoint(tmp_path, "another-model", dim=4).load() == {}  # another model's vectors
    checkpoint.discard()
    assert not checkpoint.folder.exists()


_SLOW_INGEST = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from rag.embedding.fake import HashingEmbedder
    from rag.ingest import ingest
    from rag.settings import Settings

    class Slow(HashingEmbedder):
        def embed(self, texts):
            time.sleep(0.3)  # a real model's pace, so that the kill lands mid-run
            return super().embed(texts)

    ingest([Path(sys.argv[1])], Settings(index_dir=Path(sys.argv[2])), embedder=Slow())
    """
)


def test_an_ingest_killed_halfway_resumes_and_writes_the_same_index(tmp_path: Path) -> None:
    corpus = ward_news(tmp_path / "corpus")
    index = tmp_path / "index"
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_INGEST, str(corpus), str(index)], env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    keys = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = list(index.glob(".embedded-*/keys.txt"))
        if found and found[0].read_bytes().count(b"\n") >= 2 * CHECKPOINT_BATCH:
            keys = found[0]
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert keys is not None, "the ingest never checkpointed two batches"
    assert not (index / "CURRENT").exists()  # killed before it wrote an index
    saved = keys.read_bytes().count(b"\n")

    embedder = HashingEmbedder()
    resumed = ingest([corpus], Settings(index_dir=index), embedder=embedder)
    assert resumed.written and resumed.resumed >= saved - CHECKPOINT_BATCH  # the kill may cut the last batch
    # The resumed run embeds only what the checkpoint lacks: the killed run embedded at most one
    # batch beyond what it checkpointed, so no more than that is embedded twice.
    total_distinct = resumed.resumed + resumed.embedded + resumed.sentences_embedded
    assert embedder.calls == total_distinct - resumed.resumed
    assert not list(index.glob(".embedded-*"))  # the checkpoint goes once the index holds the vectors

    clean = tmp_path / "clean"
    uninterrupted = ingest([corpus], Settings(index_dir=clean), embedder=HashingEmbedder())
    assert uninterrupted.index_version == resumed.index_version
    for name in ("chunk_vectors.npy", "sentence_vectors.npy", "chunks.jsonl", "sentences.jsonl"):
        assert (current_generation(index) / name).read_bytes() == (current_generation(clean) / name).read_bytes()


def test_without_a_terminal_progress_is_a_line_now_and_then(capsys) -> None:
    from rag.ingest import EmbedProgress, _log_lines

    report = _log_lines(every_s=0.05)
    report(EmbedProgress("chunks", 0, 1000, 0, 4000, 0.0))  # the pass starts: nothing to say yet
    time.sleep(0.1)
    report(EmbedProgress("chunks", 250, 1000, 1000, 4000, 10.0))
    report(EmbedProgress("chunks", 300, 1000, 1200, 4000, 12.0))  # too soon after the last line
    time.sleep(0.06)
    report(EmbedProgress("chunks", 1000, 1000, 2000, 4000, 20.0))  # the end of a pass is always said
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    # 1,000 of 4,000 characters in 10 s: 30 s left for the whole run, not for this pass alone.
    assert lines[0].startswith("rag ingest: embedded 250 of 1,000 chunks (25%), ")
    assert lines[0].endswith("about 30 s left in all")
    # The chunks are done, the sentences are not: the time left still counts them.
    assert lines[1].startswith("rag ingest: embedded 1,000 of 1,000 chunks (100%)")
    assert lines[1].endswith("about 20 s left in all")


def test_the_time_left_covers_every_pass_of_the_run(tmp_path: Path) -> None:
    from rag.ingest import CHECKPOINT_BATCH, EmbedProgress, _start_embedding
    from rag.store.vector_rows import VectorRows

    seen: list[EmbedProgress] = []
    embedder = HashingEmbedder()
    embedding = _start_embedding(tmp_path, embedder, VectorRows(embedder.dim), progress=False, log_every_s=None)
    embedding.report = seen.append
    chunks = [f"chunk number {i} " * 20 for i in range(3 * CHECKPOINT_BATCH)]
    sentences = [f"sentence {i}." for i in range(700)]
    embedding.plan([chunks, sentences])
    embedding.vectors_for(chunks, "chunks")
    # The clock starts once the first batch (which also loads the model) is done: the work from
    # then on is what the rate and the time left are reckoned in.
    first = sum(len(t) for t in chunks[:CHECKPOINT_BATCH])
    planned = sum(len(t) for t in chunks) + sum(len(t) for t in sentences) - first
    assert seen[1].work_done == 0 and seen[1].seconds_left is None
    assert {p.work_total for p in seen[1:]} == {planned}
    last_chunk = seen[-1]
    assert last_chunk.label == "chunks" and last_chunk.done == last_chunk.total
    assert last_chunk.work_done == sum(len(t) for t in chunks) - first
    assert last_chunk.seconds_left is not None and last_chunk.seconds_left > 0  # the sentences are still to come
    embedding.vectors_for(sentences, "sentences")
    assert seen[-1].work_done == planned and seen[-1].seconds_left == 0


def test_the_summary_names_the_time_of_each_stage(tmp_path: Path) -> None:
    summary = ingest([ward_news(tmp_path / "corpus", articles=3)], Settings(index_dir=tmp_path / "i"),
                     embedder=HashingEmbedder())
    assert set(summary.stages) == {"parse", "chunk", "embed", "write"}
    assert all(seconds >= 0 for seconds in summary.stages.values())
    assert "(parse " in summary.line() and "write " in summary.line()
