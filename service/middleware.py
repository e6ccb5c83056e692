"""ASGI middleware: request ids, the access log and request metrics; the request body limit.

Pure ASGI (not `BaseHTTPMiddleware`) so that streaming, background tasks and exceptions behave
exactly as without it, and so that a response produced by another middleware (a 401, a 413)
is still counted and logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.logs import ACCESS_LOGGER
from service.metrics import ServiceMetrics

access_log = logging.getLogger(ACCESS_LOGGER)
log = logging.getLogger("rag.service")

# A caller-supplied id is kept (it ties our log line to the caller's) only when it is short and
# plain; anything else could be used to forge or garble log lines.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
UNMATCHED_ROUTE = "unmatched"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


CLIENT_CLOSED = 499


class RequestContextMiddleware:
    """Gives each request an id, then counts, times and logs it once it is answered."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = _header(scope, b"x-request-id")
        supplied_text = supplied.decode("latin-1") if supplied else ""
        request_id = supplied_text if _CLIENT_REQUEST_ID.match(supplied_text) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # A bug, not the client's fault. Answered here rather than by Starlette's outermost
            # error middleware so the 500 still carries the request id, is counted and logged.
            log.exception("unhandled error", extra={"request_id": request_id})
            if not response_started:
                await send_with_id(_error_message_start(500))
                await send_with_id(
                    {
                        "type": "http.response.body",
                        "body": _error_payload("internal_error", "Internal server error.", request_id),
                    }
                )
        finally:
            if not response_started:
                # Nothing was sent and nothing raised (or the task was cancelled): the client went
                # away before its answer. nginx's 499, so a client that hangs up is no 5xx alert.
                status = CLIENT_CLOSED
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            # The route template, not the raw path: /documents/{doc_id} is one series, and
            # random 404 paths cannot create new ones.
            route_obj = scope.get("route")
            route = getattr(route_obj, "path", None) or UNMATCHED_ROUTE
            method = scope.get("method", "")
            self.metrics.observe_request(route, method, status, elapsed)
            client = scope.get("client")
            access_log.info(
                "request",
                extra={
                    "event": "request",
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "path": scope.get("path", ""),  # never the query string: it may hold a question
                    "status": status,
                    "latency_ms": round(elapsed * 1000.0, 3),
                    "client": client[0] if client else None,
                },
            )


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, whether or not Content-Length is sent.

    The body is buffered (it is small by definition) and replayed to the app, so a route never
    sees a partial body and the Slack routes can still read the exact raw bytes they verify.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, body_timeout_s: float = 10.0) -> None:
        """`body_timeout_s`: the longest wait for the next piece of a body (408 after it), so a
        client that sends headers and then stalls cannot hold a connection and a task forever."""
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _reject(send, scope, 400, "bad_request", "Invalid Content-Length header.")
                return
            if length > self.max_bytes:
                await _reject(send, scope, 413, "payload_too_large", self._too_large())
                return
            if length == 0:
                await self.app(scope, receive, send)
                return
        elif _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body at all
            return

        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout=self.body_timeout_s)
            except TimeoutError:
                await _reject(send, scope, 408, "request_timeout", "The request body did not arrive in time.")
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _reject(send, scope, 413, "payload_too_large", self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect as usual

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"The request body is larger than {self.max_bytes} bytes."


def _error_payload(code: str, message: str, request_id: str | None) -> bytes:
    error: dict[str, str] = {"code": code, "message": message}
    if request_id:
        error["request_id"] = request_id
    return json.dumps({"error": error}).encode()


def _error_message_start(status: int, length: int | None = None, close: bool = False) -> Message:
    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    if close:
        headers.append((b"connection", b"close"))
    return {"type": "http.response.start", "status": status, "headers": headers}


async def _reject(send: Send, scope: Scope, status: int, code: str, message: str) -> None:
    body = _error_payload(code, message, scope.get("state", {}).get("request_id"))
    # The rest of an oversized body is never read: the connection cannot be reused.
    await send(_error_message_start(status, len(body), close=True))
    await send({"type": "http.response.body", "body": body})
