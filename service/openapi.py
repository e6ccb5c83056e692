"""What the OpenAPI document says beyond what FastAPI infers: every error status a route can
return, and the Bearer scheme when API keys are configured.

The schemathesis test checks responses against this document, so a route that starts returning
an undocumented status fails the suite.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.auth import is_exempt
from service.schemas import ErrorResponse

Responses = dict[int | str, dict[str, Any]]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


UNAUTHORIZED: Responses = {401: _error("Missing or unknown API key (only when RAG_API_KEYS is set)")}
NOT_READY: Responses = {503: _error("The index is still loading or is unavailable (retry later)")}
INVALID: Responses = {422: _error("A parameter breaks a rule: wrong type, out of range, unknown field")}
INTERNAL: Responses = {500: _error("An unexpected fault on our side (a bug); the body carries a request id")}
JSON_BODY: Responses = {
    400: _error(
        "Malformed JSON, a question the engine cannot use, or filters it cannot (published_from after published_to)"
    ),
    413: _error("The body is larger than the limit (64 KiB by default)"),
    415: _error("The body is not JSON (send Content-Type: application/json)"),
}
SLACK: Responses = {
    400: _error("Correctly signed, but not a payload Slack would send"),
    401: _error("Missing, malformed, stale or wrong Slack signature"),
    404: _error("The Slack integration is not configured here (no SLACK_SIGNING_SECRET): every Slack route is 404"),
    413: _error("The body is larger than the limit"),
    **INTERNAL,
}

ASK_RESPONSES: Responses = {
    **JSON_BODY,
    **UNAUTHORIZED,
    **INVALID,
    502: _error("The configured LLM failed and no fallback was possible"),
    **NOT_READY,
    **INTERNAL,
}
SEARCH_RESPONSES: Responses = {
    400: _error("A query the engine cannot use, or filters it cannot (published_from after published_to)"),
    **UNAUTHORIZED,
    **INVALID,
    **NOT_READY,
    **INTERNAL,
}
DOCUMENTS_RESPONSES: Responses = {**UNAUTHORIZED, **INVALID, **NOT_READY, **INTERNAL}
DOCUMENT_RESPONSES: Responses = {
    200: {
        "description": "JSON for API clients; an HTML page with the `hl` spans marked for `Accept: text/html`",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    400: _error("An `hl` range that is not START-END inside the document's text"),
    **UNAUTHORIZED,
    404: _error("No document with this id in the index"),
    **INVALID,
    **NOT_READY,
    **INTERNAL,
}

FEEDBACK_RESPONSES: Responses = {
    **JSON_BODY,
    **UNAUTHORIZED,
    **INVALID,
    503: _error("The feedback database cannot be written right now (nothing was stored; retry)"),
    **INTERNAL,
}

BEARER_SCHEME = "bearerAuth"


def install_openapi(app: FastAPI, *, auth_enabled: bool) -> None:
    """Generate the schema once, adding the Bearer scheme to every protected operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        if auth_enabled:
            schema.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER_SCHEME] = {
                "type": "http",
                "scheme": "bearer",
                "description": "One of the keys in RAG_API_KEYS",
            }
            for path, operations in schema.get("paths", {}).items():
                if is_exempt(path):
                    continue
                for operation in operations.values():
                    operation["security"] = [{BEARER_SCHEME: []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
