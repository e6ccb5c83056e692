"""The HTTP API over a real (fake-embedder) index: answers, input rules, errors, probes."""

from __future__ import annotations

import asyncio
import html
import json
import re
import threading
import time
from pathlib import Path

import httpx
import pytest

from rag.embedding.fake import HashingEmbedder
from rag.engine import RagEngine
from rag.errors import IndexMissingError, QuestionError
from rag.ingest import ingest
from rag.settings import Settings
from rag.types import Answer, Citation, Hit
from service import create_app

PEPPA = "How many fake Peppa Pig products were seized?"
MARKER = re.compile(r"\[(\d+)\]")


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


# -- /ask --------------------------------------------------------------------------------


def test_ask_answers_with_valid_citations(make_service_client) -> None:
    client = make_service_client()
    response = client.post("/ask", json={"question": PEPPA})
    assert response.status_code == 200
    body = response.json()
    assert "600,000" in body["answer"]
    assert body["abstained"] is False
    assert body["mode"] == "extractive"
    assert body["question"] == PEPPA
    assert {"encode", "retrieve", "compose", "total"} <= set(body["timings_ms"])
    # Every [n] names a citation and every citation is used.
    used = {int(n) for n in MARKER.findall(body["answer"])}
    numbers = {c["n"] for c in body["citations"]}
    assert used == numbers and numbers
    for citation in body["citations"]:
        assert "Peppa" in citation["title"]
        document = client.get(f"/documents/{citation['doc_id']}").json()
        # The offsets point at the quoted passage in the document's clean text.
        assert document["text"][citation["start"] : citation["end"]] == citation["text"]
    assert body["index_version"] == client.get("/readyz").json()["index_version"]


def test_ask_trims_the_question_and_accepts_padding_beyond_the_limit(make_service_client) -> None:
    client = make_service_client()
    body = client.post("/ask", json={"question": f"   {PEPPA}\n\t"}).json()
    assert body["question"] == PEPPA
    # 2000 characters of question plus padding is still a 2000-character question.
    padded = "  " + ("x" * 1999 + "?") + "  "
    assert client.post("/ask", json={"question": padded}).status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   \n\t "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": 42}, "question"),
        ({"question": None}, "question"),
        ({}, "question"),
        ({"question": "q", "top_k": 0}, "top_k"),
        ({"question": "q", "top_k": 21}, "top_k"),
        ({"question": "q", "top_k": -1}, "top_k"),
        ({"question": "q", "top_k": True}, "top_k"),  # a boolean is not a number
        ({"question": "q", "top_k": "5"}, "top_k"),
        ({"question": "q", "top_k": 5.5}, "top_k"),
        ({"question": "q", "top_k": 1e300}, "top_k"),
        ({"question": "q", "top_k": None}, "top_k"),
        ({"question": "q", "topk": 5}, "topk"),  # unknown field: a typo must not pass silently
        ({"question": "q", "filters": {"source": ["a"]}}, "filters.source"),
        ({"question": "q", "filters": {"published_from": "2021-02-30"}}, "filters.published_from"),
        ({"question": "q", "filters": {"published_from": "yesterday"}}, "filters.published_from"),
        ({"question": "q", "filters": {"sources": "not-a-list"}}, "filters.sources"),
        ({"question": "q", "filters": []}, "filters"),
        (["question"], "body"),
        ("question", "body"),
    ],
)
def test_ask_rejects_bad_input_with_422(make_service_client, payload: object, field: str) -> None:
    client = make_service_client()
    error = _error(client.post("/ask", json=payload), 422, "invalid_request")
    assert error["message"].startswith(field)
    assert all("input" not in detail for detail in error["details"])  # the input is never echoed


def test_integral_floats_are_integers(make_service_client) -> None:
    # JSON does not tell 5 from 5.0; JSON Schema counts both as integers, and so do we.
    body = make_service_client().post("/ask", json={"question": PEPPA, "top_k": 2.0}).json()
    assert len(body["citations"]) <= 2


@pytest.mark.parametrize("raw", [b"{", b'{"question": "a",}', b"\xff\xfe", b"nul", b'{"question": "a"} x'])
def test_malformed_json_is_400(make_service_client, raw: bytes) -> None:
    client = make_service_client()
    response = client.post("/ask", content=raw, headers={"content-type": "application/json"})
    _error(response, 400, "malformed_json")


