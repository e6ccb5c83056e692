"""The Slack bot: a slash command and the Events API, both verified by Slack's signature.

- Every request is checked against `X-Slack-Signature` / `X-Slack-Request-Timestamp` over the
  exact raw body, with a 5-minute window against replays. Anything malformed is a 401: the
  verifier in slack_sdk raises on some inputs (a non-numeric timestamp, a body that is not
  UTF-8, a non-ASCII signature), and those are caught here, never a 500.
- Slack wants an answer within 3 seconds. A slash command gets its answer inline when the
  engine is quick (within `slack_ack_budget_s`); otherwise the command is acknowledged at once
  and the answer follows through the command's `response_url` (only Slack's hooks host is
  accepted) or, failing that, `chat.postMessage`. Events are always acknowledged at once and
  answered in the thread with `chat.postMessage`.
- Slack retries an event it thinks was not acknowledged; retries carry the same `event_id`
  and are answered only once. Messages from bots (ourselves included) are never answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import partial
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from slack_sdk import WebClient
from slack_sdk.signature import Clock, SignatureVerifier
from starlette.concurrency import run_in_threadpool

from rag.errors import RagError
from rag.settings import Settings
from rag.types import Answer
from service import openapi as docs
from service.errors import ServiceError
from service.metrics import ServiceMetrics
from service.schemas import SlackEventAck, SlackMessage
from service.slack_format import answer_message, escape, notice_message
from service.state import ServiceState

log = logging.getLogger("rag.slack")

SIGNATURE_WINDOW_S = 5 * 60
RESPONSE_URL_HOST = "hooks.slack.com"
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")

HELP = "Ask me about the news archive, e.g. `/ask How much was Alibaba fined?`"

Message = dict[str, Any]
Deliver = Callable[[Message], Awaitable[None]]


class SlackSignature:
    """Slack's request signature check, total: every input gives True or False, never raises."""

    def __init__(self, signing_secret: str, clock: Clock | None = None) -> None:
        self._clock = clock or Clock()
        self._verifier = SignatureVerifier(signing_secret, clock=self._clock)

    def verify(self, body: bytes, timestamp: str | None, signature: str | None) -> bool:
        # Pre-checks turn the inputs that make slack_sdk raise into a plain "no".
        if not timestamp or not signature:
            return False
        if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
            return False
        if abs(self._clock.now() - int(timestamp)) > SIGNATURE_WINDOW_S:
            return False
        try:
            return bool(self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature))
        except (ValueError, TypeError, UnicodeDecodeError):
            return False


