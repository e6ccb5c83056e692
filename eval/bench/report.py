"""bench.json and the printed tables; the issue's targets, each with the measured figure next to it.

Targets are reported, never asserted: a missed target is a line in the table (and `"met": false`
in the JSON), not a failing exit status, because timings on a shared machine vary with its load.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def write_json(result: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "bench.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    return path


def _get(data: Any, *keys: str) -> Any:
    """data[k1][k2]... or None where a key is missing (figures of parts that did not run)."""
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def fig(summary: Any, unit: str = "", digits: int = 1) -> str:
    """'12.3 (11.0–14.2)' for a {median, min, max} figure: median (min–max); '—' when absent."""
    if not isinstance(summary, dict) or summary.get("median") is None:
        return "—"
    fmt: Callable[[float], str] = lambda v: f"{v:,.{digits}f}"  # noqa: E731
    spread = "" if summary.get("runs", 1) <= 1 else f" ({fmt(summary['min'])}–{fmt(summary['max'])})"
    return f"{fmt(summary['median'])}{unit}{spread}"


# --- targets -------------------------------------------------------------------------------------


def _target(name: str, value: Any, limit: float, better: str, unit: str = "") -> dict[str, Any]:
    met = None if value is None else (value <= limit if better == "<=" else value >= limit)
    return {"target": name, "value": value, "limit": limit, "better": better, "unit": unit, "met": met}


def evaluate_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets against the medians measured in this run (None: not measured)."""
    http = result.get("http") or {}
    seq = _get(http, "sequential_cold", "latency_ms")
    c16 = _get(http, "concurrent_cold", "16")
    ingest = result.get("ingest") or {}
    search_p50 = _get(result, "inprocess", "search_ms", "wall", "p50", "median")
    reference_p50 = _get(result, "inprocess", "reference", "search_ms", "p50", "median")
    targets = [
        # The peers were timed on another machine; the plain recipe timed in this run is
        # the fair yardstick (eval/bench/reference.py): below 1 means faster than it.
        _target(
            "search p50 / plain torch+FAISS p50",
            round(search_p50 / reference_p50, 3) if search_p50 and reference_p50 else None, 1.0, "<=",
        ),
        _target("/ask sequential p50", _get(seq, "p50", "median"), 10, "<=", "ms"),
        _target("/ask sequential p95", _get(seq, "p95", "median"), 25, "<=", "ms"),
        _target("16 clients throughput", _get(c16, "throughput_rps", "median"), 150, ">=", "req/s"),
        _target("16 clients p99", _get(c16, "latency_ms", "p99", "median"), 250, "<=", "ms"),
        _target("16 clients errors", _get(c16, "errors"), 0, "<="),
        _target("server peak RSS", _get(http, "memory_end", "peak_rss_mb"), 700, "<=", "MB"),
        _target("ingest / raw model rate", _get(ingest, "ratio", "median"), 0.90, ">="),
        _target("no-op re-ingest (library)", _get(ingest, "noop_reingest", "library_s", "median"), 1.0, "<=", "s"),
    ]
    pg = result.get("postgres")
    if pg:
        vectors = _get(pg, "vectors", "by_ef_search", "64") or {}
        servers = pg.get("servers") or {}
        targets += [
            _target("PostgreSQL 100k search p95 (ef 64)", _get(vectors, "unfiltered", "latency_ms", "p95"), 20, "<=",
                    "ms"),
            _target("PostgreSQL 100k recall@10 (ef 64)", _get(vectors, "unfiltered", "recall_at_10"), 0.95, ">="),
            _target("PostgreSQL 100k hybrid search p95", _get(pg, "hybrid", "latency_ms", "p95"), 20, "<=", "ms"),
            _target("PostgreSQL filtered: queries short of 10", _get(vectors, "filtered_10pct", "queries_short_of_10"),
                    0, "<="),
            _target("PostgreSQL /ask p50 / file store's", servers.get("ask_p50_over_file_store"), 2.0, "<="),
            _target("two servers / one, 16 clients", servers.get("two_over_one"), 1.5, ">="),
            _target("two servers: errors", _get(servers, "two_servers", "errors"), 0, "<="),
        ]
    targets += _ingest_scale_targets(result.get("ingest-scale") or {})
    large = _large_default(result)
    if large is not None:
        targets += [
            _target("1M search p95 (default type)", _get(large, "search_ms", "p95", "median"), 10, "<=", "ms"),
            _target("1M recall@10 (default type)", large.get("recall_at_10"), 0.95, ">="),
            _target("1M index resident (default type)", _get(large, "memory", "resident_mb"), 1024, "<=", "MB"),
        ]
    return targets


