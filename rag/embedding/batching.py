"""Micro-batching of concurrent query encodes.

Under concurrent load, sixteen one-query model calls cost far more than one sixteen-query call
(per-call overhead, and a batch uses the cores better). A single worker thread takes whatever
queries are waiting, encodes them together, and hands each caller its row. With one caller at a
time it adds only a queue hand-off. It also guarantees one inference at a time, so concurrent
requests never oversubscribe the cores.

The items are whatever the model call takes: texts, or texts already tokenized by the caller (so
that work runs in the callers' threads, in parallel, and the one worker only runs the model). The
model call decides how to run a batch: the int8 query model takes it one question per run, since
int8 batch mates would change each other's vectors (see `rag.embedding.onnx_minilm`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

import numpy as np

Item = TypeVar("Item")


class QueryBatcher(Generic[Item]):
    def __init__(self, embed: Callable[[Sequence[Item]], np.ndarray], max_batch: int = 32) -> None:
        self._embed = embed
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Item, Future[np.ndarray]]] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._run, name="query-batcher", daemon=True)
        self._worker.start()
        self.batches = 0  # model calls made; tests and the benchmark read it

    def encode(self, item: Item) -> np.ndarray:
        future: Future[np.ndarray] = Future()
        self._queue.put((item, future))
        return future.result()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self._embed([item for item, _ in batch])
                self.batches += 1
            except BaseException as exc:  # the callers, not this thread, must see the failure
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)