class RecentIds:
    """Remembers ids for `ttl_s` seconds (at most `max_items`, oldest dropped first)."""

    def __init__(
        self, max_items: int = 10_000, ttl_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._max = max_items
        self._ttl = ttl_s
        self._clock = clock

    def check_and_add(self, key: str) -> bool:
        """True if `key` was seen within the TTL; otherwise records it and returns False."""
        now = self._clock()
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at <= self._ttl and len(self._seen) < self._max:
                break
            self._seen.pop(oldest)
        if key in self._seen:
            return True
        self._seen[key] = now
        return False

    def __len__(self) -> int:
        return len(self._seen)


def allowed_response_url(url: object) -> bool:
    """Only `https://hooks.slack.com/...`: a forged command must not make us POST elsewhere."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.hostname == RESPONSE_URL_HOST
        and "@" not in parts.netloc
        and port in (None, 443)
        and parts.path.startswith("/")
    )


class SlackBot:
    def __init__(
        self,
        settings: Settings,
        state: ServiceState,
        metrics: ServiceMetrics,
        http: httpx.AsyncClient,
        signature: SlackSignature,
        web_client: WebClient | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.metrics = metrics
        self.http = http
        self.signature = signature
        self.recent_events = RecentIds()
        # Slash commands seen within the signature window: a replayed signed request is answered once.
        self.recent_commands = RecentIds(ttl_s=600.0)
        self._tasks: set[asyncio.Task[None]] = set()
        if web_client is None and settings.slack_bot_token:
            base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
            web_client = WebClient(token=settings.slack_bot_token, base_url=base_url, timeout=10)
        self.web = web_client

    # -- requests -------------------------------------------------------------------------

    def verify(self, request: Request, body: bytes) -> None:
        ok = self.signature.verify(
            body,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
        )
        if not ok:
            self.metrics.slack.labels("signature", "rejected").inc()
            raise ServiceError(401, "bad_signature", "The Slack signature is missing, stale or wrong.")

    async def command(self, form: Mapping[str, str]) -> Message:
        """The reply to a slash command: the answer itself, or an acknowledgement."""
        if form.get("ssl_check") == "1":  # Slack's certificate probe: nothing to answer
            return {"response_type": "ephemeral", "text": ""}
        question = form.get("text", "").strip()
        if not question:
            self.metrics.slack.labels("command", "help").inc()
            return _ephemeral(notice_message(HELP))
        if len(question) > self.settings.max_question_chars:
            self.metrics.slack.labels("command", "rejected").inc()
            return _ephemeral(
                notice_message(f"That question is too long (at most {self.settings.max_question_chars} characters).")
            )
        if self.state.engine is None:
            self.metrics.slack.labels("command", "not_ready").inc()
            return _ephemeral(notice_message("I am still loading the news archive; try again in a minute."))

        task = asyncio.ensure_future(self._compose(question))
        done, _ = await asyncio.wait({task}, timeout=self.settings.slack_ack_budget_s)
        if task in done:
            self.metrics.slack.labels("command", "answered").inc()
            return {"response_type": "in_channel", **task.result()}

        deliver = self._delivery_for_command(form)
        if deliver is None:
            # Nowhere to send a late answer: let it finish (and be discarded) in the background.
            self._track(task)
            self.metrics.slack.labels("command", "undeliverable").inc()
            return _ephemeral(notice_message("Sorry, that is taking too long; please try again."))
        self._spawn(self._deliver_later(task, deliver))
        self.metrics.slack.labels("command", "deferred").inc()
        return _ephemeral(notice_message("Looking that up…"))

    async def event(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The reply to an Events API request; any answer is posted in the background."""
        kind = payload.get("type")
        if kind == "url_verification":
            challenge = payload.get("challenge")
            if not isinstance(challenge, str):
                raise ServiceError(400, "bad_slack_payload", "url_verification without a challenge.")
            return {"challenge": challenge}
        if kind != "event_callback":
            self.metrics.slack.labels("event", "ignored").inc()
            return {"ok": True}
        event = payload.get("event")
        if not isinstance(event, dict):
            raise ServiceError(400, "bad_slack_payload", "event_callback without an event.")
        event_id = payload.get("event_id")
        if isinstance(event_id, str) and self.recent_events.check_and_add(event_id):
            self.metrics.slack.labels("event", "duplicate").inc()
            return {"ok": True}
        if event.get("type") != "app_mention" or event.get("bot_id") or event.get("subtype"):
            # Bot messages (our own replies included) and edits/deletions are never answered.
            self.metrics.slack.labels("event", "ignored").inc()
            return {"ok": True}
        channel, ts = event.get("channel"), event.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            raise ServiceError(400, "bad_slack_payload", "app_mention without channel or ts.")
        thread_ts = event.get("thread_ts") if isinstance(event.get("thread_ts"), str) else ts
        text = event.get("text") if isinstance(event.get("text"), str) else ""
        question = _MENTION.sub(" ", text).strip()
        self._spawn(self._answer_in_thread(channel, thread_ts, question))
        self.metrics.slack.labels("event", "accepted").inc()
        return {"ok": True}

    # -- background work ------------------------------------------------------------------

    async def _compose(self, question: str) -> Message:
        """The answer as a Slack message; failures become a message too (never an exception)."""
        engine = self.state.engine
        if engine is None:
            return notice_message("I am still loading the news archive; try again in a minute.")
        try:
            answer: Answer = await self.state.run_engine(partial(engine.ask, question, top_k=self.settings.top_k))
        except RagError as exc:
            return notice_message(f"Sorry, I could not answer that: {escape(exc.message)}")
        except Exception:
            log.exception("slack answer failed")
            return notice_message("Sorry, something went wrong on my side; please try again later.")
        self.metrics.observe_answer(answer)
        return answer_message(answer, self.settings.public_url)

    async def _deliver_later(self, task: asyncio.Future[Message], deliver: Deliver) -> None:
        message = await task
        await deliver(message)

    def _delivery_for_command(self, form: Mapping[str, str]) -> Deliver | None:
        response_url = form.get("response_url")
        if allowed_response_url(response_url):
            return partial(self._post_response_url, str(response_url))
        if response_url:
            log.warning("refusing a response_url outside %s", RESPONSE_URL_HOST)
        channel = form.get("channel_id")
        if self.web is not None and channel:
            return partial(self._post_message, channel, None)
        return None

    async def _post_response_url(self, url: str, message: Message) -> None:
        body = {"response_type": "in_channel", "replace_original": False, **message}
        try:
            response = await self.http.post(url, json=body)
        except httpx.HTTPError as exc:
            self.metrics.slack.labels("delivery", "failed").inc()
            log.warning("response_url delivery failed: %s", type(exc).__name__)
            return
        if response.status_code >= 400:
            self.metrics.slack.labels("delivery", "failed").inc()
            log.warning("response_url delivery failed", extra={"status": response.status_code})
            return
        self.metrics.slack.labels("delivery", "delivered").inc()

    async def _post_message(self, channel: str, thread_ts: str | None, message: Message) -> None:
        web = self.web
        if web is None:
            self.metrics.slack.labels("delivery", "no_token").inc()
            log.warning("cannot post to Slack: no bot token configured (SLACK_BOT_TOKEN)")
            return
        try:
            await run_in_threadpool(
                partial(
                    web.chat_postMessage,
                    channel=channel,
                    thread_ts=thread_ts,
                    text=message["text"],
                    blocks=message.get("blocks"),
                    unfurl_links=False,
                    unfurl_media=False,
                )
            )
        except Exception as exc:  # SlackApiError, URLError, timeouts: log and move on
            self.metrics.slack.labels("delivery", "failed").inc()
            log.warning("chat.postMessage failed: %s", type(exc).__name__)
            return
        self.metrics.slack.labels("delivery", "delivered").inc()

    async def _answer_in_thread(self, channel: str, thread_ts: str, question: str) -> None:
        message = notice_message(HELP.replace("/ask", "@me")) if not question else await self._compose(question)
        await self._post_message(channel, thread_ts, message)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._track(asyncio.ensure_future(coro))

    def _track(self, task: asyncio.Future[Any]) -> None:
        # Keep a reference (the loop only holds weak ones) until the task is done.
        self._tasks.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._tasks.discard)  # type: ignore[arg-type]

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for answers in flight (e.g. at shutdown), then cancel what is left."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()


