"""Operations: API keys, metrics, the JSON access log, the OpenAPI document, `rag serve`."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.embedding.fake import HashingEmbedder
from rag.settings import Settings
from rag.store.index_files import index_exists
from service import auth, create_app
from service.logs import ACCESS_LOGGER, JsonFormatter

KEYS = ("alpha-key-0123456789", "beta-key-9876543210")
PEPPA = "How many fake Peppa Pig products were seized?"
REPO = Path(__file__).resolve().parents[1]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# -- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/ask"),
        ("GET", "/search?q=x"),
        ("GET", "/documents"),
        ("GET", "/documents/x"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/no-such-route"),
    ],
)
def test_every_route_but_the_probes_needs_a_key(make_service_client, method: str, path: str) -> None:
    client = make_service_client(api_keys=KEYS)
    for headers in (
        {},
        _bearer("wrong"),
        _bearer(KEYS[0][:-1]),
        {"Authorization": KEYS[0]},
        {"Authorization": f"Basic {KEYS[0]}"},
        {"Authorization": "Bearer "},
    ):
        response = client.request(method, path, headers=headers, json={"question": PEPPA})
        assert response.status_code == 401, (path, headers)
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_listed_keys_are_accepted(make_service_client) -> None:
    client = make_service_client(api_keys=KEYS)
    for key in KEYS:
        assert client.post("/ask", json={"question": PEPPA}, headers=_bearer(key)).status_code == 200
    assert client.get("/metrics", headers={"Authorization": f"bearer {KEYS[1]}"}).status_code == 200


def test_probes_page_and_slack_need_no_key(make_service_client) -> None:
    client = make_service_client(api_keys=KEYS, slack_signing_secret="s3cret")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/").status_code == 200
    # Slack routes answer to Slack's signature, not to the Bearer key.
    response = client.post("/slack/events", json={"type": "url_verification", "challenge": "c"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"


def test_auth_runs_before_the_body_is_read(make_service_client) -> None:
    client = make_service_client(api_keys=KEYS)
    malformed = client.post("/ask", content=b"{oops", headers={"content-type": "application/json"})
    assert malformed.status_code == 401
    huge = client.post("/ask", content=b"x" * 100_000, headers={"content-type": "application/json"})
    assert huge.status_code == 401


def test_without_keys_the_api_is_open(make_service_client) -> None:
    assert make_service_client().post("/ask", json={"question": PEPPA}).status_code == 200


def test_keys_are_compared_in_constant_time_against_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    checker = auth.ApiKeyChecker(KEYS)
    assert checker.check(f"Bearer {KEYS[0]}".encode())
    # No early exit on the first match: every key is compared, so timing reveals nothing.
    assert [b for _, b in calls] == [k.encode() for k in KEYS]
    calls.clear()
    assert not checker.check(b"Bearer nope")
    assert len(calls) == len(KEYS)


def test_keys_never_reach_the_logs(make_service_client, caplog: pytest.LogCaptureFixture) -> None:
    client = make_service_client(api_keys=KEYS)
    with caplog.at_level(logging.DEBUG):
        client.post("/ask", json={"question": PEPPA}, headers=_bearer(KEYS[0]))
        client.post("/ask", json={"question": PEPPA}, headers=_bearer("guess-" + KEYS[1]))
        client.get("/documents", headers={"Authorization": f"Bearer {KEYS[1]}"})
    formatted = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert caplog.records
    for key in KEYS:
        assert key not in formatted
    assert "Bearer" not in formatted


# -- the access log ----------------------------------------------------------------------


@pytest.fixture()
def access_log() -> io.StringIO:
    """What the access logger writes, formatted as the server formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(ACCESS_LOGGER)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def _entries(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_log_line_per_request(make_service_client, access_log: io.StringIO) -> None:
    client = make_service_client()
    responses = [
        client.post("/ask", json={"question": PEPPA}),
        client.get("/search", params={"q": "secret question text"}),
        client.get("/documents/definitely-missing"),
        client.post("/ask", content=b"{", headers={"content-type": "application/json"}),
    ]
    entries = _entries(access_log)
    assert len(entries) == len(responses)
    for entry, response in zip(entries, responses, strict=True):
        assert entry["message"] == "request"
        assert entry["request_id"] == response.headers["x-request-id"]
        assert entry["status"] == response.status_code
        assert isinstance(entry["latency_ms"], float) and entry["latency_ms"] >= 0
        assert {"ts", "level", "method", "route", "path"} <= set(entry)
    assert [e["route"] for e in entries] == ["/ask", "/search", "/documents/{doc_id}", "/ask"]
    assert "secret question text" not in json.dumps(entries)  # query strings are not logged


def test_request_ids_are_kept_when_sane_and_replaced_otherwise(make_service_client, access_log) -> None:
    client = make_service_client()
    kept = client.get("/healthz", headers={"X-Request-ID": "abc-123.req"})
    assert kept.headers["x-request-id"] == "abc-123.req"
    forged = client.get("/healthz", headers={"X-Request-ID": 'x" "status": 200'})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])
    assert [e["request_id"] for e in _entries(access_log)] == ["abc-123.req", forged.headers["x-request-id"]]


