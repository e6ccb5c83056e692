"""The Slack endpoints: signatures, the slash command, the Events API, late delivery.

Requests are signed with slack_sdk's own `SignatureVerifier.generate_signature`. Nothing leaves
the machine: `response_url` posts go to an `httpx.MockTransport`, `chat.postMessage` to a small
HTTP server on localhost standing in for Slack's Web API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from rag.errors import QuestionError
from rag.types import Answer, Citation
from service.slack import RecentIds, SlackSignature, allowed_response_url

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
PEPPA = "How many fake Peppa Pig products were seized?"
HOOK = "https://hooks.slack.com/commands/T0001/1234/abcdef"


def sign(body: bytes, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def command_body(text: str, **extra: str) -> bytes:
    fields = {"command": "/ask", "text": text, "response_url": HOOK, "channel_id": "C1", "user_id": "U1", **extra}
    return urlencode(fields).encode()


def post_command(client, body: bytes, **sign_args) -> httpx.Response:
    headers = {"content-type": "application/x-www-form-urlencoded", **sign(body, **sign_args)}
    return client.post("/slack/commands", content=body, headers=headers)


def post_event(client, payload: object, extra_headers: dict | None = None) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json", **sign(body), **(extra_headers or {})}
    return client.post("/slack/events", content=body, headers=headers)


class Hooks:
    """An httpx transport that records what would have been posted to Slack's response_url."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.arrived = threading.Event()
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.arrived.set()
        return httpx.Response(200, text="ok")