def _ephemeral(message: Message) -> Message:
    return {"response_type": "ephemeral", **message}


# -- routes -------------------------------------------------------------------------------

router = APIRouter(prefix="/slack", tags=["slack"])

_SIGNATURE_HEADERS = [
    {
        "name": "X-Slack-Signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "v0=<hex HMAC-SHA256 of 'v0:<timestamp>:<raw body>' with the signing secret>",
    },
    {
        "name": "X-Slack-Request-Timestamp",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "Unix time the request was sent; older than 5 minutes is refused",
    },
]


async def get_bot(request: Request) -> SlackBot:  # async: no thread hop (see service.deps)
    bot: SlackBot | None = request.app.state.slack
    if bot is None:
        raise ServiceError(404, "slack_disabled", "The Slack integration is not configured (set SLACK_SIGNING_SECRET).")
    return bot


BotDep = Annotated[SlackBot, Depends(get_bot)]


@router.post(
    "/commands",
    response_model=SlackMessage,
    responses=docs.SLACK,
    summary="Slack slash command",
    openapi_extra={
        "parameters": _SIGNATURE_HEADERS,
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "text": {"type": "string"},
                            "command": {"type": "string"},
                            "response_url": {"type": "string"},
                            "channel_id": {"type": "string"},
                            "user_id": {"type": "string"},
                        },
                    }
                }
            },
        },
    },
)
async def slash_command(request: Request, bot: BotDep) -> JSONResponse:
    body = await request.body()
    bot.verify(request, body)
    try:
        # Already verified, so it is what Slack sent; a bound on fields still costs nothing.
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except ValueError as exc:
        raise ServiceError(400, "bad_slack_payload", "The body is not a form Slack would send.") from exc
    form = {key: values[0] for key, values in parsed.items() if values}
    # Each invocation carries its own trigger_id; the same one again (or, without one, the same
    # signed body and timestamp) is a replay of a request already answered.
    replay_key = form.get("trigger_id") or request.headers.get("x-slack-signature", "")
    if replay_key and bot.recent_commands.check_and_add(replay_key):
        bot.metrics.slack.labels("command", "duplicate").inc()
        return JSONResponse(_ephemeral(notice_message("That request was already answered.")))
    return JSONResponse(await bot.command(form))


@router.post(
    "/events",
    response_model=SlackEventAck,
    response_model_exclude_none=True,
    responses=docs.SLACK,
    summary="Slack Events API (url_verification, app_mention)",
    openapi_extra={
        "parameters": _SIGNATURE_HEADERS,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def events(request: Request, bot: BotDep) -> JSONResponse:
    body = await request.body()
    bot.verify(request, body)
    try:
        payload = json.loads(body)
    except ValueError as exc:  # includes a body that is not UTF-8
        raise ServiceError(400, "bad_slack_payload", "The body is not JSON.") from exc
    except RecursionError as exc:  # signed, but nested deeper than any event Slack sends
        raise ServiceError(400, "bad_slack_payload", "The body is nested too deeply.") from exc
    if not isinstance(payload, dict):
        raise ServiceError(400, "bad_slack_payload", "The body is not a JSON object.")
    return JSONResponse(await bot.event(payload))
