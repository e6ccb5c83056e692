"""Measure the embedding backends: query latency, ingest throughput, padding, agreement.

    .venv/bin/python scripts/measure_embedding.py [--runs 5] [--queries 200] [--json out.json]

Prints, each as the median of --runs runs with [min, max]:
  - single-query latency p50 / p95 (distinct queries, cache bypassed) for torch, ONNX fp32, ONNX int8;
  - ingest-style throughput (tokens/s and texts/s) on the seed corpus's chunks + sentences and on
    ~1000 synthetic passages of mixed length: torch (sentence-transformers, character-sorted
    batches of 64), ONNX with the same character batching, ONNX with token-length batching at
    several token budgets;
  - padding: share of padded positions under character vs token-length batching (deterministic);
  - agreement: cosine of ONNX fp32 and int8 against torch, and top-10 overlap of int8 vs fp32
    retrieval over the seed chunks.

The ONNX model is exported into --cache (default: a temp folder) on first use; pass a folder to
reuse it between runs. Tokens are word-pieces including [CLS]/[SEP], padding excluded.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing the package

from rag.embedding.onnx_minilm import OnnxMiniLMEmbedder, pad_batch, plan_batches  # noqa: E402

CHAR_BATCH = 64  # the torch backend's batch size (Settings.embed_batch_size)
BUDGETS = "1024,4096,16384"


def seed_texts() -> tuple[list[str], list[str]]:
    """(chunks, sentences) of seeds/ exactly as ingest makes them."""
    from rag.chunking import ChunkerConfig, chunk_document, split_sentences
    from rag.parsing import parse_paths

    documents = parse_paths([REPO / "seeds"])
    chunks = [c.text for d in documents for c in chunk_document(d, ChunkerConfig())]
    sentences = [s.text for d in documents for s in split_sentences(d)]
    return chunks, sentences


def synthetic_passages(words: list[str], count: int = 1000, seed: int = 7) -> list[str]:
    """Mixed lengths like a real ingest: headlines, short paragraphs, chunk-sized and over-long text."""
    rng = random.Random(seed)
    spans = [(4, 16), (20, 60), (80, 160), (170, 320)]
    weights = [0.2, 0.35, 0.35, 0.1]
    out = []
    for _ in range(count):
        low, high = rng.choices(spans, weights)[0]
        start = rng.randrange(0, max(1, len(words) - high))
        out.append(" ".join(words[start : start + rng.randint(low, high)]))
    return out


def queries_from(sentences: list[str], count: int) -> list[str]:
    """Distinct question-length texts (first 6-12 words of seed sentences) so no cache can help."""
    rng = random.Random(11)
    seen: dict[str, None] = {}
    for sentence in rng.sample(sentences, len(sentences)):
        words = sentence.split()
        if len(words) >= 6:
            seen[" ".join(words[: rng.randint(6, 12)]) + "?"] = None
    queries = list(seen)
    while len(queries) < count:  # repeat with a marker word when the corpus has too few sentences
        queries.append(f"{queries[len(queries) % len(seen)]} {len(queries)}")
    return queries[:count]


def token_padded(lengths: Sequence[int], budget: int) -> int:
    sorted_lengths = sorted(lengths, reverse=True)
    return sum((end - start) * sorted_lengths[start] for start, end in plan_batches(sorted_lengths, budget))


def padding(lengths: Sequence[int], texts: Sequence[str], budget: int) -> dict[str, float]:
    real = int(sum(lengths))
    by_chars = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # sentence-transformers' order
    char_padded = sum(
        len(by_chars[b : b + CHAR_BATCH]) * max(lengths[i] for i in by_chars[b : b + CHAR_BATCH])
        for b in range(0, len(texts), CHAR_BATCH)
    )
    by_tokens = token_padded(lengths, budget)
    # rag.ingest hands the embedder 256 texts at a time, in document order: sorting happens per part.
    in_parts = sum(token_padded(lengths[b : b + 256], budget) for b in range(0, len(lengths), 256))
    return {
        "real_tokens": real,
        "char_batches_padded_tokens": char_padded,
        "token_batches_padded_tokens": by_tokens,
        "char_padding_share": 1 - real / char_padded,
        "token_padding_share": 1 - real / by_tokens,
        "token_padding_share_in_parts_of_256": 1 - real / in_parts,
        "padded_positions_saved": 1 - by_tokens / char_padded,
    }


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(stats: dict[str, float], unit: str = "", digits: int = 1) -> str:
    return f"{stats['median']:.{digits}f}{unit} [{stats['min']:.{digits}f}-{stats['max']:.{digits}f}]"


def time_once(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def onnx_char_batched(embedder: OnnxMiniLMEmbedder, texts: Sequence[str]) -> np.ndarray:
    """The ONNX engine fed sentence-transformers' batches (character-sorted, 64 a batch)."""
    encodings = embedder.encode_tokens(texts)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for begin in range(0, len(order), CHAR_BATCH):
        rows = order[begin : begin + CHAR_BATCH]
        out[rows] = embedder.run_padded(*pad_batch([encodings[i] for i in rows]))
    return out


