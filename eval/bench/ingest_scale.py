"""Ingest at scale (issue 18): `rag ingest` of 1k and 5k real news articles, its memory, and a resume.

Per article count N, each ingest a child process into a fresh index folder (so its time and peak
RSS are its own):

- corpus: N articles of the news benchmark's corpus (`../shared/benchmarks/realtimeqa-2022-2024`),
  repeated past its 1,468 with new ids. Ingest embeds each distinct text once, so a repeat must be
  new work for the model: repeat r orders the article's sentences by a stride coprime with their
  count (`repeat_order`). Rotating them instead left a third of the chunks of 4 repeats identical
  (greedy chunk packing from a rotated start soon falls onto the original's chunk boundaries); with
  strides no two repeats share a run of two sentences, and 0.8% of the chunks at 5k (1.6% at 20k)
  are repeats (short articles, one-sentence chunks). Every sentence is the article's own, as parsed.
- figures: wall time of the child, the ingest's stages and counts, articles/s, peak RSS, and the
  model tokens of the chunks it embedded (word-pieces with [CLS] and [SEP], counted in this process
  over the same chunk texts) per second of its embed stage.
- raw model rate: `raw_runner` (eval/bench/ingest_rate.py) with the embedder the child loads, over a
  spread sample of this corpus's chunks, timed in this (the bench) process between the child runs,
  so nothing else of the bench competes with it. `ratio` = ingest embed-stage tokens/s ÷ raw tokens/s;
  the embed stage also pools the sentences' vectors from each chunk's pass (RAG_SENTENCE_VECTORS).
- resume (at one size): the same ingest into another fresh folder, killed (SIGKILL) halfway through
  its embedding, timed by its checkpoint (`<index>/.embedded-*/keys.txt`, see `measure_resume`);
  then the same ingest again. Reported: the resumed run's time, what it took from the checkpoint,
  the texts it embedded although the checkpoint had them, the batch in flight at the kill (lost),
  and whether its index is the uninterrupted one (same version, same vector files).

The child is `python -m eval.bench.ingest_scale ingest FILE INDEX [--fake]`: `rag.ingest.ingest()`
as `rag ingest` calls it, printing the summary; `--fake` (tests) embeds with the deterministic
`PoolingHashingEmbedder`. Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Any

from eval.bench.ingest_rate import corpus_chunk_texts, model_token_counts, raw_runner, spread_sample
from eval.bench.memory import MB, peak_rss_bytes
from eval.bench.stats import summarize
from rag.embedding.fake import PoolingHashingEmbedder
from rag.ingest import CHECKPOINT_BATCH, ingest
from rag.parsing import parse_paths
from rag.protocols import Embedder
from rag.sentences import sentence_spans
from rag.settings import Settings
from rag.store.atomic import sha256_file
from rag.store.index_files import current_generation

REPO = Path(__file__).resolve().parents[2]
NEWS_CORPUS = REPO.parent / "shared" / "benchmarks" / "realtimeqa-2022-2024" / "corpus.jsonl.gz"
VECTOR_FILES = ("chunk_vectors.npy", "sentence_vectors.npy")


@dataclass
class IngestScaleOptions:
    sizes: tuple[int, ...] = (1000, 5000)  # article counts
    resume_at: int | None = None  # the size killed halfway and resumed: None the first, 0 none
    raw_texts: int = 300  # chunks the raw model rate is timed over
    raw_runs: int = 3
    corpus: Path = NEWS_CORPUS
    fake: bool = False  # the children embed with PoolingHashingEmbedder (tests)
    poll_s: float = 0.01  # how often a child's checkpoint is looked at
    log: Callable[[str], None] = field(default=lambda message: None)


# --- the corpus ----------------------------------------------------------------------------------


def repeat_order(sentences: int, repeat: int) -> list[int]:
    """The sentence order of repeat `repeat`: i -> (m*i + c) mod n, m the repeat's stride coprime
    with n (so each sentence once); when the strides run out, rotations of them. Repeat 0 is the
    article as written. Two different strides never put one sentence right after the same other one."""
    strides = [m for m in range(1, sentences + 1) if gcd(m, sentences) == 1]
    stride, shift = strides[repeat % len(strides)], repeat // len(strides)
    return [(stride * i + shift) % sentences for i in range(sentences)]


def repeat_text(text: str, repeat: int) -> str:
    spans = sentence_spans(text)
    if repeat == 0 or not spans:
        return text
    return " ".join(text[spans[i][0] : spans[i][1]] for i in repeat_order(len(spans), repeat))


def build_corpus(source: Path, articles: int, out: Path) -> Path:
    """`articles` articles of `source` as one JSONL file at `out`, repeated with new ids (`-r<n>`)
    and reordered sentences past the end of `source`."""
    documents = parse_paths([source])
    with open(out, "w", encoding="utf-8") as handle:
        for n in range(articles):
            repeat, k = divmod(n, len(documents))
            d = documents[k]
            record = {
                "id": d.doc_id if repeat == 0 else f"{d.doc_id}-r{repeat}",
                "title": d.title, "url": d.url, "published": d.published, "text": repeat_text(d.text, repeat),
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out


# --- one ingest child ----------------------------------------------------------------------------


class CheckpointWatch:
    """Lines of `<index>/.embedded-*/keys.txt` seen so far (read as they are appended): the texts an
    ingest has checkpointed, and when the first and the last batch were seen. The folder goes once
    the index is written; the figures stay."""

    def __init__(self, index: Path) -> None:
        self.index = index
        self.offset = 0
        self.lines = 0
        self.first_s: float | None = None
        self.last_s: float | None = None

    def poll(self) -> None:
        for path in self.index.glob(".embedded-*/keys.txt"):
            try:
                with open(path, "rb") as handle:
                    handle.seek(self.offset)
                    data = handle.read()
            except OSError:  # removed between the glob and the open: the run wrote its index
                continue
            self.offset += len(data)
            if data.count(b"\n"):
                self.lines += data.count(b"\n")
                self.last_s = time.perf_counter()
                self.first_s = self.first_s or self.last_s

    @property
    def span_s(self) -> float:
        """From the first checkpointed batch seen to the last."""
        return (self.last_s or 0.0) - (self.first_s or 0.0)


class ChildFinished(RuntimeError):
    """The ingest to be killed finished first."""


@dataclass
class ChildRun:
    wall_s: float
    checkpoint_keys: int  # the most keys its checkpoint was seen to hold
    checkpoint_span_s: float  # from its first checkpointed batch to its last
    since_checkpoint_s: float  # from its last checkpointed batch to its end (at a kill: work lost)
    summary: dict[str, Any] | None = None  # None: killed
    peak_rss_mb: float | None = None


def run_child(corpus: Path, index: Path, fake: bool, poll_s: float, kill_after_s: float | None = None) -> ChildRun:
    """One ingest child into `index`; with `kill_after_s`, SIGKILLed that long after its first
    checkpointed batch (`ChildFinished` if it finished first: nothing was interrupted)."""
    command = [sys.executable, "-m", "eval.bench.ingest_scale", "ingest", str(corpus), str(index)]
    watch = CheckpointWatch(index)
    started = time.perf_counter()
    proc = subprocess.Popen([*command, *(["--fake"] if fake else [])], stdout=subprocess.PIPE, text=True)
    killed = False
    while proc.poll() is None:
        watch.poll()
        if kill_after_s is not None and watch.first_s and time.perf_counter() - watch.first_s >= kill_after_s:
            proc.send_signal(signal.SIGKILL)  # kill -9: no handler runs, nothing is flushed
            killed = True
            break
        time.sleep(poll_s)
    out, _ = proc.communicate()
    wall = time.perf_counter() - started
    watch.poll()  # what is on disk at the end (at a kill: what the next run finds)
    since = time.perf_counter() - (watch.last_s or started)
    if killed:
        return ChildRun(wall, watch.lines, watch.span_s, since)
    if proc.returncode != 0:
        raise RuntimeError(f"ingest child exited with status {proc.returncode}")
    if kill_after_s is not None:
        raise ChildFinished(f"the ingest finished within {kill_after_s:.2f} s of its first checkpointed batch")
    reply = json.loads(out)
    peak = round(reply["peak_rss_bytes"] / MB, 1)
    return ChildRun(wall, watch.lines, watch.span_s, since, reply["summary"], peak)


def fresh_index(work: Path, name: str, models: Path) -> Path:
    """An empty index folder whose model cache is `models` (exported once, not once per index)."""
    index = work / name
    index.mkdir()
    (index / "models").symlink_to(models, target_is_directory=True)
    return index


def index_fingerprint(index: Path, summary: dict[str, Any]) -> dict[str, str]:
    generation = current_generation(index)
    return {"index_version": summary["index_version"], **{n: sha256_file(generation / n) for n in VECTOR_FILES}}


# --- the part ------------------------------------------------------------------------------------


def run_ingest_scale(settings: Settings, options: IngestScaleOptions) -> dict[str, Any]:
    """Every size in `options.sizes`, and the resume at `options.resume_at` (see the module doc)."""
    resume_at = options.sizes[0] if options.resume_at is None else options.resume_at
    if resume_at and resume_at not in options.sizes:
        raise ValueError(f"the resume size {resume_at} is not one of the sizes {options.sizes}")
    if not options.corpus.is_file():
        raise FileNotFoundError(f"no news corpus at {options.corpus}")
    with tempfile.TemporaryDirectory(prefix="rag-bench-ingest-") as tmp:
        work = Path(tmp)
        models = _model_cache(settings, work)
        embedder = _embedder(settings, fresh_index(work, "home", models), options.fake)
        result: dict[str, Any] = {
            "corpus": str(options.corpus), "embedder_name": embedder.name, "fake": options.fake, "sizes": {},
        }
        for n in options.sizes:
            options.log(f"ingest-scale: {n:,} articles")
            corpus = build_corpus(options.corpus, n, work / f"corpus-{n}.jsonl")
            index = fresh_index(work, f"index-{n}", models)
            run = run_child(corpus, index, options.fake, options.poll_s)
            result["sizes"][str(n)] = measure_size(n, run, corpus, settings, embedder, options)
            if n == resume_at:
                options.log(f"ingest-scale: {n:,} articles killed halfway, then resumed")
                reference = index_fingerprint(index, run.summary or {})
                resume_index = fresh_index(work, "resume", models)
                try:
                    result["resume"] = measure_resume(n, corpus, run, reference, resume_index, options)
                except ChildFinished as exc:  # a corpus of one checkpoint batch: nothing to interrupt
                    result["resume"] = {"articles": n, "error": str(exc)}
    return result


def _model_cache(settings: Settings, work: Path) -> Path:
    """A copy of the exported model the bench's index holds, when it holds one (else the first load
    exports it there): the children never write into the user's folders."""
    cache, existing = work / "models", settings.index_dir / "models"
    if existing.is_dir():
        shutil.copytree(existing, cache)
    else:
        cache.mkdir()
    return cache


