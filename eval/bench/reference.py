"""The plain reference, timed on this machine in the same run as our own figures.

Issue 6 compares us with peers measured once, on the machine it was filed on ("our own plain
torch + FAISS reference: 18.5 ms"). Machines differ (on a later one this recipe took 10.5–11.7 ms
p50 alone and 16–17 ms inside `rag bench`; our int8 query encoder 5.9–7.9 ms on one machine and
3.2–3.5 ms on another), so a fixed number says little about the code; the same recipe timed next
to our figures does. The recipe: sentence-transformers with torch encodes each question alone
(`normalize_embeddings=True`), and an exact FAISS inner-product index over the seed index's own
chunk vectors returns the top k. No hybrid retrieval, no answer: the least a user would run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from eval.bench.stats import percentiles, summarize_runs

RECIPE = "sentence-transformers (torch) encode + FAISS IndexFlatIP search, one question at a time"
QueryEncoder = Callable[[str], np.ndarray]


@dataclass
class ReferenceOptions:
    runs: int = 3
    warmup: int = 5
    top_k: int = 5


def torch_encoder() -> QueryEncoder:
    """The packaged model through sentence-transformers' own `encode`, on the CPU."""
    from sentence_transformers import SentenceTransformer

    from rag.embedding.minilm import model_dir

    model = SentenceTransformer(str(model_dir()), device="cpu")
    return lambda text: model.encode([text], normalize_embeddings=True, convert_to_numpy=True)


def run_reference(
    vectors: np.ndarray, questions: Sequence[str], encode: QueryEncoder, options: ReferenceOptions
) -> dict[str, Any]:
    """Per-question wall time of encode + exact search, p50/p95/p99 per run, median (min, max) over runs."""
    if not len(questions):
        raise ValueError("the reference needs at least one question")
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(question: str) -> None:
        index.search(np.asarray(encode(question), dtype=np.float32).reshape(1, -1), options.top_k)

    for question in questions[: options.warmup]:  # first-call costs (lazy init, allocator) off the clock
        search(question)
    runs = []
    for _ in range(options.runs):
        samples = []
        for question in questions:
            t = time.perf_counter()
            search(question)
            samples.append((time.perf_counter() - t) * 1000)
        runs.append(percentiles(samples))
    return {
        "recipe": RECIPE,
        "questions": len(questions),
        "vectors": int(vectors.shape[0]),
        "top_k": options.top_k,
        "search_ms": summarize_runs(runs),
    }