def test_non_json_body_is_415(make_service_client) -> None:
    client = make_service_client()
    response = client.post("/ask", content=b'{"question": "a"}', headers={"content-type": "text/plain"})
    _error(response, 415, "unsupported_media_type")
    _error(client.post("/ask", data={"question": "a"}), 415, "unsupported_media_type")


def test_body_over_64_kib_is_413_with_or_without_content_length(make_service_client) -> None:
    client = make_service_client()
    big = json.dumps({"question": "x" * 70_000}).encode()
    _error(client.post("/ask", content=big, headers={"content-type": "application/json"}), 413, "payload_too_large")

    def chunks():  # no Content-Length: the limit must hold on the bytes actually received
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    response = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    _error(response, 413, "payload_too_large")
    # Just under the limit is read and judged on its content (here: a too-long question).
    fits = json.dumps({"question": "x" * 65_000}).encode()
    assert len(fits) <= 65536
    _error(client.post("/ask", content=fits, headers={"content-type": "application/json"}), 422, "invalid_request")


def test_body_limit_follows_settings(make_service_client) -> None:
    client = make_service_client(max_body_bytes=100)
    body = json.dumps({"question": "y" * 200})
    _error(client.post("/ask", content=body, headers={"content-type": "application/json"}), 413, "payload_too_large")


def test_configured_limits_tighter_than_the_spec_are_enforced(make_service_client) -> None:
    client = make_service_client(max_question_chars=10, max_top_k=3)
    _error(client.post("/ask", json={"question": "a much longer question"}), 400, "bad_question")
    _error(client.post("/ask", json={"question": "short", "top_k": 4}), 400, "bad_question")
    assert client.post("/ask", json={"question": "short", "top_k": 3}).status_code == 200


def test_filters_restrict_the_passages(make_service_client) -> None:
    client = make_service_client()
    body = client.post(
        "/ask",
        json={
            "question": "Alibaba",
            "top_k": 10,
            "filters": {"published_from": "2021-01-01", "published_to": "2021-12-31"},
        },
    ).json()
    assert body["citations"], body
    assert all("2021-01-01" <= c["published"] <= "2021-12-31" for c in body["citations"])


def test_top_k_beyond_the_index_size_is_fine(tmp_path: Path, make_service_client) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "one.jsonl").write_text(
        json.dumps({"id": "solo", "title": "Solo", "text": "The lighthouse keeper counted 17 ships in the harbour."})
        + "\n"
    )
    settings = Settings(index_dir=tmp_path / "index")
    ingest([corpus], settings, embedder=HashingEmbedder())
    engine = RagEngine.open(settings, embedder=HashingEmbedder())
    client = make_service_client(engine=engine)
    hits = client.get("/search", params={"q": "lighthouse ships", "k": 20}).json()["hits"]
    assert [h["doc_id"] for h in hits] == ["solo"]
    body = client.post("/ask", json={"question": "How many ships did the lighthouse keeper count?", "top_k": 20}).json()
    assert {c["doc_id"] for c in body["citations"]} <= {"solo"}
    assert {int(n) for n in MARKER.findall(body["answer"])} == {c["n"] for c in body["citations"]}


def test_urls_that_are_not_http_never_reach_a_client(tmp_path: Path, make_service_client) -> None:
    records = [
        {"id": "bad", "title": "Lighthouse", "url": "javascript:alert(1)",
         "text": "The lighthouse keeper counted 17 ships in the harbour."},
        {"id": "good", "title": "Harbour", "url": "https://example.org/harbour",
         "text": "The harbour master counted 12 boats at the lighthouse."},
    ]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    settings = Settings(index_dir=tmp_path / "index")
    ingest([tmp_path / "c.jsonl"], settings, embedder=HashingEmbedder())
    client = make_service_client(engine=RagEngine.open(settings, embedder=HashingEmbedder()))
    urls = {h["doc_id"]: h["url"] for h in client.get("/search", params={"q": "lighthouse", "k": 5}).json()["hits"]}
    assert urls == {"bad": None, "good": "https://example.org/harbour"}
    body = client.post("/ask", json={"question": "How many ships did the lighthouse keeper count?"}).json()
    assert all(c["url"] in (None, "https://example.org/harbour") for c in body["citations"])
    assert client.get("/documents/bad").json()["url"] is None
    listed = {d["doc_id"]: d["url"] for d in client.get("/documents").json()["documents"]}
    assert listed["bad"] is None and listed["good"] == "https://example.org/harbour"


