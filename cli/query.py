"""`rag ask` and `rag search`: query the index from the command line."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.options import IndexOption, JsonFlag, StoreOption, TopKOption, settings_for
from rag.engine import RagEngine
from rag.types import Answer, SearchResult


def ask_command(
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    index: IndexOption = None,
    store: StoreOption = None,
    k: TopKOption = 5,
    as_json: JsonFlag = False,
) -> None:
    """Answer a question with citations to the articles it came from."""
    engine = RagEngine.open(settings_for(index, store))
    answer = engine.ask(question, top_k=k)
    typer.echo(json.dumps(answer.as_dict(), ensure_ascii=False, indent=2) if as_json else format_answer(answer))


def search_command(
    query: Annotated[str, typer.Argument(help="What to search for.")],
    index: IndexOption = None,
    store: StoreOption = None,
    k: TopKOption = 5,
    as_json: JsonFlag = False,
) -> None:
    """Print the ranked passages for a query."""
    engine = RagEngine.open(settings_for(index, store))
    result = engine.search(query, k=k)
    typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2) if as_json else format_hits(result))


def format_answer(answer: Answer) -> str:
    lines = [answer.answer, ""]
    if answer.abstained:
        lines[0] += f"  ({answer.reason})"
    for c in answer.citations:
        date = f", {c.published}" if c.published else ""
        lines.append(f"[{c.n}] {c.title}{date}")
        if c.url:
            lines.append(f"    {c.url}")
    return "\n".join(lines).rstrip()


def format_hits(result: SearchResult) -> str:
    if not result.hits:
        return "No passages found."
    blocks = []
    for rank, hit in enumerate(result.hits, start=1):
        date = f", {hit.published}" if hit.published else ""
        url = f"\n   {hit.url}" if hit.url else ""
        snippet = " ".join(hit.text.split())
        snippet = snippet if len(snippet) <= 300 else snippet[:297] + "..."
        blocks.append(f"{rank}. {hit.title}{date}  (score {hit.score:.3f}){url}\n   {snippet}")
    return "\n\n".join(blocks)
