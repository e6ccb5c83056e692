"""The benchmark's plumbing: it runs, writes bench.json with the expected keys and sane figures.

No timing thresholds here: figures are reported by `rag bench`, never asserted against a speed
target (a shared CI machine's load would make such a test flaky). The quick in-process and
ingest parts run on the fake-embedder index; HTTP needs the real model in a `rag serve` process
and is left to the benchmark itself.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from cli.bench import bench_command
from eval.bench.http_load import QuestionPool, _Record, _window_stats
from eval.bench.inprocess import InprocessOptions
from eval.bench.probe import HealthProbe
from eval.bench.probe import main as probe_main
from eval.bench.reference import ReferenceOptions, run_reference
from eval.bench.report import evaluate_targets, print_report, write_json
from eval.bench.runner import BenchOptions, run_bench
from eval.bench.scale import ScaleOptions, dataset, recall_at_k, run_scale
from eval.bench.stats import percentiles, summarize, summarize_runs
from rag.embedding.fake import HashingEmbedder
from rag.settings import Settings


def assert_figure(figure: dict[str, Any], positive: bool = True) -> None:
    """A {median, min, max, runs} figure with min <= median <= max."""
    assert set(figure) == {"median", "min", "max", "runs"}
    assert figure["runs"] >= 1
    assert figure["min"] <= figure["median"] <= figure["max"]
    if positive:
        assert figure["min"] > 0


def assert_percentiles(figures: dict[str, Any]) -> None:
    assert {"p50", "p95", "p99"} <= set(figures)
    for name in ("p50", "p95", "p99"):
        assert_figure(figures[name], positive=False)
        assert figures[name]["min"] >= 0
    # Per run p50 <= p95 <= p99, so their medians keep that order too.
    assert figures["p50"]["median"] <= figures["p95"]["median"] <= figures["p99"]["median"]


@pytest.fixture(scope="module")
def bench_json(fake_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench-out")
    options = BenchOptions(index=fake_index_dir, out=out, quick=True, parts=("ingest", "inprocess", "http"))
    result = run_bench(
        options, settings=Settings(index_dir=fake_index_dir), embedder_factory=lambda settings: HashingEmbedder(),
        reference_encoder=lambda: HashingEmbedder().embed_query,  # the real one loads torch
    )
    path = write_json(result, out)
    return json.loads(path.read_text())


def test_bench_json_has_the_parts_and_machine(bench_json: dict[str, Any]) -> None:
    assert bench_json["schema"] == 1 and bench_json["quick"] is True
    assert bench_json["errors"] == {}
    assert bench_json["machine"]["cpus"] >= 1
    assert len(bench_json["machine"]["load_average_start"]) == 3
    assert bench_json["index"]["built_by_bench"] is False
    # A custom (fake) embedder cannot be handed to a server process: HTTP says so instead of lying.
    assert "skipped" in bench_json["http"]
    assert bench_json["duration_s"] > 0


def test_ingest_figures(bench_json: dict[str, Any]) -> None:
    ingest = bench_json["ingest"]
    assert ingest["texts"] == 16 and ingest["tokens"] > ingest["texts"]
    for key in ("seconds", "tokens_per_s", "chunks_per_s"):
        assert_figure(ingest["embedder"][key])
    assert ingest["embedder"]["seconds"]["runs"] == 3
    # The fake has no model to run raw: the ratio is absent rather than invented.
    assert "raw_model" not in ingest and "ratio" not in ingest
    noop = ingest["noop_reingest"]
    assert noop["noop"] is True and noop["chunks"] > 0
    assert_figure(noop["library_s"])
    assert noop["cli_process_s"]["runs"] == 0  # a CLI process would load the real model


def test_inprocess_figures_per_stage(bench_json: dict[str, Any]) -> None:
    part = bench_json["inprocess"]
    assert part["questions"] == 30 and part["chunks"] > 0
    assert part["vector_index"]["type"] == "flat"
    for key, stages in (
        ("search_ms", ("encode", "retrieve", "rerank", "total", "wall")),
        ("ask_ms", ("encode", "retrieve", "rerank", "compose", "total", "wall")),
        ("ask_cached_ms", ("encode", "retrieve", "rerank", "compose", "total", "wall")),
    ):
        assert set(stages) <= set(part[key]), key
        for stage in stages:
            assert_percentiles(part[key][stage])
            assert part[key][stage]["p50"]["runs"] == 3
    # Stages add up to no more than the total (each is timed inside it).
    ask = part["ask_ms"]
    assert ask["encode"]["p50"]["median"] <= ask["total"]["p50"]["median"]


def test_the_plain_reference_is_timed_over_the_same_chunks(bench_json: dict[str, Any]) -> None:
    part = bench_json["inprocess"]
    reference = part["reference"]
    assert reference["questions"] == part["questions"] and reference["vectors"] == part["chunks"]
    assert_percentiles(reference["search_ms"])
    ratio = {t["target"]: t for t in bench_json["targets"]}["search p50 / plain torch+FAISS p50"]
    expected = part["search_ms"]["wall"]["p50"]["median"] / reference["search_ms"]["p50"]["median"]
    assert ratio["value"] == pytest.approx(expected, abs=1e-3) and ratio["met"] is (ratio["value"] <= 1.0)


def test_the_reference_encodes_each_question_once_per_run_and_refuses_no_questions() -> None:
    vectors = np.eye(4, dtype=np.float32)
    seen: list[str] = []

    def encode(text: str) -> np.ndarray:
        seen.append(text)
        return vectors[int(text)]

    result = run_reference(vectors, ["0", "3"], encode, ReferenceOptions(runs=2, warmup=1, top_k=2))
    assert result["vectors"] == 4 and result["search_ms"]["p50"]["runs"] == 2
    assert seen == ["0", "0", "3", "0", "3"]  # warm-up, then every question once per run
    with pytest.raises(ValueError, match="at least one question"):
        run_reference(vectors, [], encode, ReferenceOptions())


def test_targets_are_reported_not_asserted(bench_json: dict[str, Any]) -> None:
    targets = {t["target"]: t for t in bench_json["targets"]}
    assert targets["/ask sequential p50"]["met"] is None  # HTTP did not run
    noop = targets["no-op re-ingest (library)"]
    assert noop["value"] == bench_json["ingest"]["noop_reingest"]["library_s"]["median"]
    assert noop["met"] in (True, False)


def test_report_prints_every_part(bench_json: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console(record=True, width=200)
    print_report(bench_json, console)
    text = console.export_text()
    assert "Ingest" in text and "In-process latency" in text and "Targets" in text


def test_scale_part_small(tmp_path: Path) -> None:
    options = ScaleOptions(
        sizes=(3_000,), dim=32, candidates=("ivf-sq8",), recall_queries=100, latency_queries=20,
        latency_passes=2, build_runs=2, pass_budget_s=0.5, work_dir=tmp_path,
    )
    result = run_scale(options)
    size = result["sizes"]["3000"]
    assert size["default"] == {"type": "flat"}
    ivf = size["types"]["ivf-sq8"]
    assert ivf["params"]["type"] == "ivf" and ivf["params"]["nprobe"] == 16
    assert 0.0 <= ivf["recall_at_10"] <= 1.0 and ivf["sweep"][0]["value"] == 4
    assert ivf["build_s"]["runs"] == 2 and ivf["build_s"]["min"] >= 0
    assert_percentiles(ivf["search_ms"])
    memory = ivf["memory"]
    assert "error" not in memory, memory
    assert memory["file_mb"] > 0 and memory["resident_mb"] >= 0
    assert memory["copied_on_load"] is False


def test_synthetic_data_is_normalized_and_deterministic() -> None:
    base, queries = dataset(2_000, 50, dim=48, seed=3)
    again, _ = dataset(2_000, 50, dim=48, seed=3)
    assert base.shape == (2_000, 48) and queries.shape == (50, 48) and base.dtype == np.float32
    assert np.allclose(np.linalg.norm(base, axis=1), 1.0, atol=1e-5)
    assert (base == again).all()
    # Clustered, not uniform: a query's nearest neighbour is far closer than a random vector.
    top = (queries @ base.T).max(axis=1).mean()
    assert top > (queries @ base[:50].T).mean() + 0.3


def test_recall_at_k() -> None:
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    assert recall_at_k(truth, truth) == 1.0
    assert recall_at_k(np.array([[1, 2, -1], [7, 8, 9]]), truth) == pytest.approx(2 / 6)


def test_question_pool_never_repeats_and_keeps_the_words() -> None:
    questions = ["How much was Alibaba fined?", "Who raided the Peppa Pig factory in 2021?"]
    pool = QuestionPool(questions)
    texts = [pool.next() for _ in range(1_000)]  # past the 3^4 spacings of the 5-word question
    assert len(set(texts)) == len(texts)
    assert texts[0] == questions[0]
    assert {" ".join(t.split()) for t in texts} == set(questions)


def test_window_stats_split_throughput_and_latency() -> None:
    records = [_Record(start=i * 0.1, end=i * 0.1 + 0.05, ok=i != 3) for i in range(30)]
    windows = _window_stats(records, started=0.0, stop=3.0, windows=3)
    assert len(windows) == 3
    assert windows[0]["errors"] == 1 and windows[1]["errors"] == 0
    assert windows[1]["rps"] == pytest.approx(10.0)
    assert windows[1]["p50"] == pytest.approx(50.0)


def test_stats_helpers() -> None:
    assert percentiles([1.0, 2.0, 3.0, 4.0])["p50"] == 2.5
    assert summarize([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": 3}
    assert summarize([])["median"] is None
    runs = summarize_runs([{"p50": 1.0, "p95": 2.0}, {"p50": 3.0, "p95": 4.0}])
    assert runs["p50"]["median"] == 2.0 and runs["p95"]["max"] == 4.0


def test_targets_from_a_full_result() -> None:
    result = {
        "http": {
            "sequential_cold": {"latency_ms": {"p50": {"median": 8.0}, "p95": {"median": 30.0}}},
            "concurrent_cold": {"16": {"throughput_rps": {"median": 160.0}, "errors": 0,
                                       "latency_ms": {"p99": {"median": 200.0}}}},
            "memory_end": {"peak_rss_mb": 650.0},
        },
        "scale": {"sizes": {"1000000": {"default": {"type": "ivf", "storage": "sq8"}, "types": {
            "flat": {"params": {"type": "flat"}},
            "ivf-sq8": {"params": {"type": "ivf", "storage": "sq8"}, "recall_at_10": 0.97,
                        "search_ms": {"p95": {"median": 2.0}}, "memory": {"resident_mb": 400.0}},
        }}}},
    }
    met = {t["target"]: t["met"] for t in evaluate_targets(result)}
    assert met["/ask sequential p50"] is True and met["/ask sequential p95"] is False
    assert met["16 clients throughput"] is True and met["16 clients errors"] is True
    assert met["1M recall@10 (default type)"] is True and met["1M index resident (default type)"] is True
    assert met["ingest / raw model rate"] is None


def test_cli_refuses_an_unknown_part() -> None:
    app = typer.Typer()
    app.command()(bench_command)
    result = CliRunner().invoke(app, ["--only", "nope"])
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["--scale-sizes", "ten"])
    assert result.exit_code == 2


def test_without_an_index_the_bench_builds_a_temporary_one(seeds_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-index-here"
    settings = Settings(index_dir=missing, seeds_dir=seeds_dir)
    options = BenchOptions(index=missing, out=tmp_path / "out", quick=True, parts=("inprocess",))
    options.inprocess_options = lambda: InprocessOptions(questions=3, runs=1, warmup=1)  # type: ignore[method-assign]
    result = run_bench(options, settings=settings, embedder_factory=lambda s: HashingEmbedder())
    assert result["errors"] == {}
    assert result["index"]["built_by_bench"] is True
    assert result["inprocess"]["questions"] == 3
    assert not missing.exists()  # the user's index folder is never created or touched
    assert not Path(result["index"]["dir"]).exists()  # the temporary one is gone


class _Health(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the probe expects
    status = 200

    def do_GET(self) -> None:
        body = b'{"status":"ok"}'
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Failing(_Health):
    status = 503


@pytest.mark.parametrize(("handler", "answers"), [(_Health, True), (_Failing, False)])
def test_the_health_probe_runs_in_its_own_process_and_keeps_only_answered_probes(handler, answers: bool) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with HealthProbe(f"http://127.0.0.1:{server.server_address[1]}", seconds=0.6, interval=0.05) as probe:
            assert probe._proc is not None and probe._proc.pid != os.getpid()
    finally:
        server.shutdown()
    if answers:
        assert len(probe.latencies_ms) >= 3
        assert all(ms > 0 for ms in probe.latencies_ms)
    else:
        assert probe.latencies_ms == []


def test_the_probe_command_refuses_bad_arguments() -> None:
    assert probe_main(["http://127.0.0.1:1"]) == 2


def test_the_postgres_vector_figures_on_a_real_server(postgres_url: str) -> None:
    """The PostgreSQL part's measuring code on a small clustered set: exact-ish recall, a filter
    that still returns 10 rows, and the figures the report and targets read."""
    from rich.console import Console

    from eval.bench.postgres import vector_figures

    vectors, queries = dataset(3000, 40, seed=1)
    figures = vector_figures(postgres_url, vectors, queries, (64,), lambda _m: None)
    assert figures["rows"] == 3000 and figures["copy_rows_per_s"] > 0
    entry = figures["by_ef_search"]["64"]
    assert entry["unfiltered"]["recall_at_10"] >= 0.9
    assert entry["filtered_10pct"]["queries_short_of_10"] == 0
    assert entry["filtered_10pct"]["recall_at_10"] >= 0.9
    result = {"postgres": {"vectors": figures, "servers": {}}, "machine": {}}
    targets = {t["target"]: t for t in evaluate_targets(result)}
    assert targets["PostgreSQL 100k recall@10 (ef 64)"]["value"] == entry["unfiltered"]["recall_at_10"]
    console = Console(record=True, width=200)
    print_report({**result, "targets": list(targets.values())}, console)
    assert "PostgreSQL store: 3,000 real MiniLM vectors" in console.export_text()
