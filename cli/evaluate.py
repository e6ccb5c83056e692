"""`rag eval`: run the benchmark (the question set or a BEIR dataset) and gate on its floors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def eval_command(
    questions: Annotated[
        Path | None,
        Opt(
            "--questions",
            help="Question file in our JSONL format (default: eval/questions.jsonl), or a benchmark folder "
            "(corpus.jsonl[.gz] + questions.jsonl, SPEC.md) scored on an index of its own corpus.",
        ),
    ] = None,
    benchmark: Annotated[
        list[Path] | None,
        Opt("--benchmark", help="A benchmark folder to score beside the question set (repeatable)."),
    ] = None,
    slice_every: Annotated[
        int, Opt("--slice", help="Keep every N-th benchmark question, and a corpus cut to match (CI runs 4).")
    ] = 1,
    cache: Annotated[
        Path, Opt("--cache", help="Where benchmark indexes are kept between runs.")
    ] = Path("eval/out/cache"),
    index: Annotated[Path | None, Opt("--index", help="Index folder (default: RAG_INDEX_DIR or ./index).")] = None,
    store: Annotated[
        str | None,
        Opt("--store", help="postgresql://… holding the index (default: RAG_STORE); a --questions benchmark "
            "is ingested into it (use a database of its own), --benchmark sets stay in --cache."),
    ] = None,
    out: Annotated[Path, Opt("--out", help="Folder for report.json, report.md and the plots.")] = Path("eval/out"),
    url: Annotated[
        str | None, Opt("--url", help="Score a running service (e.g. http://localhost:8000) instead of an index.")
    ] = None,
    api_key: Annotated[
        str | None, Opt("--api-key", envvar="RAG_EVAL_API_KEY", help="Bearer key for --url (or RAG_EVAL_API_KEY).")
    ] = None,
    beir: Annotated[
        Path | None, Opt("--beir", help="BEIR dataset folder: a throwaway index, retrieval metrics only.")
    ] = None,
    compare: Annotated[
        Path | None, Opt("--compare", help="An earlier report.json: print each metric's change.")
    ] = None,
    thresholds: Annotated[
        Path | None, Opt("--thresholds", help="Floors/ceilings JSON (default: eval/thresholds.json; none for --beir).")
    ] = None,
    ablate: Annotated[
        bool, Opt("--ablate", help="Rerun with each answer step or rule switched off in turn; print the changes.")
    ] = False,
    reader: Annotated[
        str | None, Opt("--reader", help="Override the composer: learned, cosine or rules.")
    ] = None,
    settings: Annotated[
        list[str] | None,
        Opt("--set", help="An answer setting to change for this run, KEY=VALUE (repeatable), "
            "e.g. --set sentence_margin=0.2."),
    ] = None,
    no_gate: Annotated[bool, Opt("--no-gate", help="Report only; never fail on thresholds.")] = False,
    k: Annotated[int, Opt("-k", "--top-k", help="Passages per /ask (the answer's top_k).")] = 5,
    search_k: Annotated[int, Opt("--search-k", help="Passages per /search for the retrieval metrics.")] = 20,
) -> None:
    """Run the benchmark; write report.json, report.md and plots; exit 1 when a metric misses its floor."""
    # Imported here so `rag --help` does not pay for the benchmark's imports.
    from eval.app import EvalOptions, run_eval
    from rag.answer.config import parse_overrides

    overrides = parse_overrides(settings or [])  # a bad KEY=VALUE: ConfigError, exit 2
    if reader:
        overrides["reader"] = reader

    code = run_eval(
        EvalOptions(
            questions=questions,
            benchmarks=tuple(benchmark or ()),
            slice_every=slice_every,
            cache=cache,
            index=index,
            store=store,
            out=out,
            url=url,
            api_key=api_key,
            beir=beir,
            compare=compare,
            thresholds=thresholds,
            gate=not no_gate,
            ablate=ablate,
            answer_overrides=overrides,
            k=k,
            search_k=search_k,
        )
    )
    if code:
        raise typer.Exit(code)
