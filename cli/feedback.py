"""`rag feedback export|stats`: what users said about answers, for the people who tune the system."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.options import IndexOption, JsonFlag, StoreOption, settings_for

app = typer.Typer(help="Feedback on answers: export the 👎 with a right answer as test questions, or print rates.",
                  no_args_is_help=True)


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="The question file to write (JSONL, `rag eval --questions`).")],
    index: IndexOption = None,
    store: StoreOption = None,
) -> None:
    """Write every 👎 that carries a right answer as a question `rag eval --questions FILE` scores."""
    from eval.feedback import export_questions
    from rag.feedback import open_feedback
    from rag.store.index_files import load_index

    settings = settings_for(index, store)
    entries = open_feedback(settings).entries()
    if settings.store:
        from rag.store.postgres.load import load_version

        documents = load_version(settings.store).documents
    else:
        documents = load_index(settings.index_dir).documents
    questions, left_out = export_questions(entries, documents)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    tmp.replace(out)
    typer.echo(f"{len(questions)} questions written to {out} (from {len(entries)} feedback entries)")
    for entry in left_out:
        typer.echo(f"left out feedback #{entry.id}: no indexed article contains its right answer", err=True)


@app.command("stats")
def stats_command(index: IndexOption = None, store: StoreOption = None, as_json: JsonFlag = False) -> None:
    """👍/👎 counts and the 👎 rate per week and per index version."""
    from rag.feedback import open_feedback, stats

    figures = stats(open_feedback(settings_for(index, store)).entries())
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
        return
    for title, key in (("per week", "by_week"), ("per index version", "by_index_version")):
        typer.echo(f"feedback {title}:")
        typer.echo(f"  {'':<18} {'entries':>7} {'up':>5} {'down':>5} {'down rate':>9} {'right answers':>13}")
        for row in figures[key]:
            typer.echo(f"  {row['key']:<18} {row['entries']:>7} {row['up']:>5} {row['down']:>5} "
                       f"{row['down_rate']:>9.1%} {row['with_right_answer']:>13}")
        if not figures[key]:
            typer.echo("  (none yet)")