def test_an_empty_index_abstains(make_service_client, stub_engine_cls) -> None:
    client = make_service_client(engine=stub_engine_cls())
    body = client.post("/ask", json={"question": "anything"}).json()
    assert body["abstained"] is True and body["reason"] == "no_relevant_passage" and body["citations"] == []
    assert client.get("/search", params={"q": "anything"}).json()["hits"] == []
    assert client.get("/documents").json()["total"] == 0


def test_non_finite_scores_become_null_not_500(make_service_client, stub_engine_cls) -> None:
    nan = float("nan")
    citation = Citation(1, "d", "c", "T", None, None, "s", "passage", nan, 0, 7)
    hit = Hit("c", "d", "passage", 0, 7, float("inf"), "T", None, None, "s")
    answer = Answer("q", "It is so [1].", False, (citation,), "extractive", "stub-1", {"total": nan})
    client = make_service_client(engine=stub_engine_cls(answer=answer, hits=[hit]))
    response = client.post("/ask", json={"question": "q"})
    assert response.status_code == 200
    assert "NaN" not in response.text and "Infinity" not in response.text
    assert response.json()["citations"][0]["score"] is None
    assert client.get("/search", params={"q": "q"}).json()["hits"][0]["score"] is None


def test_engine_question_errors_are_400(make_service_client, stub_engine_cls) -> None:
    client = make_service_client(engine=stub_engine_cls(error=QuestionError("the question is empty")))
    error = _error(client.post("/ask", json={"question": "?"}), 400, "bad_question")
    assert error["message"] == "the question is empty"


def test_unexpected_engine_failure_is_a_generic_500(make_service_client, stub_engine_cls) -> None:
    client = make_service_client(
        engine=stub_engine_cls(error=RuntimeError("secret internals")), raise_server_exceptions=False
    )
    response = client.post("/ask", json={"question": "q"})
    error = _error(response, 500, "internal_error")
    assert "secret internals" not in response.text
    assert error["request_id"] == response.headers["x-request-id"]


# -- /search, /documents -----------------------------------------------------------------


def test_search_ranks_passages(make_service_client) -> None:
    client = make_service_client()
    body = client.get("/search", params={"q": "Peppa Pig raid", "k": 3}).json()
    assert body["query"] == "Peppa Pig raid"
    assert 1 <= len(body["hits"]) <= 3
    assert "Peppa" in body["hits"][0]["title"]
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)
    assert set(body["hits"][0]) == {
        "doc_id",
        "chunk_id",
        "title",
        "url",
        "published",
        "source",
        "text",
        "score",
        "start",
        "end",
        "link",  # an extension of the SPEC's passage: the article's page with the passage marked
    }
    hit = body["hits"][0]
    assert hit["link"] == f"/documents/{hit['doc_id']}?hl={hit['start']}-{hit['end']}#hl-1"


def test_search_source_filter(make_service_client) -> None:
    client = make_service_client()
    source = client.get("/documents").json()["documents"][0]["source"]
    hits = client.get("/search", params={"q": "Alibaba", "k": 10, "source": source}).json()["hits"]
    assert hits and {h["source"] for h in hits} == {source}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x", "k": 0},
        {"q": "x", "k": 21},
        {"q": "x", "k": "true"},
        {"q": "x", "k": "2.5"},
        {"q": "x" * 2001},
        {"q": "x", "published_to": "2021-13-01"},
    ],
)
def test_search_rejects_bad_parameters(make_service_client, params: dict) -> None:
    _error(make_service_client().get("/search", params=params), 422, "invalid_request")


def test_documents_list_and_fetch(make_service_client, fake_engine: RagEngine) -> None:
    client = make_service_client()
    listing = client.get("/documents").json()
    assert listing["total"] == len(fake_engine.documents()) == len(listing["documents"])
    first = listing["documents"][0]
    assert "text" not in first and first["chars"] > 0
    page = client.get("/documents", params={"offset": 1, "limit": 2}).json()
    assert [d["doc_id"] for d in page["documents"]] == [d["doc_id"] for d in listing["documents"][1:3]]
    document = client.get(f"/documents/{first['doc_id']}").json()
    assert document["text"] == fake_engine.document(first["doc_id"]).text
    assert len(document["text"]) == first["chars"]
    _error(client.get("/documents/no-such-doc"), 404, "not_found")
    _error(client.get("/documents", params={"limit": 0}), 422, "invalid_request")


