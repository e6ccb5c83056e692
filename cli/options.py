"""Options and helpers shared by several commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rag.settings import Settings

IndexOption = Annotated[
    Path | None, typer.Option("--index", help="Index folder (default: RAG_INDEX_DIR or ./index).")
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", help="postgresql://… to keep the index in that database (default: RAG_STORE; unset: files)."
    ),
]
TopKOption = Annotated[int, typer.Option("-k", "--top-k", help="Passages to retrieve.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the JSON body the HTTP API returns.")]


def settings_for(index: Path | None, store: str | None = None) -> Settings:
    return Settings.from_env(index_dir=index, store=store)


def on_terminal() -> bool:
    return sys.stderr.isatty()