def _embedder(settings: Settings, home: Path, fake: bool) -> Embedder:
    if fake:
        return PoolingHashingEmbedder()
    from rag.embedding import load_embedder

    embedder = load_embedder(settings.with_(index_dir=home))
    embedder.embed(["warm up"])  # export the model (if not cached) before any child needs it
    return embedder


def measure_size(
    articles: int, run: ChildRun, corpus: Path, settings: Settings, embedder: Embedder, options: IngestScaleOptions
) -> dict[str, Any]:
    """The child's figures, its model tokens per second, and the raw model rate on its chunks."""
    summary = run.summary or {}
    stages = summary.get("stages", {})
    texts = list(dict.fromkeys(corpus_chunk_texts([corpus], settings, embedder)))  # distinct, as ingest embeds
    tokens = _token_total(embedder, texts)
    figures: dict[str, Any] = {
        "articles": articles,
        **{k: summary.get(k) for k in ("documents", "chunks", "embedded", "sentences", "sentences_embedded")},
        "distinct_chunk_texts": len(texts),  # the texts tokens are counted over: equals `embedded`
        "tokens": tokens,
        "wall_s": round(run.wall_s, 2),
        "ingest_s": round(summary.get("seconds", 0.0), 2),
        "stages": stages,
        "articles_per_s": round(articles / run.wall_s, 2),
        "tokens_per_s": round(tokens / run.wall_s, 1),
        "embed_tokens_per_s": round(tokens / stages["embed"], 1) if stages.get("embed") else None,
        "peak_rss_mb": run.peak_rss_mb,
        **raw_rate(embedder, spread_sample(texts, options.raw_texts), options.raw_runs),
    }
    raw = _median(figures, "raw_model", "tokens_per_s")
    if raw and figures["embed_tokens_per_s"]:
        figures["ratio"] = round(figures["embed_tokens_per_s"] / raw, 3)
    return figures


