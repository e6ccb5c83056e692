"""The application factory: settings in, a FastAPI app out.

    app = create_app(Settings.from_env())

Start-up (the lifespan) loads the engine once in a worker thread; shutdown lets Slack answers
in flight finish, then closes the outbound HTTP client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from starlette.middleware import Middleware

from rag.settings import Settings
from service import api, feedback, ops, page, slack
from service.auth import ApiKeyChecker, ApiKeyMiddleware
from service.errors import install_error_handlers
from service.metrics import ServiceMetrics
from service.middleware import BodyLimitMiddleware, RequestContextMiddleware
from service.openapi import install_openapi
from service.state import EngineFactory, ServiceState, default_engine_factory

DESCRIPTION = """Answers questions about the indexed news articles, citing the passage behind
every claim. Errors are `{"error": {"code", "message"}}`; with `RAG_API_KEYS` set, every route
except the probes, the staff page and the Slack routes needs `Authorization: Bearer <key>`."""


def create_app(
    settings: Settings,
    engine_factory: EngineFactory | None = None,
    *,
    slack_transport: httpx.AsyncBaseTransport | None = None,
    wait_for_engine: bool = False,
) -> FastAPI:
    """Build the app.

    `engine_factory(settings)` opens the engine (default: `rag.engine.RagEngine.open`).
    `slack_transport` replaces the network for Slack's `response_url` posts (tests).
    `wait_for_engine` makes start-up wait for the engine instead of loading it in the background
    (the default, so `/healthz` answers and `/readyz` reports 503 while a large index loads).
    """
    metrics = ServiceMetrics()
    state = ServiceState(settings, engine_factory or default_engine_factory, metrics)
    bot: slack.SlackBot | None = None
    if settings.slack_signing_secret:
        # Only Slack's late answers go out over HTTP; without Slack there is no client to build.
        http = httpx.AsyncClient(transport=slack_transport, timeout=10.0, follow_redirects=False)
        bot = slack.SlackBot(settings, state, metrics, http, slack.SlackSignature(settings.slack_signing_secret))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = asyncio.ensure_future(state.load_engine())
        if wait_for_engine:
            await loader
        watcher = asyncio.ensure_future(state.watch_index())
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if bot is not None:
                await bot.drain()
            if not loader.done():
                # The loading thread cannot be interrupted; stop waiting for it.
                loader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loader
            if bot is not None:
                await bot.http.aclose()

    checker = ApiKeyChecker(settings.api_keys)
    app = FastAPI(
        title="rag-news",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Outermost first: every response (a 401, a 413 included) gets a request id, a log line
        # and a metric; auth runs before the body is read.
        middleware=[
            Middleware(RequestContextMiddleware, metrics=metrics),
            Middleware(ApiKeyMiddleware, checker=checker),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, body_timeout_s=settings.body_timeout_s),
        ],
    )
    app.state.service = state
    app.state.slack = bot
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(feedback.router)
    app.include_router(ops.router)
    app.include_router(slack.router)
    app.include_router(page.router)
    install_openapi(app, auth_enabled=checker.enabled)
    return app
