"""`rag ingest`: parse, chunk, embed and write the index."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.options import IndexOption, on_terminal, settings_for
from rag.ingest import ingest


def ingest_command(
    paths: list[Path] = typer.Argument(None, help="Files or folders to ingest (default: seeds/)."),
    index: Path | None = IndexOption,
    prune: bool = typer.Option(False, "--prune", help="Drop documents whose files are gone."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Parse files into documents, chunk, embed and write the index (incremental)."""
    settings = settings_for(index)
    summary = ingest(paths or [settings.seeds_dir], settings, prune=prune, progress=on_terminal())
    typer.echo(json.dumps(summary.as_dict()) if as_json else summary.line())