def test_rejected_requests_are_logged_too(make_service_client, access_log) -> None:
    client = make_service_client(api_keys=KEYS, max_body_bytes=10)
    client.get("/documents")
    client.post("/ask", content=b"x" * 50, headers={**_bearer(KEYS[0]), "content-type": "application/json"})
    assert [e["status"] for e in _entries(access_log)] == [401, 413]


def test_json_formatter_redacts_credential_like_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.api_key = "k"
    record.slack_signature = "v0=abc"
    record.route = "/ask"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "hello world"
    assert entry["api_key"] == "[redacted]" and entry["slack_signature"] == "[redacted]"
    assert entry["route"] == "/ask"


def test_server_logging_is_json_at_the_configured_level(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.logs import configure_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))  # restored after the test
    monkeypatch.setattr(root, "level", root.level)
    chatty = logging.getLogger("some.library")
    monkeypatch.setattr(chatty, "level", logging.DEBUG)
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    chatty.debug("noise")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 1, extra={"color_message": "x"})
    logging.getLogger(ACCESS_LOGGER).info("request", extra={"route": "/ask", "status": 200})
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["message"] for e in entries] == ["Started server process [1]", "request"]
    assert "color_message" not in entries[0]
    assert entries[1]["route"] == "/ask" and entries[1]["level"] == "info"


def test_server_runs_uvicorn_with_our_logging(monkeypatch: pytest.MonkeyPatch, fake_index_dir: Path) -> None:
    import service.server

    seen: dict = {}
    monkeypatch.setattr(service.server, "configure_logging", lambda level: seen.update(level=level))
    monkeypatch.setattr(service.server.uvicorn, "run", lambda app, **kwargs: seen.update(app=app, **kwargs))
    service.server.run(Settings(index_dir=fake_index_dir, log_level="WARNING"), host="0.0.0.0", port=9999)
    assert seen["level"] == "WARNING"
    assert (seen["host"], seen["port"]) == ("0.0.0.0", 9999)
    assert seen["log_config"] is None and seen["access_log"] is False  # one JSON access line, ours
    assert seen["app"].title == "rag-news"
    # What a client can hold is bounded: connections at once, idle keep-alives.
    assert seen["limit_concurrency"] == Settings().max_connections and seen["timeout_keep_alive"] == 5


def test_a_body_that_stalls_gets_408_in_the_json_error_shape() -> None:
    import asyncio

    from service.middleware import BodyLimitMiddleware

    async def never(*_args: object) -> None:
        raise AssertionError("the app must not run on a body that never came")

    sent: list[dict] = []

    async def stall() -> dict:
        await asyncio.Event().wait()  # headers came, the body never does
        return {}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/ask", "headers": [(b"content-length", b"20")]}
    middleware = BodyLimitMiddleware(never, max_bytes=1024, body_timeout_s=0.2)
    asyncio.run(asyncio.wait_for(middleware(scope, stall, send), timeout=5))
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["error"]["code"] == "request_timeout"


# -- metrics -----------------------------------------------------------------------------


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of the first sample of `name` whose labels include `labels` (0 if none)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(2))
    return 0.0


