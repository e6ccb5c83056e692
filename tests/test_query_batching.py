import threading
import time

import numpy as np
import pytest

from rag.embedding.batching import QueryBatcher
from rag.embedding.fake import HashingEmbedder


def test_each_caller_gets_its_own_vector() -> None:
    fake = HashingEmbedder()
    batcher = QueryBatcher(fake.embed)
    for text in ("alpha beta", "gamma", ""):
        assert np.array_equal(batcher.encode(text), fake.embed([text])[0])


def test_concurrent_callers_share_model_calls() -> None:
    fake = HashingEmbedder()
    calls: list[int] = []

    def slow_embed(texts):
        calls.append(len(texts))
        time.sleep(0.05)  # while the model runs, the other callers queue up
        return fake.embed(texts)

    batcher = QueryBatcher(slow_embed)
    texts = [f"question number {i}" for i in range(16)]
    results: dict[str, np.ndarray] = {}
    threads = [threading.Thread(target=lambda t=t: results.__setitem__(t, batcher.encode(t))) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(calls) == 16
    assert len(calls) < 16, "concurrent queries were not batched"
    for text in texts:
        assert np.array_equal(results[text], fake.embed([text])[0])


def test_a_model_failure_reaches_every_caller_and_the_worker_survives() -> None:
    fail = {"now": True}

    def flaky(texts):
        if fail["now"]:
            raise RuntimeError("model crashed")
        return HashingEmbedder().embed(texts)

    batcher = QueryBatcher(flaky)
    with pytest.raises(RuntimeError, match="model crashed"):
        batcher.encode("x")
    fail["now"] = False
    assert batcher.encode("x").shape == (64,)