class FakeSlackApi:
    """Slack's Web API on localhost: records chat.postMessage calls, answers ok."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                outer.calls.append(
                    {"path": self.path, "auth": self.headers.get("authorization"), "body": json.loads(raw or b"{}")}
                )
                outer.arrived.set()
                payload = json.dumps({"ok": True, "ts": "1700000000.000100"}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def slack_api() -> Iterator[FakeSlackApi]:
    api = FakeSlackApi()
    yield api
    api.close()


@pytest.fixture()
def hooks() -> Hooks:
    return Hooks()


def _cited_answer() -> Answer:
    citation = Citation(
        1,
        "d1",
        "c1",
        "Peppa raid",
        "https://news.example/peppa",
        "2017-12-22",
        "s.txt",
        "Over 600,000 fake products were seized.",
        0.9,
        0,
        40,
    )
    return Answer("q", "Over 600,000 fake products were seized [1].", False, (citation,), "extractive", "stub-1", {})


# -- signatures --------------------------------------------------------------------------


def test_signature_accepts_what_slack_sdk_signs() -> None:
    body = b"token=x&text=hello"
    headers = sign(body)
    checker = SlackSignature(SECRET)
    assert checker.verify(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not checker.verify(body + b"&x=1", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not SlackSignature("other-secret").verify(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


def test_signature_window_is_five_minutes() -> None:
    body = b"x"
    checker = SlackSignature(SECRET)
    now = int(time.time())
    for age, ok in ((-280, True), (280, True), (-320, False), (320, False), (-86400, False)):
        headers = sign(body, ts=now + age)
        assert checker.verify(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]) is ok, age


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=64),
    timestamp=st.one_of(st.none(), st.text(max_size=24)),
    signature=st.one_of(st.none(), st.text(max_size=80)),
)
def test_signature_check_never_raises(body: bytes, timestamp: str | None, signature: str | None) -> None:
    assert SlackSignature(SECRET).verify(body, timestamp, signature) in (True, False)


def _raw_signature(body: bytes, ts: str) -> str:
    # Signed over the raw bytes, as a sender could: slack_sdk itself would choke on non-UTF-8.
    return "v0=" + hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()


def _malformed_requests() -> list[tuple[str, bytes, dict]]:
    body = command_body("hello")
    good = sign(body)
    ts, sig = good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"]
    not_utf8 = b"text=\xff\xfe\xfd"
    return [
        ("no headers", body, {}),
        ("no signature", body, {"X-Slack-Request-Timestamp": ts}),
        ("no timestamp", body, {"X-Slack-Signature": sig}),
        ("non-numeric timestamp", body, {"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": sig}),
        ("float timestamp", body, {"X-Slack-Request-Timestamp": ts + ".5", "X-Slack-Signature": sig}),
        ("huge timestamp", body, {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": sig}),
        ("negative timestamp", body, {"X-Slack-Request-Timestamp": "-" + ts, "X-Slack-Signature": sig}),
        ("empty signature", body, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": ""}),
        ("wrong version", body, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v1" + sig[2:]}),
        ("non-ascii signature", body, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=é".encode()}),
        ("truncated signature", body, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig[:-2]}),
        ("other body", body + b"&x=1", good),
        ("stale", body, sign(body, ts=int(time.time()) - 600)),
        ("wrong secret", body, sign(body, secret="not-the-secret")),
        ("not utf-8", not_utf8, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": _raw_signature(not_utf8, ts)}),
    ]


@pytest.mark.parametrize("path", ["/slack/commands", "/slack/events"])
def test_every_malformed_signature_is_401(make_service_client, path: str) -> None:
    client = make_service_client(slack_signing_secret=SECRET)
    for name, body, headers in _malformed_requests():
        response = client.post(path, content=body, headers={"content-type": "application/json", **headers})
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] == "bad_signature", name


def test_slack_routes_are_404_when_not_configured(make_service_client) -> None:
    client = make_service_client()
    body = command_body("hello")
    for path in ("/slack/commands", "/slack/events"):
        response = client.post(path, content=body, headers=sign(body))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "slack_disabled"


# -- slash command -----------------------------------------------------------------------


def test_slash_command_answers_inline_when_fast(make_service_client, hooks: Hooks) -> None:
    client = make_service_client(slack_signing_secret=SECRET, slack_transport=hooks.transport)
    started = time.perf_counter()
    response = post_command(client, command_body(PEPPA))
    assert time.perf_counter() - started < 3
    assert response.status_code == 200
    message = response.json()
    assert message["response_type"] == "in_channel"
    assert "600,000" in message["blocks"][0]["text"]["text"]
    sources = "\n".join(b["text"]["text"] for b in message["blocks"][1:] if b["type"] == "section")
    assert message["blocks"][-1]["type"] == "actions"  # 👍/👎
    assert "<https://focus.cbbc.org/fake-peppa-pig-raid/|Millions of pounds worth of fake Peppa Pig" in sources
    assert "2017-12-22" in sources
    assert hooks.requests == []  # nothing sent later


def test_slow_answers_are_acked_at_once_and_delivered_to_response_url(
    make_service_client, stub_engine_cls, hooks: Hooks
) -> None:
    gate = threading.Event()
    engine = stub_engine_cls(answer=_cited_answer(), gate=gate)  # the answer waits for the gate
    client = make_service_client(
        engine=engine, slack_signing_secret=SECRET, slack_ack_budget_s=0.2, slack_transport=hooks.transport
    )
    started = time.perf_counter()
    response = post_command(client, command_body("How many fake products?"))
    assert time.perf_counter() - started < 3  # Slack's limit, with the answer still pending
    assert response.json()["response_type"] == "ephemeral"
    assert "Looking that up" in response.json()["text"]
    assert hooks.requests == []
    gate.set()
    assert hooks.arrived.wait(10)
    (request,) = hooks.requests
    assert str(request.url) == HOOK and request.method == "POST"
    delivered = json.loads(request.content)
    assert delivered["response_type"] == "in_channel" and delivered["replace_original"] is False
    assert "600,000" in delivered["text"]
    assert "<https://news.example/peppa|Peppa raid> · 2017-12-22" in delivered["blocks"][2]["text"]["text"]


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/hook",
        "http://hooks.slack.com/commands/1",
        "https://hooks.slack.com.evil.example/x",
        "https://user@hooks.slack.com/x",
        "https://hooks.slack.com:8443/x",
        "https://127.0.0.1/hooks.slack.com/",
    ],
)
def test_response_url_outside_slack_is_never_called(
    make_service_client, stub_engine_cls, hooks: Hooks, url: str
) -> None:
    engine = stub_engine_cls(answer=_cited_answer(), delay_s=0.3)
    with make_service_client(
        engine=engine,
        slack_signing_secret=SECRET,
        slack_ack_budget_s=0.05,
        slack_transport=hooks.transport,
        started=False,
    ) as client:
        response = post_command(client, command_body("q", response_url=url))
        assert response.status_code == 200
        assert response.json()["response_type"] == "ephemeral"
    # The client is closed: every background task has finished.
    assert hooks.requests == []


def test_allowed_response_urls() -> None:
    assert allowed_response_url(HOOK)
    assert allowed_response_url("https://hooks.slack.com:443/actions/T1/2/3")
    for bad in (None, 42, "", "https://hooks.slack.com", "https://[::1/x", "hooks.slack.com/x", "//hooks.slack.com/x"):
        assert not allowed_response_url(bad), bad


def test_empty_command_gets_help(make_service_client) -> None:
    client = make_service_client(slack_signing_secret=SECRET)
    message = post_command(client, command_body("   ")).json()
    assert message["response_type"] == "ephemeral" and "/ask" in message["text"]
    assert post_command(client, urlencode({"ssl_check": "1", "token": "x"}).encode()).status_code == 200


def test_abstentions_say_why(make_service_client, stub_engine_cls) -> None:
    client = make_service_client(engine=stub_engine_cls(), slack_signing_secret=SECRET)
    first = post_command(client, command_body("Who won the 1930 World Cup?")).json()["blocks"][0]["text"]["text"]
    assert "No answer" in first and "none of the indexed articles discusses this" in first


def test_engine_errors_become_a_polite_message(make_service_client, stub_engine_cls) -> None:
    engine = stub_engine_cls(error=QuestionError("the question is <empty> & odd"))
    client = make_service_client(engine=engine, slack_signing_secret=SECRET)
    response = post_command(client, command_body("?"))
    assert response.status_code == 200
    assert "Sorry, I could not answer that: the question is &lt;empty&gt; &amp; odd" in response.json()["text"]


# -- Events API --------------------------------------------------------------------------


def test_url_verification_echoes_the_challenge(make_service_client) -> None:
    client = make_service_client(slack_signing_secret=SECRET)
    response = post_event(
        client,
        {"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "token": "t"},
    )
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def _mention(event_id: str, text: str = f"<@U0BOT> {PEPPA}", **event: object) -> dict:
    return {
        "type": "event_callback",
        "event_id": event_id,
        "event": {
            "type": "app_mention",
            "user": "U1",
            "text": text,
            "ts": "1700000000.000200",
            "channel": "C42",
            **event,
        },
    }


def test_app_mention_is_answered_in_the_thread(make_service_client, slack_api: FakeSlackApi) -> None:
    with make_service_client(
        slack_signing_secret=SECRET, slack_bot_token=TOKEN, slack_api_url=slack_api.url, started=False
    ) as client:
        response = post_event(client, _mention("Ev1"))
        assert response.status_code == 200 and response.json() == {"ok": True}
        assert slack_api.arrived.wait(10)
    (call,) = slack_api.calls
    assert call["path"] == "/api/chat.postMessage"
    assert call["auth"] == f"Bearer {TOKEN}"
    body = call["body"]
    assert body["channel"] == "C42" and body["thread_ts"] == "1700000000.000200"
    assert "600,000" in body["text"]
    assert any("Peppa" in b["text"]["text"] for b in body["blocks"] if b["type"] == "section")


def test_mentions_inside_a_thread_reply_to_that_thread(make_service_client, stub_engine_cls, slack_api) -> None:
    engine = stub_engine_cls(answer=_cited_answer())
    with make_service_client(
        engine=engine, slack_signing_secret=SECRET, slack_bot_token=TOKEN, slack_api_url=slack_api.url, started=False
    ) as client:
        post_event(client, _mention("Ev2", text="<@U0BOT|rag>   what was seized? ", thread_ts="1699999999.000001"))
    assert slack_api.calls[0]["body"]["thread_ts"] == "1699999999.000001"
    assert engine.calls == [("search", "readiness check"), ("ask", "what was seized?")]  # mention stripped


def test_events_are_acked_at_once_even_when_answering_is_slow(make_service_client, stub_engine_cls, slack_api) -> None:
    gate = threading.Event()
    engine = stub_engine_cls(answer=_cited_answer(), gate=gate)
    with make_service_client(
        engine=engine, slack_signing_secret=SECRET, slack_bot_token=TOKEN, slack_api_url=slack_api.url, started=False
    ) as client:
        started = time.perf_counter()
        assert post_event(client, _mention("Ev3")).status_code == 200
        assert time.perf_counter() - started < 3
        assert slack_api.calls == []  # acknowledged before the answer exists
        gate.set()
    assert len(slack_api.calls) == 1  # and the answer still arrives


def test_retried_events_are_answered_once(make_service_client, stub_engine_cls, slack_api) -> None:
    engine = stub_engine_cls(answer=_cited_answer(), delay_s=0.2)
    with make_service_client(
        engine=engine, slack_signing_secret=SECRET, slack_bot_token=TOKEN, slack_api_url=slack_api.url, started=False
    ) as client:
        post_event(client, _mention("EvDup"))
        for attempt in (1, 2, 3):
            retry = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"}
            assert post_event(client, _mention("EvDup"), retry).status_code == 200
        post_event(client, _mention("EvOther"))
    assert len(slack_api.calls) == 2
    assert [name for name, _ in engine.calls].count("ask") == 2


@pytest.mark.parametrize(
    "event",
    [
        {"bot_id": "B1"},
        {"subtype": "bot_message"},
        {"type": "message"},
        {"type": "app_mention", "subtype": "message_changed"},
    ],
)
def test_bot_messages_and_other_events_are_ignored(make_service_client, stub_engine_cls, slack_api, event) -> None:
    engine = stub_engine_cls(answer=_cited_answer())
    with make_service_client(
        engine=engine, slack_signing_secret=SECRET, slack_bot_token=TOKEN, slack_api_url=slack_api.url, started=False
    ) as client:
        assert post_event(client, _mention("EvBot", **event)).status_code == 200
    assert slack_api.calls == []
    assert [name for name, _ in engine.calls] == ["search"]  # only the start-up warm-up


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        json.dumps({"type": "url_verification"}).encode(),
        json.dumps({"type": "event_callback", "event": "nope"}).encode(),
        json.dumps({"type": "event_callback", "event_id": "E", "event": {"type": "app_mention"}}).encode(),
    ],
)
def test_signed_but_malformed_payloads_are_400(make_service_client, body: bytes) -> None:
    client = make_service_client(slack_signing_secret=SECRET)
    response = client.post("/slack/events", content=body, headers={"content-type": "application/json", **sign(body)})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_slack_payload"


def test_recent_ids_expire_and_stay_bounded() -> None:
    now = [0.0]
    ids = RecentIds(max_items=3, ttl_s=10.0, clock=lambda: now[0])
    assert ids.check_and_add("a") is False
    assert ids.check_and_add("a") is True
    now[0] = 11.0
    assert ids.check_and_add("a") is False  # expired, seen afresh
    for key in "bcde":
        ids.check_and_add(key)
    assert len(ids) <= 3


def test_mentions_without_a_bot_token_are_acked_and_logged(make_service_client, caplog) -> None:
    with make_service_client(slack_signing_secret=SECRET, started=False) as client:
        assert post_event(client, _mention("EvNoToken")).status_code == 200
    assert any("no bot token" in r.getMessage() for r in caplog.records)


def test_commands_while_the_index_loads_say_so(fake_engine, fake_index_dir) -> None:
    from fastapi.testclient import TestClient

    from rag.settings import Settings
    from service import create_app

    gate = threading.Event()

    def slow_factory(_settings: Settings):
        gate.wait(10)
        return fake_engine

    app = create_app(Settings(index_dir=fake_index_dir, slack_signing_secret=SECRET), slow_factory)
    with TestClient(app) as client:
        message = post_command(client, command_body(PEPPA)).json()
        assert message["response_type"] == "ephemeral" and "still loading" in message["text"]
        gate.set()


def test_a_signed_but_deeply_nested_event_is_400_not_500(make_service_client) -> None:
    client = make_service_client(slack_signing_secret=SECRET, raise_server_exceptions=False)
    body = b'{"type": "event_callback", "event": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    headers = {"content-type": "application/json", **sign(body)}
    response = client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_slack_payload"


def test_a_replayed_slash_command_is_answered_once(make_service_client, stub_engine_cls) -> None:
    engine = stub_engine_cls(answer=_cited_answer())
    client = make_service_client(engine=engine, slack_signing_secret=SECRET)
    body = command_body("How much was Alibaba fined?", trigger_id="13345224609.738474920.8088930838d88f008e0")
    headers = {"content-type": "application/x-www-form-urlencoded", **sign(body)}
    first = client.post("/slack/commands", content=body, headers=headers)
    replay = client.post("/slack/commands", content=body, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert "already answered" in replay.json()["text"] and replay.json()["response_type"] == "ephemeral"
    assert [name for name, _ in engine.calls].count("ask") == 1
    other = command_body("How much was Alibaba fined?", trigger_id="13345224609.738474920.other")
    assert "already answered" not in post_command(client, other).json().get("text", "")
    assert [name for name, _ in engine.calls].count("ask") == 2


# -- issue 17: follow-ups in threads, 👍/👎 buttons ------------------------------------------------

SINGLES = "How much did Alibaba sell on Singles' Day 2017?"


def _thread_message(event_id: str, text: str, thread_ts: str, **event: object) -> dict:
    return {
        "type": "event_callback", "event_id": event_id, "team_id": "T1",
        "event": {"type": "message", "user": "U1", "text": text, "ts": f"17000001{event_id[-2:]}.000300",
                  "thread_ts": thread_ts, "channel": "C42", **event},
    }


def _slack_client(make_service_client, engine, slack_api, **changes):
    return make_service_client(
        engine=engine, slack_signing_secret=SECRET, slack_bot_token=TOKEN, slack_api_url=slack_api.url,
        started=False, **changes,
    )


def test_a_follow_up_in_the_thread_takes_the_earlier_question_as_context(
    make_service_client, stub_engine_cls, slack_api, tmp_path
) -> None:
    engine = stub_engine_cls(answer=_cited_answer())
    db = tmp_path / "threads.sqlite3"
    top = "1700000000.000200"
    with _slack_client(make_service_client, engine, slack_api, service_db=db) as client:
        post_event(client, {**_mention("EvT1", text=f"<@U0BOT> {SINGLES}"), "team_id": "T1"})
    # A new process (a restart) still knows the thread: its context is in the service's database.
    with _slack_client(make_service_client, engine, slack_api, service_db=db) as client:
        post_event(client, _thread_message("EvT2", "And the year before?", top))
        post_event(client, _thread_message("EvT3", "What about JD in 2016?", top))
    asked = [arg for name, arg in engine.calls if name == "ask"]
    assert asked == [
        SINGLES,
        "And the year before? (Alibaba, Singles, Day, 2017)",
        "What about JD in 2016?",  # names its own subject and year: nothing carried over
    ]
    replies = [call["body"] for call in slack_api.calls]
    assert [r["thread_ts"] for r in replies] == [top, top, top]
    assert replies[1]["blocks"][0]["text"]["text"] == f"_Following up on “{SINGLES}” in this thread._"
    assert "Following up" not in replies[2]["text"]


def test_plain_messages_outside_our_threads_are_not_answered(make_service_client, stub_engine_cls, slack_api) -> None:
    engine = stub_engine_cls(answer=_cited_answer())
    with _slack_client(make_service_client, engine, slack_api) as client:
        post_event(client, _thread_message("EvU1", "And the year before?", "1600000000.000001"))  # unknown thread
        top_level = _thread_message("EvU2", "Hello all", "x")
        del top_level["event"]["thread_ts"]
        post_event(client, top_level)
        # A mention in a message event is answered through its app_mention, not twice.
        post_event(client, _thread_message("EvU3", "<@U0BOT> again?", "1700000000.000200"))
    assert slack_api.calls == [] and [c for c in engine.calls if c[0] == "ask"] == []


def test_thread_context_expires(make_service_client, stub_engine_cls, slack_api) -> None:
    engine = stub_engine_cls(answer=_cited_answer())
    with _slack_client(make_service_client, engine, slack_api, slack_thread_ttl_s=0.2) as client:
        post_event(client, {**_mention("EvX1", text=f"<@U0BOT> {SINGLES}"), "team_id": "T1"})
        time.sleep(0.5)
        post_event(client, _thread_message("EvX2", "And the year before?", "1700000000.000200"))
    assert [arg for name, arg in engine.calls if name == "ask"] == [SINGLES]


def _action(payload: dict) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return body, {"content-type": "application/x-www-form-urlencoded", **sign(body)}


def _click(message: dict, action_id: str) -> dict:
    (buttons,) = [b for b in message["blocks"] if b["type"] == "actions"]
    (button,) = [e for e in buttons["elements"] if e["action_id"] == action_id]
    return {
        "type": "block_actions", "trigger_id": "13345224609.738474920.8088930838d88f008e0", "response_url": HOOK,
        "user": {"id": "U1"}, "message": {"text": message["text"], "blocks": message["blocks"]},
        "actions": [{"action_id": action_id, "block_id": "feedback", "value": button["value"], "type": "button"}],
    }


def test_thumbs_down_in_slack_is_stored_and_asks_what_was_wrong(
    make_service_client, stub_engine_cls, slack_api, hooks, tmp_path
) -> None:
    from rag.feedback import SQLiteFeedback

    db = tmp_path / "service.sqlite3"
    engine = stub_engine_cls(answer=_cited_answer())
    client = make_service_client(
        engine=engine, slack_signing_secret=SECRET, slack_bot_token=TOKEN, slack_api_url=slack_api.url,
        slack_transport=hooks.transport, service_db=db,
    )
    message = post_command(client, command_body(PEPPA)).json()
    body, headers = _action(_click(message, "feedback_down"))
    assert client.post("/slack/actions", content=body, headers=headers).status_code == 200
    assert slack_api.arrived.wait(10) and hooks.arrived.wait(10)
    (entry,) = SQLiteFeedback(db).entries()
    assert (entry.rating, entry.channel, entry.question, entry.index_version) == ("down", "slack", PEPPA, "stub-1")
    assert "600,000" in entry.answer and entry.citations == ({"doc_id": "d1"},)
    (opened,) = [c for c in slack_api.calls if c["path"] == "/api/views.open"]
    view = opened["body"]["view"]
    assert opened["body"]["trigger_id"].startswith("13345224609") and view["private_metadata"] == str(entry.id)
    assert "recorded" in json.loads(hooks.requests[0].content)["text"]

    submission = {
        "type": "view_submission", "user": {"id": "U1"},
        "view": {"callback_id": view["callback_id"], "private_metadata": view["private_metadata"],
                 "state": {"values": {"comment": {"text": {"value": "It missed the value."}},
                                      "right_answer": {"text": {"value": "£4 million"}}}}},
    }
    body, headers = _action(submission)
    assert client.post("/slack/actions", content=body, headers=headers).status_code == 200
    (entry,) = SQLiteFeedback(db).entries()
    assert (entry.comment, entry.right_answer) == ("It missed the value.", "£4 million")
    assert 'rag_feedback_total{channel="slack",rating="down"} 1.0' in client.get("/metrics").text


def test_forged_or_malformed_actions_store_nothing(make_service_client, stub_engine_cls, tmp_path) -> None:
    from rag.feedback import SQLiteFeedback

    db = tmp_path / "service.sqlite3"
    client = make_service_client(engine=stub_engine_cls(answer=_cited_answer()), slack_signing_secret=SECRET,
                                 service_db=db)
    message = post_command(client, command_body(PEPPA)).json()
    payload = _click(message, "feedback_up")
    body, headers = _action(payload)
    forged = {**headers, **sign(body, secret="not-the-secret")}
    assert client.post("/slack/actions", content=body, headers=forged).status_code == 401
    payload["actions"][0]["value"] = "not json"
    body, headers = _action(payload)
    assert client.post("/slack/actions", content=body, headers=headers).status_code == 400
    body = b"payload=%7Bnot-json"
    assert client.post("/slack/actions", content=body, headers={
        "content-type": "application/x-www-form-urlencoded", **sign(body)}).status_code == 400
    stale = {"type": "view_submission", "view": {"callback_id": "feedback_details", "private_metadata": "999"}}
    body, headers = _action(stale)
    assert client.post("/slack/actions", content=body, headers=headers).status_code == 400
    assert not db.exists() or SQLiteFeedback(db).entries() == []
