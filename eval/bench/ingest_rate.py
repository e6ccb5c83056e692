"""Ingest: how fast the project's embedder turns the seed chunks into vectors, against the model alone.

Two rates over the same texts, measured alternately in the same process (so a neighbour's load
hits both alike):

- `embedder`: `embedder.embed(texts)`, the call ingest makes: tokenization, batching, padding,
  inference, putting vectors back in order.
- `raw_model`: the lowest-overhead path through the same model: texts tokenized and padded into
  token-sorted batches *before* the clock starts, then only the inference calls are timed (the ONNX
  session's `run`, or the torch module's forward under `inference_mode`). Nothing can embed these
  texts faster with this model and these threads; `ratio` = embedder rate / raw rate.

Tokens are the word-pieces the model sees ([CLS] and [SEP] included, truncated to its window,
padding excluded), so tokens/s is comparable across backends and batchings.

Also the no-op re-ingest: `rag ingest` of the seed corpus into an index that already holds it, both
as the library call and as the CLI process a user runs (Python start-up and imports included).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench.stats import summarize
from rag.chunking import ChunkerConfig, chunk_document
from rag.parsing import parse_paths
from rag.protocols import Embedder
from rag.settings import Settings

RawRunner = Callable[[], None]


@dataclass
class IngestOptions:
    chunks: int = 256  # seed chunks embedded per run (0 = all); spread evenly over the corpus
    runs: int = 3
    noop_runs: int = 5
    cli_noop_runs: int = 3
    log: Callable[[str], None] = lambda message: None


def seed_chunk_texts(settings: Settings, embedder: Embedder) -> list[str]:
    """The seed corpus's chunk texts exactly as ingest cuts them (same chunker, same token counter)."""
    return corpus_chunk_texts([settings.seeds_dir], settings, embedder)


def corpus_chunk_texts(paths: Sequence[Path], settings: Settings, embedder: Embedder) -> list[str]:
    """The chunk texts of `paths` exactly as ingest cuts them (same chunker, same token counter)."""
    documents = parse_paths(list(paths))
    config = ChunkerConfig(settings.chunk_tokens, settings.chunk_overlap_tokens)
    count_model = getattr(embedder, "count_model_tokens", None)
    return [c.text for d in documents for c in chunk_document(d, config, count_model)]


def spread_sample(texts: Sequence[str], count: int) -> list[str]:
    """`count` texts taken evenly across `texts` (so long and short articles are both represented)."""
    if count <= 0 or count >= len(texts):
        return list(texts)
    picks = np.linspace(0, len(texts) - 1, count).round().astype(int)
    return [texts[i] for i in picks]


def model_token_counts(embedder: Embedder, texts: Sequence[str]) -> list[int]:
    """Word-pieces per text as the model sees them (specials included, truncated to the window)."""
    encode_tokens = getattr(embedder, "encode_tokens", None)
    if encode_tokens is not None:
        return [len(e.ids) for e in encode_tokens(list(texts))]
    count = getattr(embedder, "count_model_tokens", None)
    if count is not None:
        return [min(256, count(t) + 2) for t in texts]
    return [len(t.split()) + 2 for t in texts]  # a fake embedder: words stand in for tokens


def raw_runner(embedder: Embedder, texts: Sequence[str]) -> tuple[RawRunner | None, str]:
    """A callable that runs only the model over `texts`, everything else prepared beforehand.

    It reaches into the embedder (its session or module): if that changes shape, the raw figure
    is reported missing, with the reason, rather than failing the whole part.
    """
    try:
        if hasattr(embedder, "run_padded") and hasattr(embedder, "encode_tokens"):
            path = "onnx session.run on pre-tokenized, token-sorted, pre-padded batches (the embedder's budget)"
            return _onnx_raw(embedder, texts), path
        if hasattr(embedder, "_loaded_model"):
            return _torch_raw(embedder, texts), "torch forward on pre-tokenized, token-sorted batches"
    except (AttributeError, ImportError, TypeError) as exc:
        return None, f"not available: {type(exc).__name__}: {exc}"
    return None, "not available for this embedder"


def _onnx_raw(embedder: Any, texts: Sequence[str]) -> RawRunner:
    from rag.embedding.onnx_minilm import OUTPUT_NAME, pad_batch, plan_batches

    embedder.embed(["warm up"])  # load (or export) the session outside the clock
    session = embedder._loaded_session()
    encodings = embedder.encode_tokens(list(texts))
    lengths = np.array([len(e.ids) for e in encodings])
    order = np.argsort(-lengths, kind="stable")
    # The embedder's own batch budget: the raw path differs only in doing no work but inference.
    plan = plan_batches(lengths[order], embedder.max_batch_tokens, embedder.max_batch_rows)
    batches = [pad_batch([encodings[i] for i in order[a:b]]) for a, b in plan]

    def run() -> None:
        for ids, mask in batches:
            session.run([OUTPUT_NAME], {"input_ids": ids, "attention_mask": mask})

    return run


