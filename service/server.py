"""Serving the app with uvicorn (what `rag serve` calls)."""

from __future__ import annotations

import uvicorn

from rag.settings import Settings
from service.app import create_app
from service.logs import configure_logging
from service.protocol import BoundedHttpProtocol
from service.state import EngineFactory


def run(
    settings: Settings, host: str = "127.0.0.1", port: int = 8000, engine_factory: EngineFactory | None = None
) -> None:
    """Serve until interrupted. Logs are JSON lines on stderr; uvicorn's own access log is off
    because our middleware writes one structured line per request instead."""
    configure_logging(settings.log_level)
    app = create_app(settings, engine_factory)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # keep the JSON handler configure_logging installed
        access_log=False,
        # Slack and the staff page wait on answers; give those in flight time to finish.
        timeout_graceful_shutdown=15,
        server_header=False,
        # Bounds on what a client can hold: connections and tasks at once (more get 503), and how
        # long an idle keep-alive connection stays open.
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=5,
        # A bounded request head (431 over 32 KB, 408 when it trickles in), parser errors in JSON.
        http=BoundedHttpProtocol.with_timeout(settings.body_timeout_s),
    )
