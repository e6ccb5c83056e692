"""`rag ingest`: parse, chunk, embed and write the index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.options import IndexOption, JsonFlag, StoreOption, on_terminal, settings_for
from rag.ingest import ingest


def ingest_command(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders to ingest (default: seeds/).")] = None,
    index: IndexOption = None,
    store: StoreOption = None,
    prune: Annotated[bool, typer.Option("--prune", help="Drop documents whose files are gone.")] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Replace an index that cannot be read (it is refused otherwise).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Parse files into documents, chunk, embed and write the index (incremental)."""
    settings = settings_for(index, store)
    # A bar on a terminal; in a log, a line a minute.
    terminal = on_terminal()
    summary = ingest(
        paths or [settings.seeds_dir], settings, prune=prune, progress=terminal, rebuild=rebuild,
        progress_log_s=None if terminal else 60.0,
    )
    typer.echo(json.dumps(summary.as_dict()) if as_json else summary.line())