def _torch_raw(embedder: Any, texts: Sequence[str]) -> RawRunner:
    import torch

    model = embedder._loaded_model()
    batch = int(getattr(embedder, "batch_size", 64))
    # Token-length order, so each batch pads to a near-equal length (sentence-transformers sorts by
    # characters, which is the overhead being measured).
    counts = model_token_counts(embedder, texts)
    order = np.argsort(-np.asarray(counts), kind="stable")
    ordered = [texts[i] for i in order]
    features = [model.tokenize(ordered[a : a + batch]) for a in range(0, len(ordered), batch)]

    def run() -> None:
        with torch.inference_mode():
            for feature in features:
                model(dict(feature))

    return run


def measure_embedding(embedder: Embedder, texts: Sequence[str], runs: int) -> dict[str, Any]:
    tokens = int(sum(model_token_counts(embedder, texts)))
    raw, raw_path = raw_runner(embedder, texts)
    embedder.embed(list(texts[:8]))  # warm-up outside the clock
    embed_s: list[float] = []
    raw_s: list[float] = []
    for _ in range(runs):
        t = time.perf_counter()
        embedder.embed(list(texts))
        embed_s.append(time.perf_counter() - t)
        if raw is not None:
            t = time.perf_counter()
            raw()
            raw_s.append(time.perf_counter() - t)
    result: dict[str, Any] = {
        "texts": len(texts),
        "tokens": tokens,
        "embedder": {
            "seconds": summarize(embed_s),
            "tokens_per_s": summarize([tokens / s for s in embed_s], 1),
            "chunks_per_s": summarize([len(texts) / s for s in embed_s], 1),
        },
        "raw_model_path": raw_path,
    }
    if raw_s:
        result["raw_model"] = {
            "seconds": summarize(raw_s),
            "tokens_per_s": summarize([tokens / s for s in raw_s], 1),
            "chunks_per_s": summarize([len(texts) / s for s in raw_s], 1),
        }
        # Per run, paired: run i of each path ran back to back, under the same background load.
        result["ratio"] = summarize([r / e for r, e in zip(raw_s, embed_s, strict=True)], 3)
    return result


def measure_noop_reingest(
    settings: Settings, index_dir: Path, options: IngestOptions, embedder: Embedder | None = None
) -> dict[str, Any]:
    """Re-ingest seeds/ into a copy of an index built from them: nothing to embed, nothing to write."""
    from rag.ingest import ingest

    with tempfile.TemporaryDirectory(prefix="bench-noop-") as tmp:
        copy = Path(tmp) / "index"
        # Not the cached ONNX model (models/): a no-op never loads it, so it need not be there.
        shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns(".ingest.lock", "models"))
        copy_settings = settings.with_(index_dir=copy)
        seconds: list[float] = []
        summary = None
        for _ in range(options.noop_runs):
            t = time.perf_counter()
            # No embedder passed for the first call: a real `rag ingest` pays for constructing it.
            summary = ingest([settings.seeds_dir], copy_settings, embedder=embedder)
            seconds.append(time.perf_counter() - t)
        assert summary is not None
        cli_seconds: list[float] = []
        for _ in range(options.cli_noop_runs):
            t = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "cli", "ingest", str(settings.seeds_dir), "--index", str(copy)],
                capture_output=True,
                text=True,
                check=False,
            )
            cli_seconds.append(time.perf_counter() - t)
            if proc.returncode != 0:
                options.log(f"noop CLI ingest failed: {proc.stderr.strip()[-300:]}")
                cli_seconds.pop()
                break
    return {
        "noop": bool(summary.embedded == 0 and summary.sentences_embedded == 0 and not summary.written),
        "chunks": summary.chunks,
        "library_s": summarize(seconds),
        "cli_process_s": summarize(cli_seconds),
    }


def run_ingest(
    settings: Settings,
    embedder: Embedder,
    index_dir: Path | None,
    options: IngestOptions,
    noop_embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Embedding rates on the seed chunks, and the no-op re-ingest into a copy of `index_dir`.

    `noop_embedder` None (the real run) lets each re-ingest construct its embedder as `rag ingest`
    does; tests pass the fake their index was built with.
    """
    texts = seed_chunk_texts(settings, embedder)
    sample = spread_sample(texts, options.chunks)
    options.log(f"ingest: embedding {len(sample)} of {len(texts)} seed chunks x {options.runs} runs")
    result: dict[str, Any] = {
        "embedder_name": getattr(embedder, "name", type(embedder).__name__),
        "backend": getattr(embedder, "backend", None),
        "seed_chunks": len(texts),
        **measure_embedding(embedder, sample, options.runs),
    }
    if index_dir is not None and options.noop_runs > 0:
        options.log("ingest: no-op re-ingest of seeds/")
        result["noop_reingest"] = measure_noop_reingest(settings, index_dir, options, noop_embedder)
    return result