def query_latency(backends: dict[str, Any], queries: list[str], runs: int) -> dict[str, dict[str, Any]]:
    """p50/p95 of one-text embeds per backend. Runs are interleaved across backends so a change in
    the machine's load (it is shared) hits every backend alike, not whichever ran last."""
    p50s: dict[str, list[float]] = {label: [] for label in backends}
    p95s: dict[str, list[float]] = {label: [] for label in backends}
    for run in range(runs):
        texts = [f"{q} r{run}" for q in queries]  # a marker per run: every query a cache miss
        for label, embedder in backends.items():
            times = [time_once(lambda t=t, e=embedder: e.embed([t])) * 1e3 for t in texts]
            p50s[label].append(float(np.percentile(times, 50)))
            p95s[label].append(float(np.percentile(times, 95)))
    return {label: {"p50_ms": summary(p50s[label]), "p95_ms": summary(p95s[label])} for label in backends}


def throughput(fns: dict[str, Callable[[], Any]], real_tokens: int, count: int, runs: int) -> dict[str, dict[str, Any]]:
    """Tokens/s and texts/s per configuration, runs interleaved across configurations (see above)."""
    seconds: dict[str, list[float]] = {label: [] for label in fns}
    for _ in range(runs):
        for label, fn in fns.items():
            seconds[label].append(time_once(fn))
    return {
        label: {
            "tokens_per_s": summary([real_tokens / s for s in values]),
            "texts_per_s": summary([count / s for s in values]),
        }
        for label, values in seconds.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=None, help="folder for the exported .onnx files")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--budgets", default=BUDGETS, help="token budgets to time, comma-separated")
    parser.add_argument("--synthetic", type=int, default=1000, help="synthetic passages")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch backend")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 model")
    args = parser.parse_args()

    budgets = [int(b) for b in args.budgets.split(",")]
    cache = args.cache or Path(tempfile.mkdtemp(prefix="rag-onnx-"))
    chunks, sentences = seed_texts()
    words = " ".join(chunks).split()
    sets = {
        "seed chunks+sentences": chunks + sentences,
        "synthetic mixed": synthetic_passages(words, args.synthetic),
    }
    queries = queries_from(sentences, args.queries)
    report: dict[str, Any] = {"runs": args.runs, "sets": {}, "queries": {}, "agreement": {}}

    started = time.perf_counter()
    onnx = OnnxMiniLMEmbedder(cache)
    default_budget = onnx.max_batch_tokens
    onnx.warm_up()
    report["onnx_prepare_s"] = time.perf_counter() - started
    backends: dict[str, Any] = {"onnx fp32": onnx, "onnx spin": OnnxMiniLMEmbedder(cache, spin=True)}
    if not args.no_int8:
        started = time.perf_counter()
        int8 = OnnxMiniLMEmbedder(cache, quantized=True)
        int8.warm_up()
        report["int8_prepare_s"] = time.perf_counter() - started
        backends["onnx int8"] = int8
    if not args.no_torch:
        from rag.embedding.minilm import MiniLMEmbedder

        torch_embedder = MiniLMEmbedder()
        torch_embedder.warm_up()
        backends["torch"] = torch_embedder
    print(f"model cache: {cache}  (export {report['onnx_prepare_s']:.1f}s)")

    # Query latency: one text per call, as the search path does.
    print(f"\nsingle-query latency, {len(queries)} distinct queries, median of {args.runs} runs [min-max]:")
    for embedder in backends.values():
        for q in queries[:20]:  # warm caches / allocator
            embedder.embed([q])
    report["queries"] = query_latency(backends, queries, args.runs)
    del backends["onnx spin"]  # only a latency comparison: fp32 with busy-waiting worker threads
    for label, stats in report["queries"].items():
        print(f"  {label:10s} p50 {fmt(stats['p50_ms'], ' ms', 2)}   p95 {fmt(stats['p95_ms'], ' ms', 2)}")

    for set_name, texts in sets.items():
        lengths = [len(e.ids) for e in onnx.encode_tokens(texts)]
        real = int(sum(lengths))
        entry: dict[str, Any] = {"texts": len(texts), "real_tokens": real, "padding": {}, "throughput": {}}
        report["sets"][set_name] = entry
        print(f"\n{set_name}: {len(texts)} texts, {real} tokens (mean {real / len(texts):.0f}, max {max(lengths)})")
        for budget in budgets:
            entry["padding"][budget] = padding(lengths, texts, budget)
        pad = padding(lengths, texts, default_budget)
        print(
            f"  padding: character batches of {CHAR_BATCH} {pad['char_padding_share']:.1%} of positions, "
            f"token batches ({default_budget} budget) {pad['token_padding_share']:.1%} "
            f"({pad['token_padding_share_in_parts_of_256']:.1%} in ingest's parts of 256); "
            f"padded positions saved {pad['padded_positions_saved']:.1%}"
        )
        runs: dict[str, Callable[[], Any]] = {}
        if "torch" in backends:
            runs["torch, char batches of 64"] = lambda t=texts: backends["torch"].embed(t)
        runs["onnx fp32, char batches of 64"] = lambda t=texts: onnx_char_batched(onnx, t)
        for budget in budgets:

            def by_tokens(t: list[str] = texts, b: int = budget) -> None:
                onnx.max_batch_tokens = b
                onnx.embed(t)

            runs[f"onnx fp32, token batches {budget}"] = by_tokens
        if "onnx int8" in backends:
            runs[f"onnx int8, token batches {default_budget}"] = lambda t=texts: backends["onnx int8"].embed(t)
        backends["onnx fp32"].embed(texts[:64])  # warm the allocator for wide batches
        entry["throughput"] = throughput(runs, real, len(texts), args.runs)
        onnx.max_batch_tokens = default_budget
        for label, stats in entry["throughput"].items():
            tokens, count = fmt(stats["tokens_per_s"], " tok/s", 0), fmt(stats["texts_per_s"], " texts/s", 0)
            print(f"  {label:34s} {tokens}   {count}")

    # Agreement over every seed text plus the synthetic set (long ones truncated at 256 word-pieces).
    texts = [*sets["seed chunks+sentences"], *sets["synthetic mixed"][:300], ""]
    fp32 = onnx.embed(texts)
    print("\ncosine agreement (min / mean):")
    if "torch" in backends:
        reference = backends["torch"].embed(texts)
        cos = np.sum(fp32 * reference, axis=1)
        report["agreement"]["onnx_fp32_vs_torch"] = {"min": float(cos.min()), "mean": float(cos.mean())}
        print(f"  onnx fp32 vs torch   {cos.min():.6f} / {cos.mean():.6f}")
    if "onnx int8" in backends:
        quant = backends["onnx int8"].embed(texts)
        cos = np.sum(fp32 * quant, axis=1)
        report["agreement"]["onnx_int8_vs_fp32"] = {"min": float(cos.min()), "mean": float(cos.mean())}
        print(f"  onnx int8 vs fp32    {cos.min():.6f} / {cos.mean():.6f}")
        # Retrieval proxy: does int8 rank the same seed chunks in the top 10 as fp32?
        chunk_fp32, chunk_int8 = onnx.embed(chunks), backends["onnx int8"].embed(chunks)
        q_fp32, q_int8 = onnx.embed(queries), backends["onnx int8"].embed(queries)
        top_fp32 = np.argsort(-(q_fp32 @ chunk_fp32.T), axis=1)[:, :10]
        top_int8 = np.argsort(-(q_int8 @ chunk_int8.T), axis=1)[:, :10]
        overlap = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_fp32, top_int8, strict=True)]))
        top1 = float(np.mean(top_fp32[:, 0] == top_int8[:, 0]))
        report["agreement"]["int8_top10_overlap"] = overlap
        report["agreement"]["int8_top1_same"] = top1
        print(
            f"  int8 vs fp32 retrieval over {len(chunks)} seed chunks: "
            f"top-10 overlap {overlap:.3f}, top-1 same {top1:.3f}"
        )

    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