def test_unknown_route_and_method_use_the_error_body(make_service_client) -> None:
    client = make_service_client()
    _error(client.get("/nope"), 404, "not_found")
    response = client.get("/ask")
    _error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]


# -- probes and start-up -----------------------------------------------------------------


def test_readyz_is_503_until_the_engine_has_loaded(fake_engine: RagEngine, fake_index_dir: Path) -> None:
    from fastapi.testclient import TestClient

    release = threading.Event()
    calls = []

    def slow_factory(settings: Settings) -> RagEngine:
        calls.append(settings)
        release.wait(10)
        return fake_engine

    app = create_app(Settings(index_dir=fake_index_dir), slow_factory)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        error = _error(client.get("/readyz"), 503, "not_ready")
        assert "loading" in error["message"]
        response = client.post("/ask", json={"question": PEPPA})
        _error(response, 503, "not_ready")
        assert response.headers["retry-after"] == "5"
        release.set()
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        ready = client.get("/readyz").json()
        assert ready == {
            "status": "ready",
            "index_version": fake_engine.index_version,
            "documents": len(fake_engine.documents()),
            "swapping": False,
        }
        for _ in range(5):
            assert client.post("/ask", json={"question": PEPPA}).status_code == 200
    assert len(calls) == 1  # loaded once, at start-up, not per request


