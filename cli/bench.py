"""`rag bench`: the performance benchmark (issue 6). Prints tables, writes bench.json.

    rag bench [--index DIR] [--out DIR] [--quick] [--skip-ingest] [--skip-inprocess]
              [--skip-http] [--skip-scale] [--only PART] [--scale-sizes N,N] [--scale-all]
              [--store postgresql://…]   (adds the PostgreSQL part, eval/bench/postgres.py)
    rag bench --only ingest-scale [--ingest-sizes 1000,5000] [--ingest-resume-at N]
              (news-corpus ingest at scale, eval/bench/ingest_scale.py: run only when named)

Also `python -m eval.bench [same options]`. What each part measures: eval/bench/*.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import IndexOption, StoreOption
from eval.bench import OPT_IN_PARTS, PARTS

Opt = typer.Option


def _sizes(
    value: str | None, what: str = "vector", example: str = "10000,100000", least: int = 100
) -> tuple[int, ...] | None:
    if not value:
        return None
    try:
        sizes = tuple(int(part.replace("_", "")) for part in value.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"a comma-separated list of {what} counts, e.g. {example}") from None
    if not sizes or min(sizes) < least:
        raise typer.BadParameter(f"each size must be at least {least}")
    return sizes


def bench_command(
    index: IndexOption = None,
    store: StoreOption = None,
    out: Annotated[Path, Opt("--out", help="Folder for bench.json and server.log.")] = Path("eval/out/bench"),
    quick: Annotated[bool, Opt("--quick", help="CI-sized: fewer texts, questions and sizes, 3 s load levels.")] = False,
    skip_ingest: Annotated[bool, Opt("--skip-ingest", help="Skip the embedding-rate and re-ingest part.")] = False,
    skip_inprocess: Annotated[bool, Opt("--skip-inprocess", help="Skip in-process search/ask latency.")] = False,
    skip_http: Annotated[bool, Opt("--skip-http", help="Skip the HTTP part (no rag serve process).")] = False,
    skip_scale: Annotated[bool, Opt("--skip-scale", help="Skip the synthetic 10k/100k/1M index part.")] = False,
    only: Annotated[
        list[str] | None,
        Opt("--only", help="Run only this part (repeatable): ingest, inprocess, http, scale, postgres (--store), "
            "ingest-scale (never run unless named)."),
    ] = None,
    scale_sizes: Annotated[
        str | None, Opt("--scale-sizes", help="Vector counts for the scale part (default 10000,100000,1000000).")
    ] = None,
    scale_all: Annotated[
        bool, Opt("--scale-all", help="Build every index type at every size (HNSW at 1M takes many minutes).")
    ] = False,
    ingest_sizes: Annotated[
        str | None,
        Opt("--ingest-sizes", help="Article counts for ingest-scale (default 1000,5000; --quick 40,80)."),
    ] = None,
    ingest_resume_at: Annotated[
        int | None,
        Opt("--ingest-resume-at",
            help="The ingest-scale size killed halfway and resumed (default the first; --quick 80; 0 none)."),
    ] = None,
) -> None:
    """Measure ingest rate, search/ask latency (in-process and over HTTP) and index scaling."""
    from eval.bench.report import print_report, write_json
    from eval.bench.runner import BenchOptions, run_bench

    unknown = sorted(set(only or ()) - set(PARTS))
    if unknown:
        raise typer.BadParameter(f"unknown part {', '.join(unknown)} (one of {', '.join(PARTS)})", param_hint="--only")
    skipped = {
        name for name, skip in
        (("ingest", skip_ingest), ("inprocess", skip_inprocess), ("http", skip_http), ("scale", skip_scale)) if skip
    }
    parts = tuple(p for p in PARTS if (p in only if only else p not in OPT_IN_PARTS) and p not in skipped)
    options = BenchOptions(
        index=index, out=out, quick=quick, parts=parts, scale_sizes=_sizes(scale_sizes), scale_all=scale_all,
        store=store, ingest_sizes=_sizes(ingest_sizes, "article", "1000,5000", least=10),
        ingest_resume_at=ingest_resume_at,
    )
    sizes = options.ingest_scale_options().sizes
    if ingest_resume_at and ingest_resume_at not in sizes:
        raise typer.BadParameter(f"not one of the ingest sizes {sizes}", param_hint="--ingest-resume-at")
    result = run_bench(options)
    path = write_json(result, out)
    print_report(result)
    typer.echo(f"wrote {path} ({result['duration_s']} s)")
    if result["errors"]:
        raise typer.Exit(1)
