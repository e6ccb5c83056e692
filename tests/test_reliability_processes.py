"""Reliability with real processes: `rag ingest` killed with SIGKILL at random moments, and a real
`rag serve` swapping to a new index while it answers 20 requests a second. Every loop is bounded
in count and time; only loopback addresses are used."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def _serving(index: Path, env: dict[str, str], *extra: str) -> Iterator[tuple[str, int]]:
    """A real `rag serve` on a free loopback port, ready (or 120 s passed); stopped on exit."""
    port = _free_port()
    server = subprocess.Popen(
        _rag("serve", "--index", str(index), "--port", str(port), *extra), env={**_env(), **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                    break
            time.sleep(0.2)
        yield base, port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_a_real_server_swaps_to_a_new_index_under_load_with_no_error(built_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    with _serving(index, {"RAG_INDEX_POLL_S": "0.5"}) as (base, _):
        results, switched = _swap_under_load([base], lambda corpus: _rag("ingest", str(corpus), "--index", str(index)),
                                             tmp_path)
    assert all(s < 10 for s in switched), switched
    assert len(results) > 20 and all(status == 200 for status in results), sorted(set(results))


def test_two_real_servers_on_one_database_switch_together_under_load(
    built_index: Path, postgres_url: str, tmp_path: Path
) -> None:
    """Issue 15: two `rag serve` processes answer from one PostgreSQL store; a committed ingest
    reaches both within 10 s while 20 requests a second are served, with no error."""
    models = tmp_path / "models-home"
    shutil.copytree(built_index / "models", models / "models")  # the cached ONNX export
    store = ["--store", postgres_url]
    subprocess.run(_rag("ingest", str(SEEDS), "--index", str(models), *store), check=True, env=_env(), timeout=600)
    env = {"RAG_INDEX_POLL_S": "0.5"}
    with _serving(models, env, *store) as (first, _), _serving(models, env, *store) as (second, _):
        results, switched = _swap_under_load(
            [first, second], lambda corpus: _rag("ingest", str(corpus), "--index", str(models), *store), tmp_path
        )
    assert len(switched) == 2 and all(s < 10 for s in switched), switched
    assert len(results) > 20 and all(status == 200 for status in results), sorted(set(results))


def _swap_under_load(bases: list[str], ingest_command, tmp_path: Path) -> tuple[list[int], list[float]]:
    """20 /ask a second spread over `bases` while `ingest_command(corpus)` commits a new version;
    returns every status and, per server, the seconds from the commit until /readyz named it."""
    old = {base: httpx.get(base + "/readyz", timeout=10).json()["index_version"] for base in bases}
    results: list[int] = []
    stop = threading.Event()

    def load() -> None:  # 20 requests a second until told to stop (60 s at most)
        clients = [httpx.Client(base_url=base, timeout=10) for base in bases]
        end = time.monotonic() + 60
        n = 0
        while not stop.is_set() and time.monotonic() < end:
            t = time.monotonic()
            try:
                client = clients[n % len(clients)]
                results.append(client.post("/ask", json={"question": "How many fake Peppa Pig products?"}).status_code)
            except httpx.TransportError:
                results.append(0)
            n += 1
            time.sleep(max(0.0, 0.05 - (time.monotonic() - t)))
        for c in clients:
            c.close()

    worker = threading.Thread(target=load)
    worker.start()
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "extra.jsonl").write_text(_story(1, paragraphs=3), encoding="utf-8")
    subprocess.run(ingest_command(corpus), check=True, env=_env(), timeout=300)
    committed = time.monotonic()
    switched: list[float] = []
    for base in bases:
        new = old[base]
        while new == old[base] and time.monotonic() - committed < 10:
            time.sleep(0.2)
            new = httpx.get(base + "/readyz", timeout=10).json()["index_version"]
        if new != old[base]:
            switched.append(time.monotonic() - committed)
    time.sleep(1.0)
    stop.set()
    worker.join(timeout=30)
    return results, switched


# -- one real `rag serve` (with Slack on) for the request-level faults -----------------------------

SLACK_SECRET = "reliability-slack-secret"


@pytest.fixture(scope="module")
def real_server(built_index: Path, tmp_path_factory: pytest.TempPathFactory):
    index = tmp_path_factory.mktemp("served") / "index"
    shutil.copytree(built_index, index)
    with _serving(index, {"SLACK_SIGNING_SECRET": SLACK_SECRET, "RAG_BODY_TIMEOUT_S": "2"}) as (_, port):
        yield port


def _exchange(port: int, payload: bytes) -> bytes:
    import contextlib

    with socket.create_connection(("127.0.0.1", port), timeout=15) as conn:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(payload)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := conn.recv(65536):
                data += chunk
    return data


def test_real_server_bounds_heads_and_answers_non_http_in_json(real_server: int) -> None:
    big = _exchange(real_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
    assert big.startswith(b"HTTP/1.1 431") and b'"headers_too_large"' in big
    junk = _exchange(real_server, b"\x16\x03\x01 not http at all\r\n\r\n")
    assert junk.startswith(b"HTTP/1.1 400") and b'"bad_request"' in junk


def test_real_server_times_out_heads_and_bodies_that_trickle(real_server: int) -> None:
    started = time.monotonic()
    head = _exchange(real_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
    assert head.startswith(b"HTTP/1.1 408") and b'"request_timeout"' in head
    body = _exchange(real_server, b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
    assert b" 408 " in body.split(b"\r\n")[0] and b'"request_timeout"' in body
    assert time.monotonic() - started < 20


def test_real_server_counts_a_client_that_hangs_up_as_499(real_server: int) -> None:
    with socket.create_connection(("127.0.0.1", real_server), timeout=15) as conn:
        conn.sendall(b"POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{")
        time.sleep(0.3)
    time.sleep(0.5)
    metrics = httpx.get(f"http://127.0.0.1:{real_server}/metrics", timeout=10).text
    assert 'status="499"' in metrics and 'status="500"' not in metrics


def test_real_server_refuses_deep_slack_nesting_and_replays(real_server: int) -> None:
    from slack_sdk.signature import SignatureVerifier

    def signed(body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        return {"X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=ts, body=body)}

    base = f"http://127.0.0.1:{real_server}"
    deep = b'{"type": "event_callback", "event": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    json_headers = {"content-type": "application/json", **signed(deep)}
    response = httpx.post(base + "/slack/events", content=deep, headers=json_headers)
    assert response.status_code == 400
    form = b"command=%2Fask&text=How+much+was+Alibaba+fined%3F&trigger_id=111.222.333&channel_id=C1&user_id=U1"
    headers = {"content-type": "application/x-www-form-urlencoded", **signed(form)}
    first = httpx.post(base + "/slack/commands", content=form, headers=headers, timeout=30)
    replay = httpx.post(base + "/slack/commands", content=form, headers=headers, timeout=30)
    assert first.status_code == replay.status_code == 200
    assert "already answered" in replay.json()["text"] and "already answered" not in first.json().get("text", "")


def test_real_commands_refuse_broken_indexes_in_one_line(built_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    (index / ".staging-killed").mkdir()
    noop = subprocess.run(_rag("ingest", str(SEEDS), "--index", str(index)), env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert noop.returncode == 0 and not (index / ".staging-killed").exists()
    (current_generation(index) / "documents.jsonl").write_text("garbage\n")
    refused = subprocess.run(_rag("ingest", str(SEEDS), "--index", str(index)), env=_env(), capture_output=True,
                             text=True, timeout=300)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "--rebuild" in refused.stderr
    assert current_generation(index).is_dir()
    (index / "CURRENT").write_bytes(b"\xff\xfe\x80\n")
    ask = subprocess.run(_rag("ask", "Peppa", "--index", str(index)), env=_env(), capture_output=True, text=True,
                         timeout=300)
    assert ask.returncode == 2 and ask.stderr.count("\n") == 1 and "CURRENT" in ask.stderr


def test_real_server_with_an_obedient_llm_never_leaks_a_planted_instruction(tmp_path: Path) -> None:
    """A real `rag serve` in LLM mode over an archive of planted instructions, its LLM a loopback
    server that obeys any instruction it is shown; no answer, in any mode, carries a canary."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.test_planted_instructions import INJECTIONS, TOPICS

    canary = re.compile(r"CANARY-\d+")
    shown: list[str] = []

    class Obedient(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            prompt = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["messages"][1]["content"]
            shown.append(prompt)
            found = canary.search(prompt)
            reply = f"{found.group(0) if found else 'CANARY-0'} [1]."
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]})
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *_args: object) -> None:
            return

    llm = ThreadingHTTPServer(("127.0.0.1", 0), Obedient)
    threading.Thread(target=llm.serve_forever, daemon=True).start()
    records = [
        {"id": f"p{n}", "title": topic, "text": f"{fact} {injection.format(topic=topic, n=n)} Locals welcomed it."}
        for n, ((topic, fact), injection) in enumerate(zip(TOPICS, INJECTIONS, strict=True), start=1)
    ]
    corpus = tmp_path / "planted.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    index = tmp_path / "index"
    subprocess.run(_rag("ingest", str(corpus), "--index", str(index)), check=True, env=_env(), timeout=600)
    assert current_generation(index).stat().st_mode & 0o055 == 0o055, "readable by a server of another user"
    env = {"RAG_LLM_URL": f"http://127.0.0.1:{llm.server_address[1]}/v1", "RAG_LLM_MODEL": "obedient"}
    try:
        with _serving(index, env) as (base, _):
            _check_the_planted_archive(base, canary, shown)
    finally:
        llm.shutdown()


def _check_the_planted_archive(base: str, canary: re.Pattern[str], shown: list[str]) -> None:
    from tests.test_planted_instructions import TOPICS

    for topic, _ in TOPICS:
        body = httpx.post(base + "/ask", json={"question": f"What happened with the {topic}?"}, timeout=30).json()
        assert not canary.search(body["answer"]), body["answer"]
        if not body["abstained"]:
            assert not any(canary.search(c["text"]) for c in body["citations"])
    assert shown, "the model was consulted"
    assert not any(canary.search(p) for p in shown), "a planted instruction reached the model"
    bad_dates = httpx.post(base + "/ask", json={"question": "Storm?", "filters": {
        "published_from": "2024-02-01", "published_to": "2024-01-01"}}, timeout=30)
    assert bad_dates.status_code == 400
    documented = httpx.get(base + "/openapi.json", timeout=10).json()["paths"]["/ask"]["post"]["responses"]
    assert "published_from after published_to" in documented["400"]["description"]
    assert httpx.post(base + "/slack/events", json={}, timeout=10).status_code == 404  # Slack is off here