def test_missing_index_keeps_the_process_alive_but_not_ready(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    settings = Settings(index_dir=tmp_path / "absent")
    app = create_app(settings, lambda s: RagEngine.open(s, embedder=HashingEmbedder()), wait_for_engine=True)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert "absent" in _error(client.get("/readyz"), 503, "index_missing")["message"]
        _error(client.post("/ask", json={"question": "q"}), 503, "index_missing")


def test_engine_factory_errors_are_reported_on_readyz(fake_index_dir: Path) -> None:
    from fastapi.testclient import TestClient

    def broken(_settings: Settings) -> RagEngine:
        raise IndexMissingError("no index at /somewhere")

    with TestClient(create_app(Settings(index_dir=fake_index_dir), broken, wait_for_engine=True)) as client:
        _error(client.get("/readyz"), 503, "index_missing")


# -- concurrency -------------------------------------------------------------------------


async def _with_app(app, fn):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await fn(client)


def test_engine_work_runs_off_the_event_loop(fake_index_dir: Path, stub_engine_cls) -> None:
    gate = threading.Event()
    engine = stub_engine_cls(gate=gate)  # `ask` blocks its thread until the gate opens
    app = create_app(Settings(index_dir=fake_index_dir), lambda s: engine, wait_for_engine=True)

    async def scenario(client: httpx.AsyncClient) -> None:
        slow = asyncio.create_task(client.post("/ask", json={"question": "slow"}))
        while not engine.calls or engine.calls[-1][0] != "ask":
            await asyncio.sleep(0.01)
        # /ask is now blocked inside the engine. Had it blocked the event loop, nothing else
        # could be served until the gate opened.
        health = await asyncio.wait_for(client.get("/healthz"), timeout=5)
        search = await asyncio.wait_for(client.get("/search", params={"q": "x"}), timeout=5)
        assert health.status_code == 200 and search.status_code == 200
        assert not slow.done()
        gate.set()
        assert (await slow).status_code == 200

    asyncio.run(_with_app(app, scenario))


def test_concurrent_requests_get_the_same_answers_as_serial_ones(fake_index_dir: Path, fake_engine) -> None:
    questions = [
        PEPPA,
        "How much was Alibaba fined?",
        "What did the Alibaba survey find about exports?",
        "Who is Jessie Zheng?",
    ] * 5
    expected = {q: fake_engine.ask(q).as_dict() for q in set(questions)}
    app = create_app(Settings(index_dir=fake_index_dir), lambda s: fake_engine, wait_for_engine=True)

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return await asyncio.gather(*(client.post("/ask", json={"question": q}) for q in questions))

    responses = asyncio.run(_with_app(app, scenario))
    for question, response in zip(questions, responses, strict=True):
        assert response.status_code == 200
        got, want = response.json(), expected[question]
        for citation in got["citations"]:  # the API adds each citation's page link
            assert citation.pop("link").startswith(f"/documents/{citation['doc_id']}?hl=")
        assert (got["answer"], got["citations"]) == (want["answer"], want["citations"])


def test_engine_calls_at_once_are_capped_by_engine_threads(fake_index_dir: Path, fake_engine) -> None:
    lock = threading.Lock()
    running = 0
    most = 0

    class CountingEngine:
        """The real fake-embedder engine, recording how many `ask` calls overlap."""

        index_version = fake_engine.index_version
        documents = fake_engine.documents
        search = fake_engine.search

        def ask(self, question: str, **kwargs) -> Answer:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            try:
                time.sleep(0.05)  # long enough that uncapped calls would overlap
                return fake_engine.ask(question, **kwargs)
            finally:
                with lock:
                    running -= 1

    settings = Settings(index_dir=fake_index_dir, engine_threads=2)
    app = create_app(settings, lambda s: CountingEngine(), wait_for_engine=True)

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return await asyncio.gather(*(client.post("/ask", json={"question": PEPPA}) for _ in range(8)))

    responses = asyncio.run(_with_app(app, scenario))
    assert [r.status_code for r in responses] == [200] * 8
    assert all("600,000" in r.json()["answer"] for r in responses)
    assert most == 2  # queued, not refused: all 8 answered, never more than 2 in the engine


# -- the staff page ----------------------------------------------------------------------


def test_page_is_served_with_a_strict_csp(make_service_client) -> None:
    response = make_service_client().get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'", csp)
    html = response.text
    assert 'id="question"' in html and 'id="sources"' in html and 'name="viewport"' in html
    # Document text reaches the DOM only as text.
    assert "innerHTML" not in html and "outerHTML" not in html and "insertAdjacentHTML" not in html
    assert "document.write" not in html and "eval(" not in html
    # Self-contained: no external scripts, styles or icons (the favicon is an inline data URL).
    assert not re.search(r'<link[^>]+href="(?!data:)', html) and 'src="http' not in html


# -- issue 17: the article page with the quote marked ---------------------------------------------


def test_document_page_marks_the_quoted_spans_for_browsers_and_json_for_clients(make_service_client) -> None:
    client = make_service_client()
    answer = client.post("/ask", json={"question": PEPPA}).json()
    citation = answer["citations"][0]
    path, fragment = citation["link"].split("#")
    assert fragment == "hl-1"
    page = client.get(path, headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]  # the page runs no script
    assert f'<mark id="hl-1">{html.escape(citation["text"])}</mark>' in page.text
    as_json = client.get(path).json()
    assert as_json["highlights"] == [{"start": citation["start"], "end": citation["end"], "text": citation["text"]}]
    assert as_json["text"][citation["start"] : citation["end"]] == citation["text"]
    # Overlapping and repeated ranges merge; the page numbers what is left.
    doc = f"/documents/{citation['doc_id']}"
    merged = client.get(f"{doc}?hl=10-20&hl=15-30&hl=40-50&hl=10-20").json()["highlights"]
    assert [(h["start"], h["end"]) for h in merged] == [(10, 30), (40, 50)]


def test_document_page_refuses_bad_ranges_and_unknown_ids(make_service_client) -> None:
    client = make_service_client()
    doc_id = client.get("/documents").json()["documents"][0]["doc_id"]
    length = len(client.get(f"/documents/{doc_id}").json()["text"])
    for bad in (f"0-{length + 1}", "20-10", "5-5", "abc", "-1-4", "1-2-3"):
        response = client.get(f"/documents/{doc_id}", params={"hl": bad}, headers={"accept": "text/html"})
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "bad_question"
    assert client.get(f"/documents/{doc_id}", params=[("hl", "1-2")] * 21).status_code == 422
    assert client.get("/documents/no-such-doc", headers={"accept": "text/html"}).status_code == 404


def test_document_page_shows_markup_in_articles_as_text(make_service_client, stub_engine_cls) -> None:
    from rag.types import Document

    evil = Document(
        "evil", 'A <script>alert(1)</script> title', '<img src=x onerror="alert(2)"> body text here.', "s.txt",
        url="javascript:alert(3)", published="2024-01-02",
    )
    client = make_service_client(engine=stub_engine_cls(documents=[evil]))
    page = client.get("/documents/evil?hl=0-10", headers={"accept": "text/html"}).text
    assert "<script>" not in page and "<img" not in page and "javascript:" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and '<mark id="hl-1">&lt;img src=x</mark>' in page


def test_with_a_public_url_links_are_absolute(make_service_client) -> None:
    client = make_service_client(public_url="https://ask.example.org")
    citation = client.post("/ask", json={"question": PEPPA}).json()["citations"][0]
    assert citation["link"].startswith(f"https://ask.example.org/documents/{citation['doc_id']}?hl=")
