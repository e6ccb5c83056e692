"""Bearer-key authentication for the API.

When `Settings.api_keys` is empty the service is open (a laptop, a private network). When set,
every route except the probes, the static staff page and the Slack routes (which carry Slack's
own signature instead) needs `Authorization: Bearer <one of the keys>`.

Implemented as ASGI middleware rather than a FastAPI dependency so that it runs before anything
looks at the request: an unauthenticated client learns nothing from body parsing errors, and
never makes us buffer a large body.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

# Probes must work for the orchestrator without credentials. The staff page is a static shell
# with no data in it (a browser cannot attach a Bearer header to a navigation); the page asks
# the user for a key and sends it on every API call it makes.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/"})
SLACK_PREFIX = "/slack/"


def is_exempt(path: str) -> bool:
    return path in EXEMPT_PATHS or path.startswith(SLACK_PREFIX)


class ApiKeyChecker:
    def __init__(self, keys: tuple[str, ...]) -> None:
        self._keys = tuple(k.encode() for k in keys if k)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def check(self, authorization: bytes | None) -> bool:
        """True when the header carries a configured key.

        Compares against every key with `hmac.compare_digest` and without stopping early, so
        timing reveals neither which key matched nor how much of a guess was right.
        """
        if not authorization:
            return False
        scheme, _, token = authorization.strip().partition(b" ")
        if scheme.lower() != b"bearer":
            return False
        token = token.strip()
        if not token:
            return False
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(token, key)
        return matched


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, checker: ApiKeyChecker) -> None:
        self.app = app
        self.checker = checker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.checker.enabled or is_exempt(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), None)
        if self.checker.check(header):
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        error: dict[str, str] = {
            "code": "unauthorized",
            "message": "A valid API key is required: send 'Authorization: Bearer <key>'.",
        }
        if request_id:
            error["request_id"] = request_id
        body = json.dumps({"error": error}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="rag"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
