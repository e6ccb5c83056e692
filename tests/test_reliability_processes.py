"""Reliability with real processes: `rag ingest` killed with SIGKILL at random moments, and a real
`rag serve` swapping to a new index while it answers 20 requests a second. Every loop is bounded
in count and time; only loopback addresses are used."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from rag.store.index_files import current_generation, load_index

pytestmark = [pytest.mark.reliability, pytest.mark.integration]
REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"


def _rag(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _story(n: int, paragraphs: int = 40) -> str:
    body = "\n\n".join(
        f"Edition {n}, part {p}: the harbour authority in Port Ellis counted {n * 100 + p} ships this week, "
        f"and the ferry line to the islands added {p + 3} sailings after a vote on day {p} of the session."
        for p in range(paragraphs)
    )
    return json.dumps({"id": f"story-{n}", "title": f"Port Ellis edition {n}", "text": body}) + "\n"


@pytest.fixture(scope="module")
def built_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of seeds/ built by the real command (its ONNX export cached in <index>/models)."""
    index = tmp_path_factory.mktemp("reliability") / "index"
    subprocess.run(_rag("ingest", str(SEEDS), "--index", str(index)), check=True, env=_env(), timeout=600)
    return index


def test_ingest_killed_at_random_moments_always_leaves_a_loadable_index(built_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    previous = load_index(index).version
    rng = random.Random(7)
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    for attempt in range(10):
        (corpus / "extra.jsonl").write_text(_story(attempt), encoding="utf-8")
        process = subprocess.Popen(
            _rag("ingest", str(corpus), "--index", str(index)), env=_env(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2, 4.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        data = load_index(index)  # verifies every file's checksum: raises if anything is half-written
        if data.version != previous:  # the kill came after the commit: then it is all of the new input
            assert f"story-{attempt}" in {d.doc_id for d in data.documents}, f"attempt {attempt}: a mixed version"
        previous = data.version
    # The next ingest completes, cleans the killed runs' staging folders and gives a loadable index.
    subprocess.run(_rag("ingest", str(corpus), "--index", str(index)), check=True, env=_env(), timeout=600)
    final = load_index(index)
    assert "story-9" in {d.doc_id for d in final.documents}
    assert not list(index.glob(".staging-*"))
    assert current_generation(index).name == f"v-{final.version}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_real_server_swaps_to_a_new_index_under_load_with_no_error(built_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    port = _free_port()
    server = subprocess.Popen(
        _rag("serve", "--index", str(index), "--port", str(port)),
        env={**_env(), "RAG_INDEX_POLL_S": "0.5"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            old = client.get("/readyz").json()["index_version"]

            results: list[int] = []
            stop = threading.Event()

            def load() -> None:  # 20 requests a second until told to stop (60 s at most)
                with httpx.Client(base_url=base, timeout=10) as c:
                    end = time.monotonic() + 60
                    while not stop.is_set() and time.monotonic() < end:
                        t = time.monotonic()
                        try:
                            response = c.post("/ask", json={"question": "How many fake Peppa Pig products?"})
                            results.append(response.status_code)
                        except httpx.TransportError:
                            results.append(0)
                        time.sleep(max(0.0, 0.05 - (time.monotonic() - t)))

            worker = threading.Thread(target=load)
            worker.start()
            corpus = tmp_path / "corpus"
            shutil.copytree(SEEDS, corpus)
            (corpus / "extra.jsonl").write_text(_story(1, paragraphs=3), encoding="utf-8")
            subprocess.run(_rag("ingest", str(corpus), "--index", str(index)), check=True, env=_env(), timeout=300)
            committed = time.monotonic()
            new = old
            while new == old and time.monotonic() - committed < 10:
                time.sleep(0.2)
                new = client.get("/readyz").json()["index_version"]
            switched_s = time.monotonic() - committed
            time.sleep(1.0)
            stop.set()
            worker.join(timeout=30)
        assert new != old, "the server never switched to the new index"
        assert switched_s < 10
        assert len(results) > 20 and all(status == 200 for status in results), sorted(set(results))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
