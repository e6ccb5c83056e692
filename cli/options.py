"""Options and helpers shared by several commands."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from rag.settings import Settings

IndexOption = typer.Option(None, "--index", help="Index folder (default: RAG_INDEX_DIR or ./index).")


def settings_for(index: Path | None) -> Settings:
    return Settings.from_env(index_dir=index)


def on_terminal() -> bool:
    return sys.stderr.isatty()