def test_metrics_count_requests_per_route_and_outcome(make_service_client) -> None:
    client = make_service_client()
    for _ in range(3):
        client.post("/ask", json={"question": PEPPA})
    client.post("/ask", json={"question": ""})
    client.get("/documents/missing-1")
    client.get("/documents/missing-2")
    client.get("/random/path/1")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _sample(text, "rag_http_requests_total", route="/ask", status="200", outcome="success") == 3
    assert _sample(text, "rag_http_requests_total", route="/ask", status="422", outcome="client_error") == 1
    # Templates, not raw paths: ids and unknown paths do not create new series.
    assert _sample(text, "rag_http_requests_total", route="/documents/{doc_id}", outcome="client_error") == 2
    assert _sample(text, "rag_http_requests_total", route="unmatched", status="404") == 1
    assert "missing-1" not in text and "/random/path" not in text
    assert _sample(text, "rag_http_request_duration_seconds_count", route="/ask", outcome="success") == 3
    assert _sample(text, "rag_http_request_duration_seconds_bucket", route="/ask", outcome="success", le="+Inf") == 3


def _drive(middleware: object, inner_exc: BaseException | None) -> list[dict]:
    """One request through the middleware, whose app reads until the client disconnects, then
    returns (or raises `inner_exc`, as a cancelled task does) without answering."""
    import asyncio
    import contextlib

    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    async def run() -> None:
        scope = {"type": "http", "method": "POST", "path": "/ask", "headers": [], "client": ("127.0.0.1", 1)}
        with contextlib.suppress(asyncio.CancelledError):  # the cancelled case re-raises, as it must
            await middleware(scope, receive, send)  # type: ignore[operator]

    asyncio.run(run())
    return sent


@pytest.mark.parametrize("inner_exc", [None, __import__("asyncio").CancelledError()])
def test_a_client_that_hangs_up_counts_as_499_not_500(inner_exc: BaseException | None) -> None:
    from service.metrics import ServiceMetrics
    from service.middleware import RequestContextMiddleware

    async def app(scope: dict, receive, send) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if inner_exc is not None:
            raise inner_exc

    metrics = ServiceMetrics()
    assert _drive(RequestContextMiddleware(app, metrics), inner_exc) == []
    text = metrics.render()[0].decode()
    assert _sample(text, "rag_http_requests_total", status="499", outcome="client_closed") == 1
    assert 'status="500"' not in text


def test_metrics_time_each_pipeline_stage(make_service_client) -> None:
    client = make_service_client()
    client.post("/ask", json={"question": PEPPA})
    client.get("/search", params={"q": "Peppa"})
    text = client.get("/metrics").text
    for stage in ("encode", "retrieve", "compose", "total"):
        assert _sample(text, "rag_pipeline_stage_duration_seconds_count", operation="ask", stage=stage) == 1
    assert _sample(text, "rag_pipeline_stage_duration_seconds_count", operation="search", stage="retrieve") == 1
    assert _sample(text, "rag_answers_total", mode="extractive", abstained="false") == 1
    assert _sample(text, "rag_engine_ready") == 1
    assert _sample(text, "rag_index_documents") > 0


def test_each_app_has_its_own_registry(fake_engine, fake_index_dir: Path) -> None:
    settings = Settings(index_dir=fake_index_dir)
    first = create_app(settings, lambda s: fake_engine, wait_for_engine=True)
    second = create_app(settings, lambda s: fake_engine, wait_for_engine=True)  # no duplicate-metric error
    with TestClient(first) as a, TestClient(second) as b:
        a.get("/healthz")
        a.get("/healthz")
        assert _sample(a.get("/metrics").text, "rag_http_requests_total", route="/healthz") == 2
        assert _sample(b.get("/metrics").text, "rag_http_requests_total", route="/healthz") == 0
        assert _sample(b.get("/metrics").text, "rag_engine_ready") == 1


# -- OpenAPI -----------------------------------------------------------------------------

