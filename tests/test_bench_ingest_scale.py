"""The ingest-scale part of `rag bench` (eval/bench/ingest_scale.py) with the fake embedder in its
ingest children: the corpus it builds, the figures it returns, the resume it measures, and how
the CLI selects it. No timing thresholds: figures are reported, never asserted."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import typer
from corpora import ward_news
from rich.console import Console
from typer.testing import CliRunner

from cli.bench import bench_command
from eval.bench import DEFAULT_PARTS
from eval.bench.ingest_scale import IngestScaleOptions, build_corpus, index_fingerprint, repeat_order, run_ingest_scale
from eval.bench.report import evaluate_targets, print_report
from eval.bench.runner import BenchOptions, run_bench
from rag.chunking import ChunkerConfig, chunk_document
from rag.embedding.fake import HashingEmbedder, PoolingHashingEmbedder
from rag.ingest import CHECKPOINT_BATCH, ingest
from rag.parsing import parse_paths
from rag.sentences import sentence_spans
from rag.settings import Settings

SIZES = (40, 300)  # 300 articles: 1,800 chunks, four checkpoint batches to kill in the middle of


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ward_news(tmp_path_factory.mktemp("ingest-scale") / "source", articles=40) / "news.jsonl"


@pytest.fixture(scope="module")
def part(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(index_dir=tmp_path_factory.mktemp("no-index") / "index")
    options = IngestScaleOptions(sizes=SIZES, resume_at=SIZES[-1], corpus=source, fake=True)
    return run_ingest_scale(settings, options)


def test_repeat_orders_are_permutations_and_differ() -> None:
    orders = [tuple(repeat_order(7, r)) for r in range(12)]
    assert orders[0] == tuple(range(7))
    assert all(sorted(order) == list(range(7)) for order in orders)
    assert len(set(orders)) == len(orders)


def test_repeats_are_new_chunks_of_the_same_sentences(source: Path, tmp_path: Path) -> None:
    corpus = build_corpus(source, 120, tmp_path / "corpus.jsonl")  # the 40 articles three times
    documents = parse_paths([corpus])
    assert len({d.doc_id for d in documents}) == 120
    chunks = [c.text for d in documents for c in chunk_document(d, ChunkerConfig(), None)]
    assert len(set(chunks)) == len(chunks)  # a repeat that were the same text would repeat its chunks
    for repeat in (1, 2):
        original, again = documents[0], documents[40 * repeat]
        assert again.doc_id == f"{original.doc_id}-r{repeat}" and again.title == original.title
        assert Counter(_sentences(again.text)) == Counter(_sentences(original.text))


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_each_size_has_sane_figures(part: dict[str, Any]) -> None:
    assert part["fake"] is True and part["embedder_name"] == PoolingHashingEmbedder().name
    assert list(part["sizes"]) == [str(n) for n in SIZES]
    for n, size in part["sizes"].items():
        assert size["articles"] == size["documents"] == int(n)
        assert 0 < size["embedded"] == size["distinct_chunk_texts"] <= size["chunks"]
        assert size["tokens"] > size["embedded"]
        assert size["wall_s"] >= size["ingest_s"] > 0
        assert {"parse", "chunk", "embed", "write"} <= set(size["stages"])
        assert size["articles_per_s"] > 0 and size["tokens_per_s"] > 0 and size["embed_tokens_per_s"] > 0
        assert size["peak_rss_mb"] > 0
        # The fake has no model to time raw: the ratio is absent rather than invented.
        assert "raw_model" not in size and "ratio" not in size
    assert part["sizes"]["300"]["embedded"] > part["sizes"]["40"]["embedded"]


def test_the_killed_ingest_resumes_to_the_same_index(part: dict[str, Any]) -> None:
    resume = part["resume"]
    assert "error" not in resume, resume
    total = resume["texts_to_embed"]
    assert total == part["sizes"]["300"]["embedded"] + part["sizes"]["300"]["sentences_embedded"]
    # Killed after its first checkpointed batch and before its last.
    assert CHECKPOINT_BATCH <= resume["resumed"] < total
    assert 0 < resume["keys_at_kill"] < resume["keys_uninterrupted"]
    assert resume["embedded"] + resume["sentences_embedded"] == total - resume["resumed"] + resume["embedded_twice"]
    assert 0 <= resume["embedded_twice"] <= CHECKPOINT_BATCH and resume["lost_in_flight_s"] >= 0
    assert resume["embedded_twice_share"] <= CHECKPOINT_BATCH / total
    assert resume["identical"] is True and resume["differences"] == []


def test_an_index_fingerprint_tells_indexes_apart(source: Path, tmp_path: Path) -> None:
    other = build_corpus(source, 41, tmp_path / "other.jsonl")
    prints = []
    for name, corpus in (("a", source), ("b", source), ("c", other)):
        index = tmp_path / name
        summary = ingest([corpus], Settings(index_dir=index), embedder=PoolingHashingEmbedder())
        prints.append(index_fingerprint(index, summary.as_dict()))
    assert prints[0] == prints[1]
    assert all(prints[2][key] != prints[0][key] for key in prints[0])


def test_targets_and_report(part: dict[str, Any]) -> None:
    targets = {t["target"]: t for t in evaluate_targets({"ingest-scale": part})}
    assert targets["ingest 300 articles: embed rate / raw model"]["met"] is None  # no raw rate for the fake
    growth = targets["ingest peak RSS 300 / 40 articles (issue: 20k / 1k)"]
    assert growth["value"] == pytest.approx(
        part["sizes"]["300"]["peak_rss_mb"] / part["sizes"]["40"]["peak_rss_mb"], abs=1e-3
    )
    assert targets["resume: files differing from uninterrupted"]["met"] is True
    assert targets["resume after kill -9: embedded twice (checkpointed)"]["value"] == part["resume"][
        "embedded_twice_share"
    ]
    console = Console(record=True, width=250)
    print_report({"ingest-scale": part, "targets": list(targets.values())}, console)
    text = " ".join(console.export_text().split())  # the resume line wraps
    assert "Ingest at scale" in text and "Resume at 300 articles" in text
    assert "index identical to the uninterrupted one: yes" in text


def test_a_custom_embedder_skips_the_part_and_builds_no_index(tmp_path: Path) -> None:
    missing = tmp_path / "no-index-here"
    options = BenchOptions(index=missing, out=tmp_path / "out", parts=("ingest-scale",))
    result = run_bench(options, settings=Settings(index_dir=missing), embedder_factory=lambda s: HashingEmbedder())
    assert "skipped" in result["ingest-scale"] and "index" not in result
    assert not missing.exists()


@pytest.mark.parametrize(
    ("args", "parts"),
    [([], DEFAULT_PARTS), (["--quick"], DEFAULT_PARTS), (["--only", "ingest-scale"], ("ingest-scale",))],
)
def test_ingest_scale_runs_only_when_named(
    args: list[str], parts: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _run_cli(monkeypatch, [*args, "--out", str(tmp_path)])
    assert seen.parts == parts
    assert ("ingest-scale" in seen.parts) == ("--only" in args)


def test_cli_ingest_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _run_cli(monkeypatch, ["--only", "ingest-scale", "--ingest-sizes", "40,80", "--out", str(tmp_path)])
    assert seen.ingest_scale_options().sizes == (40, 80) and seen.ingest_scale_options().resume_at is None
    quick = BenchOptions(quick=True).ingest_scale_options()
    assert (quick.sizes, quick.resume_at) == ((40, 80), 80)
    assert BenchOptions().ingest_scale_options().sizes == (1000, 5000)
    app = typer.Typer()
    app.command()(bench_command)
    assert CliRunner().invoke(app, ["--ingest-sizes", "1000,x"]).exit_code == 2
    assert CliRunner().invoke(app, ["--ingest-sizes", "40,80", "--ingest-resume-at", "50"]).exit_code == 2


def _run_cli(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> BenchOptions:
    """`rag bench ARGS` with the benchmark itself replaced: the options it would have run with."""
    seen: list[BenchOptions] = []

    def fake_run(options: BenchOptions) -> dict[str, Any]:
        seen.append(options)
        return {"errors": {}, "targets": [], "duration_s": 0.0}

    monkeypatch.setattr("eval.bench.runner.run_bench", fake_run)
    app = typer.Typer()
    app.command()(bench_command)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((Path(args[-1]) / "bench.json").read_text())["errors"] == {}
    return seen[0]
