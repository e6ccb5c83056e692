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
from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from slack_sdk import WebClient
from slack_sdk.signature import Clock, SignatureVerifier
from starlette.concurrency import run_in_threadpool

from rag.errors import RagError
from rag.feedback import MAX_ANSWER_CHARS, MAX_TEXT_CHARS, Feedback
from rag.settings import Settings
from rag.threads import ThreadMemory, open_threads, with_context
from rag.types import Answer
from service import openapi as docs
from service.errors import ServiceError
from service.metrics import ServiceMetrics
from service.schemas import SlackEventAck, SlackMessage
from service.slack_format import FEEDBACK_ACTIONS, answer_message, escape, notice_message
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
        self._thread_memory: ThreadMemory | None = None  # opened on first use
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
        kind = event.get("type")
        if kind not in ("app_mention", "message") or event.get("bot_id") or event.get("subtype"):
            # Bot messages (our own replies included) and edits/deletions are never answered.
            self.metrics.slack.labels("event", "ignored").inc()
            return {"ok": True}
        channel, ts = event.get("channel"), event.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            raise ServiceError(400, "bad_slack_payload", "An event without channel or ts.")
        in_thread = isinstance(event.get("thread_ts"), str)
        thread_ts = event["thread_ts"] if in_thread else ts
        text = event.get("text") if isinstance(event.get("text"), str) else ""
        thread = _thread_key(payload, channel, thread_ts)
        # A plain message is answered only in a thread we answered in; one that mentions us also
        # arrives as an app_mention, which answers it.
        if kind == "message" and (not in_thread or _MENTION.search(text) or await self._recall(thread) is None):
            self.metrics.slack.labels("event", "ignored").inc()
            return {"ok": True}
        question = _MENTION.sub(" ", text).strip()
        self._spawn(self._answer_in_thread(channel, thread_ts, question, thread if in_thread else None, thread))
        self.metrics.slack.labels("event", "accepted").inc()
        return {"ok": True}

    async def action(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """A 👍/👎 button on an answer, or the 👎 details form: stored as feedback."""
        kind = payload.get("type")
        if kind == "block_actions":
            return await self._feedback_click(payload)
        if kind == "view_submission" and _get(payload, "view", "callback_id") == FEEDBACK_VIEW:
            return await self._feedback_details(payload)
        self.metrics.slack.labels("action", "ignored").inc()
        return None

    async def _feedback_click(self, payload: Mapping[str, Any]) -> None:
        actions = payload.get("actions")
        action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
        if action.get("action_id") not in FEEDBACK_ACTIONS:
            self.metrics.slack.labels("action", "ignored").inc()
            return None
        try:
            value = json.loads(action.get("value") or "")
            answer_text = _get(payload, "message", "text")
            entry = Feedback(
                rating="up" if action["action_id"] == "feedback_up" else "down",
                question=str(value["q"]), answer=str(answer_text or "")[:MAX_ANSWER_CHARS], mode=str(value["m"]),
                index_version=str(value["v"]), citations=tuple({"doc_id": str(d)} for d in value.get("d", [])[:5]),
                channel="slack",
            )
        except (ValueError, KeyError, TypeError, AttributeError, RagError) as exc:
            raise ServiceError(400, "bad_slack_payload", "A feedback button without the answer it rates.") from exc
        entry_id = await self.state.record_feedback(entry)
        self.metrics.feedback.labels(entry.rating, "slack").inc()
        self.metrics.slack.labels("action", entry.rating).inc()
        trigger = payload.get("trigger_id")
        if entry.rating == "down" and self.web is not None and isinstance(trigger, str):
            # Within Slack's 3 s for a trigger: ask what was wrong (optional; the 👎 is stored already).
            self._spawn(self._open_details_form(trigger, entry_id))
        response_url = payload.get("response_url")
        if allowed_response_url(response_url):
            thanks = notice_message(f"Thank you: your {'👍' if entry.rating == 'up' else '👎'} is recorded.")
            self._spawn(self._post_response_url(str(response_url), {**_ephemeral(thanks), "replace_original": False}))
        return None

    async def _feedback_details(self, payload: Mapping[str, Any]) -> None:
        try:
            entry_id = int(_get(payload, "view", "private_metadata"))
            values = _get(payload, "view", "state", "values") or {}
            comment = _get(values, "comment", "text", "value")
            right = _get(values, "right_answer", "text", "value")
            await self.state.amend_feedback(entry_id, comment or None, right or None)
        except (ValueError, TypeError) as exc:
            raise ServiceError(400, "bad_slack_payload", "A feedback form without its entry.") from exc
        except RagError as exc:
            raise ServiceError(400, "bad_slack_payload", exc.message) from exc
        self.metrics.slack.labels("action", "details").inc()
        return None

    async def _open_details_form(self, trigger_id: str, entry_id: int) -> None:
        web = self.web
        assert web is not None
        try:
            await run_in_threadpool(partial(web.views_open, trigger_id=trigger_id, view=details_view(entry_id)))
        except Exception as exc:  # the 👎 itself is stored; the details are optional
            log.warning("views.open failed: %s", type(exc).__name__)

    # -- background work ------------------------------------------------------------------

    async def _compose(self, question: str, context: str | None = None) -> Message:
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
        return answer_message(answer, self.settings.public_url, context=context)

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

    async def _answer_in_thread(
        self, channel: str, thread_ts: str, question: str, asked_in: str | None, thread: str
    ) -> None:
        """Answer in the thread; `asked_in`: the thread the question was asked in (None at the top
        level), whose earlier question is context for this one. The question answered is
        remembered as the thread's context for the next."""
        if not question:
            await self._post_message(channel, thread_ts, notice_message(HELP.replace("/ask", "@me")))
            return
        earlier = await self._recall(asked_in) if asked_in else None
        effective = with_context(question, earlier) if earlier else question
        message = await self._compose(effective, context=earlier if effective != question else None)
        await self._post_message(channel, thread_ts, message)
        try:
            await to_thread.run_sync(self._threads().remember, thread, effective)
        except RagError as exc:
            log.warning("thread context not stored: %s", exc.message)

    async def _recall(self, thread: str) -> str | None:
        try:
            return await to_thread.run_sync(self._threads().recall, thread)
        except RagError as exc:
            log.warning("thread context not read: %s", exc.message)
            return None

    def _threads(self) -> ThreadMemory:
        if self._thread_memory is None:
            self._thread_memory = open_threads(self.settings)
        return self._thread_memory

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


def _thread_key(payload: Mapping[str, Any], channel: str, thread_ts: str) -> str:
    team = payload.get("team_id")
    return f"{team if isinstance(team, str) else ''}:{channel}:{thread_ts}"


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


FEEDBACK_VIEW = "feedback_details"


def details_view(entry_id: int) -> dict[str, Any]:
    """The form a 👎 opens: what was wrong, and the right answer (both optional)."""
    def field(block_id: str, label: str, multiline: bool) -> dict[str, Any]:
        return {
            "type": "input", "block_id": block_id, "optional": True,
            "label": {"type": "plain_text", "text": label},
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": multiline,
                        "max_length": MAX_TEXT_CHARS},
        }

    return {
        "type": "modal", "callback_id": FEEDBACK_VIEW, "private_metadata": str(entry_id),
        "title": {"type": "plain_text", "text": "What was wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [field("comment", "What was wrong", True), field("right_answer", "The right answer", False)],
    }


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


@router.post(
    "/actions",
    responses=docs.SLACK,
    summary="Slack interactivity: the 👍/👎 buttons on answers and the 👎 details form",
    openapi_extra={
        "parameters": _SIGNATURE_HEADERS,
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {"payload": {"type": "string"}}}
                }
            },
        },
    },
)
async def actions(request: Request, bot: BotDep) -> Response:
    body = await request.body()
    bot.verify(request, body)
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
        payload = json.loads(parsed["payload"][0])
    except (ValueError, KeyError, IndexError, RecursionError) as exc:
        raise ServiceError(400, "bad_slack_payload", "The body is not an interaction payload.") from exc
    if not isinstance(payload, dict):
        raise ServiceError(400, "bad_slack_payload", "The payload is not a JSON object.")
    reply = await bot.action(payload)
    # Slack wants an empty 200 (a view_submission closes its form on it).
    return JSONResponse(reply) if reply else Response(status_code=200)