def _ingest_scale_targets(part: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 18's: the rate at 5k articles (else the largest size run), peak RSS of the largest size
    over the smallest's (the issue's is 20k over 1k), and the resume."""
    sizes = {int(n): figures for n, figures in (part.get("sizes") or {}).items()}
    if not sizes:
        return []
    rated = 5000 if 5000 in sizes else max(sizes)
    targets = [_target(f"ingest {rated:,} articles: embed rate / raw model", sizes[rated].get("ratio"), 0.90, ">=")]
    small, large = min(sizes), max(sizes)
    if large > small and sizes[small].get("peak_rss_mb") and sizes[large].get("peak_rss_mb"):
        growth = round(sizes[large]["peak_rss_mb"] / sizes[small]["peak_rss_mb"], 3)
        targets.append(_target(f"ingest peak RSS {large:,} / {small:,} articles (issue: 20k / 1k)", growth, 1.5, "<="))
    resume = part.get("resume") or {}
    total = resume.get("texts_to_embed")
    if total:
        lost = (resume["embedded_twice"] + resume["lost_in_flight_at_most"]) / total
        targets += [
            _target("resume after kill -9: embedded twice (checkpointed)", resume["embedded_twice_share"], 0.05, "<="),
            _target("resume: embedded twice or lost in flight (at most)", round(lost, 4), 0.05, "<="),
            _target("resume: files differing from uninterrupted", len(resume["differences"]), 0, "<="),
        ]
    return targets


def _large_default(result: dict[str, Any]) -> dict[str, Any] | None:
    """The 1M entry of the type `build_faiss_index` picks at 1M (its `default` params)."""
    size = _get(result, "scale", "sizes", "1000000")
    if not size:
        return None
    default = size.get("default", {})
    for entry in size.get("types", {}).values():
        params = entry.get("params", {})
        if params.get("type") == default.get("type") and params.get("storage") == default.get("storage"):
            return entry
    return None


# --- printing ------------------------------------------------------------------------------------


def print_report(result: dict[str, Any], console: Console | None = None) -> None:
    # Wide when piped (CI logs, files): the tables have up to 9 columns of "median (min–max)".
    console = console or Console(width=None if sys.stdout.isatty() else 170)
    console.print(
        f"[bold]rag bench[/bold] {'(quick) ' if result.get('quick') else ''}"
        f"— {_get(result, 'machine', 'cpus')} cores, load average "
        f"{escape(str(_get(result, 'machine', 'load_average_start')))} → "
        f"{escape(str(_get(result, 'machine', 'load_average_end')))}; figures are median (min–max) over runs"
    )
    if result.get("ingest"):
        _print_ingest(console, result["ingest"])
    if result.get("inprocess"):
        _print_inprocess(console, result["inprocess"])
    if result.get("http"):
        _print_http(console, result["http"])
    if result.get("scale"):
        _print_scale(console, result["scale"])
    if result.get("postgres"):
        _print_postgres(console, result["postgres"])
    if result.get("ingest-scale"):
        _print_ingest_scale(console, result["ingest-scale"])
    for part, error in (result.get("errors") or {}).items():
        console.print(f"[red]{part} failed:[/red] {escape(str(error))}")
    _print_targets(console, result.get("targets", []))


def _print_ingest(console: Console, ingest: dict[str, Any]) -> None:
    table = Table(
        title=f"Ingest: {ingest.get('texts')} of {ingest.get('seed_chunks')} seed chunks, {ingest.get('tokens'):,} "
        f"tokens, embedder {ingest.get('embedder_name')} ({ingest.get('backend')})"
    )
    for column in ("path", "tokens/s", "chunks/s", "seconds"):
        table.add_column(column, justify="right" if column != "path" else "left")
    for name in ("embedder", "raw_model"):
        if name in ingest:
            part = ingest[name]
            table.add_row(
                name, fig(part["tokens_per_s"], digits=0), fig(part["chunks_per_s"]), fig(part["seconds"], digits=2)
            )
    if "ratio" in ingest:
        table.add_row("embedder / raw", fig(ingest["ratio"], digits=3), "", "")
    noop = ingest.get("noop_reingest")
    if noop:
        table.add_row("no-op re-ingest (library)", "", "", fig(noop["library_s"], " s", 2))
        table.add_row("no-op re-ingest (CLI process)", "", "", fig(noop["cli_process_s"], " s", 2))
    console.print(table)


def _print_inprocess(console: Console, part: dict[str, Any]) -> None:
    table = Table(title=f"In-process latency, ms ({part.get('questions')} questions, {part.get('backend')})")
    table.add_column("call")
    table.add_column("stage")
    for p in ("p50", "p95", "p99"):
        table.add_column(p, justify="right")
    for label, key in (("search (cold)", "search_ms"), ("ask (cold)", "ask_ms"), ("ask (cached)", "ask_cached_ms")):
        for stage, figures in part.get(key, {}).items():
            table.add_row(label, stage, *(fig(figures.get(p), digits=2) for p in ("p50", "p95", "p99")))
            label = ""
    reference = part.get("reference")
    if reference:
        figures = reference.get("search_ms", {})
        table.add_row("plain torch+FAISS", "wall", *(fig(figures.get(p), digits=2) for p in ("p50", "p95", "p99")))
    console.print(table)


def _print_http(console: Console, http: dict[str, Any]) -> None:
    memory = http.get("memory_end", {})
    table = Table(
        title=f"HTTP /ask against rag serve (ready in {http.get('startup_s')} s; RSS ready "
        f"{_get(http, 'memory_ready', 'rss_mb')} MB, peak {memory.get('peak_rss_mb')} MB)"
    )
    for column in ("load", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "server cores", "healthz p99"):
        table.add_column(column, justify="right" if column != "load" else "left")
    seq = http.get("sequential_cold")
    if seq:
        lat = seq["latency_ms"]
        table.add_row(
            "sequential (cold)", "", fig(lat["p50"]), fig(lat["p95"]), fig(lat["p99"]), str(seq["errors"]), "", ""
        )
    for label, key in (("cold", "concurrent_cold"), ("warm", "concurrent_warm")):
        for clients, level in (http.get(key) or {}).items():
            lat = level["latency_ms"]
            table.add_row(
                f"{clients} clients ({label})", fig(level["throughput_rps"]), fig(lat["p50"]), fig(lat["p95"]),
                fig(lat["p99"]), str(level["errors"]), str(level["server_cpu_cores"]),
                str(_get(level, "healthz_ms", "p99")),
            )
    console.print(table)


def _print_scale(console: Console, scale: dict[str, Any]) -> None:
    table = Table(
        title=f"Scale: synthetic {scale.get('dim')}-d vectors, k={scale.get('k')}, one query at a time; "
        f"recall@10 vs exact; resident = the index fully paged in, in a fresh process (anonymous part)"
    )
    columns = ("vectors", "type", "params", "build s", "p50 ms", "p95 ms", "recall@10",
               f"cheapest ≥{scale.get('target_recall_at_10')}", "resident MB", "file MB")
    for column in columns:
        table.add_column(column, justify="left" if column in ("type", "params") else "right")
    for n, size in scale.get("sizes", {}).items():
        for name, entry in size.get("types", {}).items():
            if "skipped" in entry:
                table.add_row(f"{int(n):,}", name, entry["skipped"], *[""] * (len(columns) - 3))
                continue
            if "error" in entry:
                table.add_row(f"{int(n):,}", name, escape(str(entry["error"]))[:80], *[""] * (len(columns) - 3))
                continue
            params = entry.get("params", {})
            shown = ", ".join(f"{k}={params[k]}" for k in ("nlist", "nprobe", "m", "ef_search") if k in params)
            memory = entry.get("memory", {})
            tuned = entry.get("tuned")
            cheapest = "—" if not tuned else (
                f"{tuned['value']}: {tuned['recall_at_10']:.3f}, p95 {fig(_get(tuned, 'search_ms', 'p95'), digits=2)}"
            )
            if "tuned" in entry and tuned is None:
                cheapest = "not reached"
            resident = memory.get("resident_mb")
            table.add_row(
                f"{int(n):,}", name + (" *" if _is_default(size, params) else ""), shown,
                fig(entry["build_s"], digits=2), fig(_get(entry, "search_ms", "p50"), digits=2),
                fig(_get(entry, "search_ms", "p95"), digits=2), f"{entry.get('recall_at_10', 0):.3f}", cheapest,
                "—" if resident is None else (
                    f"{resident:,.0f} (computed)" if memory.get("estimated")
                    else f"{resident:,.0f} ({memory.get('resident_anon_mb', 0):,.0f})"
                ),
                str(memory.get("file_mb", "—")),
            )
    console.print(table)
    console.print("  * the type `rag ingest` builds at that size")


def _print_postgres(console: Console, pg: dict[str, Any]) -> None:
    vectors = pg.get("vectors") or {}
    table = Table(title=(
        f"PostgreSQL store: {vectors.get('rows', 0):,} real MiniLM vectors, HNSW {vectors.get('hnsw')}; "
        f"COPY {vectors.get('copy_rows_per_s', 0):,} rows/s, HNSW build {vectors.get('hnsw_build_s')} s"
    ))
    for column in ("ef_search", "search", "p50 ms", "p95 ms", "recall@10", "short of 10"):
        table.add_column(column)
    for ef, entry in (vectors.get("by_ef_search") or {}).items():
        for kind, figures in entry.items():
            latency = figures["latency_ms"]
            table.add_row(ef, kind, f"{latency['p50']:.2f}", f"{latency['p95']:.2f}", f"{figures['recall_at_10']:.3f}",
                          str(figures["queries_short_of_10"]))
    console.print(table)
    hybrid = pg.get("hybrid") or {}
    if hybrid:
        latency = hybrid["latency_ms"]
        console.print(
            f"PostgreSQL whole search (HNSW + BM25 + RRF, {hybrid['k_per_side']} a side) at {hybrid['chunks']:,} "
            f"chunks: p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms (ingested in {hybrid['ingest_s']} s)"
        )
    servers = pg.get("servers") or {}
    if servers:
        table = Table(title="PostgreSQL store: rag serve processes on one database (seed corpus)")
        for column in ("run", "requests/s", "p50 ms", "p95 ms", "errors"):
            table.add_column(column)
        for name in ("one_server", "two_servers"):
            run = servers.get(name) or {}
            if run:
                table.add_row(name.replace("_", " "), f"{run['requests_per_s']:.1f}", f"{run['latency_ms']['p50']:.1f}",
                              f"{run['latency_ms']['p95']:.1f}", str(run["errors"]))
        console.print(table)
        console.print(
            f"sequential /ask p50: PostgreSQL {_get(servers, 'postgres_sequential_ask_ms', 'p50')} ms, "
            f"file store {_get(servers, 'file_store_sequential_ask_ms', 'p50')} ms"
        )


def _print_ingest_scale(console: Console, part: dict[str, Any]) -> None:
    if "skipped" in part:
        console.print(f"Ingest at scale: skipped ({escape(part['skipped'])})")
        return
    table = Table(title=(
        f"Ingest at scale: news articles (repeated past the corpus's 1,468, sentences reordered), each a fresh "
        f"`rag ingest` process, embedder {part.get('embedder_name')}; raw model timed between them"
    ))
    columns = ("articles", "chunks embedded", "wall s", "embed s", "articles/s", "tokens/s (embed)",
               "raw tokens/s", "ingest / raw", "peak RSS MB")
    for column in columns:
        table.add_column(column, justify="right")
    for n, size in part.get("sizes", {}).items():
        raw = _get(size, "raw_model", "tokens_per_s")
        table.add_row(
            f"{int(n):,}", f"{size.get('embedded') or 0:,}", f"{size['wall_s']:,.1f}",
            f"{size['stages'].get('embed', 0):,.1f}", f"{size['articles_per_s']:,.2f}",
            f"{size.get('embed_tokens_per_s') or 0:,.0f}", fig(raw, digits=0),
            "—" if size.get("ratio") is None else f"{size['ratio']:.3f}", f"{size.get('peak_rss_mb') or 0:,.0f}",
        )
    console.print(table)
    resume = part.get("resume")
    if resume and "error" in resume:
        console.print(f"Resume at {resume['articles']:,} articles: not measured ({escape(resume['error'])})")
    elif resume:
        total = resume["texts_to_embed"]
        console.print(
            f"Resume at {resume['articles']:,} articles: SIGKILL {resume['killed_after_s']} s in, with "
            f"{resume['resumed']:,} of {total:,} texts checkpointed ({resume['resumed_share']:.0%}); the next run "
            f"took {resume['resumed_wall_s']} s (uninterrupted {resume['uninterrupted_wall_s']} s), embedded "
            f"{resume['embedded'] + resume['sentences_embedded']:,}, of them {resume['embedded_twice']:,} checkpointed "
            f"already; lost in flight {resume['lost_in_flight_s']} s of embedding, at most "
            f"{resume['lost_in_flight_at_most']:,} texts ({resume['lost_in_flight_share_at_most']:.1%}); "
            f"index identical to the uninterrupted one: "
            f"{'yes' if resume['identical'] else 'no, ' + ', '.join(resume['differences'])}"
        )


def _is_default(size: dict[str, Any], params: dict[str, Any]) -> bool:
    default = size.get("default", {})
    return params.get("type") == default.get("type") and params.get("storage") == default.get("storage")


def _print_targets(console: Console, targets: list[dict[str, Any]]) -> None:
    if not targets:
        return
    table = Table(title="Targets (issues 6, 15 and 18), medians of this run")
    for column in ("target", "measured", "limit", "met"):
        table.add_column(column)
    for t in targets:
        value = "—" if t["value"] is None else f"{t['value']:,.3g} {t['unit']}".strip()
        met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "not measured"}[t["met"]]
        table.add_row(t["target"], value, f"{t['better']} {t['limit']:,} {t['unit']}".strip(), met)
    console.print(table)