def raw_rate(embedder: Embedder, sample: Sequence[str], runs: int) -> dict[str, Any]:
    """The raw model's tokens/s over `sample` (absent, with the reason, where it cannot be run)."""
    run, path = raw_runner(embedder, sample)
    if run is None:
        return {"raw_model_path": path}
    tokens = _token_total(embedder, sample)
    seconds = [_timed(run) for _ in range(runs)]
    rate = summarize([tokens / s for s in seconds], 1)
    return {"raw_model_path": path, "raw_model": {"texts": len(sample), "tokens": tokens, "tokens_per_s": rate}}


def _median(figures: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        figures = figures.get(key) or {}
    return figures.get("median")


def _token_total(embedder: Embedder, texts: Sequence[str], block: int = 1000) -> int:
    # In blocks: 40k tokenizer encodings at once would hold hundreds of MB in this process.
    return sum(sum(model_token_counts(embedder, texts[a : a + block])) for a in range(0, len(texts), block))


def _timed(run: Callable[[], None]) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


def measure_resume(
    articles: int, corpus: Path, uninterrupted: ChildRun, reference: dict[str, str], index: Path,
    options: IngestScaleOptions,
) -> dict[str, Any]:
    """Kill an ingest of `corpus` halfway, run it again, compare the index with the uninterrupted
    run's (`reference`).

    Halfway in time: batches of chunks take about the same time each, so the kill comes half the
    uninterrupted run's span from its first checkpointed batch to its last after the first one.
    Counting keys would not do: a batch's pooled sentences are checkpointed with it, and in a
    repeated corpus they are all new in the first pass over it (repeats only reorder them)."""
    first = uninterrupted.summary or {}
    kill_after = uninterrupted.checkpoint_span_s / 2
    killed = run_child(corpus, index, options.fake, options.poll_s, kill_after_s=kill_after)
    resumed = run_child(corpus, index, options.fake, options.poll_s)
    second = resumed.summary or {}
    # Texts the model runs over: chunks, and sentences no chunk holds whole (RAG_SENTENCE_VECTORS=pooled).
    total = first["embedded"] + first["sentences_embedded"]
    # A batch is checkpointed whole or not at all, and the resumed run cuts the same batches: what it
    # embedded plus what it took from the checkpoint, beyond the work there is, it embedded twice.
    twice = second["embedded"] + second["sentences_embedded"] + second["resumed"] - total
    # The batch in flight at the kill was never checkpointed: its work is lost, at most one batch.
    in_flight = min(CHECKPOINT_BATCH, total - second["resumed"])
    fingerprint = index_fingerprint(index, second)
    return {
        "articles": articles,
        "kill_after_first_batch_s": round(kill_after, 2),
        "killed_after_s": round(killed.wall_s, 2),
        "keys_at_kill": killed.checkpoint_keys,
        "keys_uninterrupted": uninterrupted.checkpoint_keys,
        "uninterrupted_wall_s": round(uninterrupted.wall_s, 2),
        "resumed_wall_s": round(resumed.wall_s, 2),
        "resumed_stages": second.get("stages", {}),
        "texts_to_embed": total,
        "resumed": second["resumed"],
        "resumed_share": round(second["resumed"] / total, 4) if total else None,  # where the kill landed
        "embedded": second["embedded"],
        "sentences_embedded": second["sentences_embedded"],
        "embedded_twice": twice,
        "embedded_twice_share": round(twice / total, 4) if total else None,
        "lost_in_flight_s": round(killed.since_checkpoint_s, 2),  # embedding done since its last batch
        "lost_in_flight_at_most": in_flight,
        "lost_in_flight_share_at_most": round(in_flight / total, 4) if total else None,
        "identical": fingerprint == reference,
        "differences": sorted(k for k in reference if fingerprint.get(k) != reference[k]),
    }


# --- the child -----------------------------------------------------------------------------------


def child_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench.ingest_scale")
    sub = parser.add_subparsers(dest="command", required=True)
    ingest_cmd = sub.add_parser("ingest", help="rag.ingest.ingest() of FILE into INDEX; prints the summary JSON")
    ingest_cmd.add_argument("file", type=Path)
    ingest_cmd.add_argument("index", type=Path)
    ingest_cmd.add_argument("--fake", action="store_true", help="embed with PoolingHashingEmbedder (tests)")
    args = parser.parse_args(argv)
    embedder = PoolingHashingEmbedder() if args.fake else None  # None: loaded as `rag ingest` does
    summary = ingest([args.file], Settings.from_env(index_dir=args.index), embedder=embedder)
    # The kernel's high-water mark of this whole process, read at its end: no polling gap can miss
    # a spike, and no other process counts (getrusage(RUSAGE_CHILDREN) is the max over every child).
    print(json.dumps({"summary": summary.as_dict(), "peak_rss_bytes": peak_rss_bytes()}))
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
