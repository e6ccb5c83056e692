"""`rag serve`: serve the HTTP API, building the index from seeds/ first when there is none."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import IndexOption, StoreOption
from rag.protocols import Embedder
from rag.settings import Settings
from rag.store.index_files import index_exists

HostOption = Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0 for all).")]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port to listen on.")]


def serve_command(
    index: IndexOption = None,
    store: StoreOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Serve the HTTP API, the Slack endpoints and the staff page at http://HOST:PORT/."""
    settings = Settings.from_env(index_dir=index, store=store)
    ensure_index(settings)
    # Imported here so the other commands never pay for FastAPI and uvicorn.
    from service.server import run

    run(settings, host=host, port=port)


def ensure_index(settings: Settings, embedder: Embedder | None = None) -> bool:
    """Build the index from `settings.seeds_dir` when none exists; True when one was built.

    A fresh clone then serves the seed corpus with one command. An existing index, even a
    damaged one, is left alone: the service reports it on /readyz instead of silently
    replacing data someone built on purpose.
    """
    if settings.store:
        from rag.errors import StoreUnavailableError
        from rag.store.postgres.load import current_version

        try:
            if current_version(settings.store) is not None:
                return False
        except StoreUnavailableError:
            return False  # the service starts and says why on /readyz
    elif index_exists(settings.index_dir):
        return False
    from rag.ingest import ingest

    where = "in the store" if settings.store else f"at {settings.index_dir}"
    typer.echo(f"rag: no index {where}; building it from {settings.seeds_dir} …", err=True)
    summary = ingest(
        [settings.seeds_dir], settings, embedder=embedder, progress=typer.get_text_stream("stderr").isatty()
    )
    typer.echo(f"rag: {summary.line()}", err=True)
    return True
