"""uvicorn's HTTP protocol (httptools) with a bound on the request head and JSON parser errors.

uvicorn reads request headers without limit (a 64 MB header was accepted: 130 MB of memory, 8 s of
CPU) and answers a request it cannot parse with plain text. Here a head larger than
`MAX_HEAD_BYTES` gets 431, a head still incomplete after `head_timeout_s` 408 (a client cannot hold
a connection open by trickling headers), and a malformed request 400, all in SPEC.md's JSON error
shape, and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Request line plus headers. Browsers and Slack send a few KB; nginx's default is 8 KB per line.
MAX_HEAD_BYTES = 32 * 1024
LINGER_S = 1.0


class BoundedHttpProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    head_timeout_s = 10.0  # `with_timeout` makes a subclass with the configured value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = None

    @classmethod
    def with_timeout(cls, seconds: float) -> type[BoundedHttpProtocol]:
        return type(cls.__name__, (cls,), {"head_timeout_s": seconds})

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _start_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self._refused or self.transport.is_closing():
            return
        if self._head_bytes:
            self._send_error(408, "request_timeout", "The request headers did not arrive in time.")
        else:
            self.transport.close()  # connected and silent: nothing to answer

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # what the client still sends after its refusal is read and dropped
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self.logger.warning("request head over %d bytes: refused", self.max_head_bytes)
                self._send_error(431, "headers_too_large", f"The request headers exceed {self.max_head_bytes} bytes.")
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0  # the next request on this connection
        self._start_head_timer()

    def send_400_response(self, msg: str) -> None:
        self._send_error(400, "bad_request", "The request is not valid HTTP.")

    def _send_error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        ).encode("ascii")
        self.transport.write(head + body)
        # Closing at once with the client's bytes still unread makes the kernel send a reset, and the
        # client would lose the answer; read and drop for a moment, then close.
        self._refused = True
        self.loop.call_later(LINGER_S, self.transport.close)
