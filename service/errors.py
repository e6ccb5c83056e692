"""Every error leaves the service as the SPEC's body: `{"error": {"code": …, "message": …}}`.

One place maps exceptions to statuses so that no route invents its own shape:

- `RagError` (the core's error tree) → its own `http_status` and `code`;
- `RequestValidationError` → 400 for malformed JSON, 415 for a body that is not JSON at all,
  422 for anything that parsed but broke a rule (wrong type, out of range, unknown field);
- Starlette's `HTTPException` (unknown path, wrong method) → its status, SPEC body;
- anything else is a bug → 500 with a generic message, answered by
  `service.middleware.RequestContextMiddleware` (details go to the log, never to the client).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import ConfigError, RagError

log = logging.getLogger("rag.service")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}


class ServiceError(RagError):
    """An error the HTTP layer itself raises (the core's tree has no HTTP-only cases)."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.http_status = status
        self.code = code
        self.headers = dict(headers or {})


class NotReadyError(ServiceError):
    """The engine has not finished loading (or failed to): a 503 the client may retry."""

    def __init__(self, message: str, code: str = "not_ready") -> None:
        super().__init__(503, code, message, headers={"Retry-After": "5"})


def error_body(code: str, message: str, request_id: str | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if request_id:
        # Lets a user quote one id that finds the matching log line.
        error["request_id"] = request_id
    error.update(extra)
    return {"error": error}


def error_response(
    status: int,
    code: str,
    message: str,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, request_id, **extra), status_code=status, headers=dict(headers or {}))


def request_id_of(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def describe_validation_errors(
    errors: Sequence[Mapping[str, Any]], sent_json: bool = True
) -> tuple[int, str, str, list[dict]]:
    """(status, code, message, details) for a list of pydantic/FastAPI validation errors.

    `details` repeats location, message and type but never the offending input, which may be
    large or sensitive.
    """
    details = [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in errors
    ]
    types = {d["type"] for d in details}
    if "json_invalid" in types:
        return 400, "malformed_json", "The request body is not valid JSON.", details
    body_level = [d for d in details if d["loc"] == ["body"]]
    if not sent_json and body_level and body_level[0]["type"] in {"model_attributes_type", "dict_type"}:
        # FastAPI parses the body as JSON only when the content type says JSON; otherwise the
        # raw bytes arrive here and fail as "not an object".
        return (
            415,
            "unsupported_media_type",
            "Send a JSON object with 'Content-Type: application/json'.",
            details,
        )
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(part for part in first["loc"] if part != "body") or "body"
    more = f" (and {len(details) - 1} more problem(s))" if len(details) > 1 else ""
    return 422, "invalid_request", f"{where}: {first['msg']}{more}", details


async def _rag_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RagError)
    status = exc.http_status
    if isinstance(exc, ConfigError) or (status >= 500 and not isinstance(exc, ServiceError)):
        log.error("request failed: %s: %s", exc.code, exc.message, extra={"request_id": request_id_of(request)})
    headers = getattr(exc, "headers", None)
    return error_response(status, exc.code, exc.message, request_id_of(request), headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, code, message, details = describe_validation_errors(
        list(exc.errors()), sent_json=_is_json(request.headers.get("content-type"))
    )
    return error_response(status, code, message, request_id_of(request), details=details)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _STATUS_CODES.get(status, "error" if status < 500 else "internal_error")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return error_response(status, code, message, request_id_of(request), headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RagError, _rag_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