EXPECTED_STATUSES = {
    ("post", "/ask"): {"200", "400", "401", "413", "415", "422", "503"},
    ("get", "/search"): {"200", "401", "422", "503"},
    ("get", "/documents"): {"200", "401", "422", "503"},
    ("get", "/documents/{doc_id}"): {"200", "400", "401", "404", "422", "503"},
    ("post", "/feedback"): {"201", "400", "401", "413", "415", "422", "503"},
    ("get", "/healthz"): {"200"},
    ("get", "/readyz"): {"200", "503"},
    ("get", "/metrics"): {"200", "401"},
    ("post", "/slack/commands"): {"200", "400", "401", "404", "413"},
    ("post", "/slack/events"): {"200", "400", "401", "404", "413"},
    ("post", "/slack/actions"): {"200", "400", "401", "404", "413"},
    ("get", "/"): {"200"},
}


def test_openapi_documents_every_route_and_status(make_service_client) -> None:
    schema = make_service_client().get("/openapi.json").json()
    operations = {(m, p): op for p, ops in schema["paths"].items() for m, op in ops.items()}
    assert set(operations) == set(EXPECTED_STATUSES)
    for key, statuses in EXPECTED_STATUSES.items():
        assert statuses <= set(operations[key]["responses"]), key
    error_ref = operations[("post", "/ask")]["responses"]["422"]["content"]["application/json"]["schema"]
    assert error_ref["$ref"].endswith("/ErrorResponse")
    ask_body = schema["components"]["schemas"]["AskRequest"]
    assert ask_body["additionalProperties"] is False
    top_k = ask_body["properties"]["top_k"]
    assert (top_k["type"], top_k["minimum"], top_k["maximum"], top_k["default"]) == ("integer", 1, 20, 5)
    assert "securitySchemes" not in schema.get("components", {})  # no keys: no auth to document


def test_openapi_documents_bearer_auth_when_keys_are_set(make_service_client) -> None:
    client = make_service_client(api_keys=KEYS)
    schema = client.get("/openapi.json", headers=_bearer(KEYS[0])).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "One of the keys in RAG_API_KEYS",
    }
    for path, ops in schema["paths"].items():
        for op in ops.values():
            exempt = path in {"/healthz", "/readyz", "/"} or path.startswith("/slack/")
            assert ("security" in op) is not exempt, path


# -- `rag serve` -------------------------------------------------------------------------


def test_serve_builds_the_index_from_seeds_when_missing(tmp_path: Path, seeds_dir: Path) -> None:
    from cli.serve import ensure_index

    seeds = tmp_path / "seeds"
    shutil.copytree(seeds_dir, seeds)
    settings = Settings(index_dir=tmp_path / "index", seeds_dir=seeds)
    assert ensure_index(settings, embedder=HashingEmbedder()) is True
    assert index_exists(settings.index_dir)
    embedder = HashingEmbedder()
    assert ensure_index(settings, embedder=embedder) is False  # present: left alone
    assert embedder.calls == 0


def test_rag_serve_passes_index_host_and_port(monkeypatch: pytest.MonkeyPatch, fake_index_dir: Path) -> None:
    import service.server
    from cli.main import main

    seen = {}
    monkeypatch.setattr(
        service.server, "run", lambda settings, host, port: seen.update(index=settings.index_dir, host=host, port=port)
    )
    assert main(["serve", "--index", str(fake_index_dir), "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert seen == {"index": fake_index_dir, "host": "0.0.0.0", "port": 8123}


def test_rag_serve_rejects_a_bad_port_with_exit_2(fake_index_dir: Path) -> None:
    from cli.main import main

    assert main(["serve", "--index", str(fake_index_dir), "--port", "70000"]) == 2


def _hot_app(index_dir: Path, **changes):
    from rag.engine import RagEngine

    settings = Settings(index_dir=index_dir, index_poll_s=0.1, **changes)
    app = create_app(settings, lambda s: RagEngine.open(s, embedder=HashingEmbedder()), wait_for_engine=True)
    return TestClient(app)


def _wait_for_version(client: TestClient, old: str, seconds: float = 10.0) -> tuple[str, int]:
    """Poll /readyz (as a load balancer would) until it names another version; count failures."""
    import time

    failures = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        failures += response.status_code != 200
        if response.status_code == 200 and response.json()["index_version"] != old:
            return response.json()["index_version"], failures
        failures += client.post("/ask", json={"question": PEPPA}).status_code != 200
        time.sleep(0.05)
    raise AssertionError(f"still serving {old} after {seconds}s")


def test_a_running_server_switches_to_a_new_index_by_itself(writable_index: Path, tmp_path: Path) -> None:
    from rag.ingest import ingest

    with _hot_app(writable_index) as client:
        old = client.get("/readyz").json()["index_version"]
        new_doc = tmp_path / "new.jsonl"
        new_doc.write_text(json.dumps({"id": "hot-1", "text": "Hot swapping indexes is now possible."}) + "\n")
        ingest([REPO / "seeds", new_doc], Settings(index_dir=writable_index), embedder=HashingEmbedder())
        version, failures = _wait_for_version(client, old)
        assert version != old and failures == 0
        assert client.get("/documents/hot-1").status_code == 200
        assert "rag_index_swaps_total 1.0" in client.get("/metrics").text


def test_a_generation_that_cannot_load_leaves_the_old_one_serving(writable_index: Path) -> None:
    import time

    with _hot_app(writable_index) as client:
        old = client.get("/readyz").json()["index_version"]
        (writable_index / "CURRENT").write_text("v-doesnotexist\n")
        time.sleep(0.5)  # several polls
        response = client.get("/readyz")
        assert response.status_code == 200 and response.json()["index_version"] == old
        assert client.post("/ask", json={"question": PEPPA}).status_code == 200


def test_the_last_three_generations_stay_on_disk(tmp_path: Path) -> None:
    from rag.ingest import ingest

    settings = Settings(index_dir=tmp_path / "index")
    for i in range(5):
        doc = tmp_path / "doc.jsonl"
        doc.write_text(json.dumps({"id": "d", "text": f"Edition {i} of the same story."}) + "\n")
        ingest([doc], settings, embedder=HashingEmbedder())
    generations = sorted(p.name for p in settings.index_dir.iterdir() if p.name.startswith("v-"))
    assert len(generations) == 3
    assert (settings.index_dir / "CURRENT").read_text().strip() in generations


@pytest.fixture()
def live_server(fake_engine, fake_index_dir: Path):
    """A real uvicorn server with our protocol, on a free loopback port, in a thread."""
    import socket
    import threading
    import time

    import uvicorn

    from service.protocol import BoundedHttpProtocol

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(Settings(index_dir=fake_index_dir), lambda _s: fake_engine, wait_for_engine=True)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=BoundedHttpProtocol, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def _raw(port: int, payload: bytes) -> tuple[int, dict]:
    import contextlib
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(payload)  # the server may stop reading an oversized head
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_an_oversized_request_head_gets_431_in_json(live_server: int) -> None:
    huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
    status, body = _raw(live_server, huge)
    assert status == 431 and body["error"]["code"] == "headers_too_large"
    status, body = _raw(live_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200, "ordinary requests still pass"


def test_a_request_that_is_not_http_gets_400_in_json(live_server: int) -> None:
    status, body = _raw(live_server, b"\x16\x03\x01 this is not http\r\n\r\n")
    assert status == 400 and body["error"]["code"] == "bad_request"


def test_readyz_says_while_a_new_index_version_is_swapped_in(fake_engine, fake_index_dir: Path, tmp_path: Path) -> None:
    import threading
    import time

    opened: list[int] = []
    gate = threading.Event()

    def factory(_settings: Settings):
        opened.append(1)
        if len(opened) > 1:  # the new version takes its time to load
            assert gate.wait(10)
        return fake_engine

    settings = Settings(index_dir=fake_index_dir, index_poll_s=0, service_db=tmp_path / "s.sqlite3")
    app = create_app(settings, factory, wait_for_engine=True)
    with TestClient(app) as client:
        assert client.get("/readyz").json()["swapping"] is False
        swap = client.portal.start_task_soon(app.state.service.reload, "v-next")
        deadline = time.monotonic() + 10
        while not client.get("/readyz").json()["swapping"] and time.monotonic() < deadline:
            time.sleep(0.02)
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["swapping"] is True  # the old version still answers
        gate.set()
        swap.result(10)
        assert client.get("/readyz").json()["swapping"] is False
