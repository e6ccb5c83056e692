"""The benchmark end to end on fake-embedder indexes: outputs, the gate, --compare, --questions,
--beir, the HTTP target and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eval.app import DEFAULT_QUESTIONS, EvalOptions, run_eval
from eval.questions import QUESTION_TYPES, load_questions
from eval.report import LABELS
from eval.runner import HttpTarget, run_questions
from eval.scoring import ALL_METRICS, score_run
from rag.embedding.fake import HashingEmbedder
from rag.engine import RagEngine
from rag.errors import BadInputError, InputFileError
from rag.ingest import ingest
from rag.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
# Floors the fake-embedder pipeline clears with room to spare (hit@5 ≈ 0.95, accuracy ≈ 0.45 on it)
# and a random-vector pipeline does not.
LENIENT = {"min": {"overall.hit@5": 0.8, "overall.mrr@10": 0.7, "overall.answer_accuracy": 0.25}}


class RandomEmbedder:
    """A broken pipeline: vectors unrelated to the text (fresh noise on every call)."""

    name = "random-64"
    dim = 64

    def __init__(self) -> None:
        self.rng = np.random.default_rng(7)

    def embed(self, texts: list[str]) -> np.ndarray:
        v = self.rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def _thresholds(tmp_path: Path, data: dict, name: str = "thresholds.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def good_run(fake_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("eval-good")
    thresholds = _thresholds(out, LENIENT, "lenient.json")
    opts = EvalOptions(index=fake_index_dir, out=out / "out", thresholds=thresholds, progress=False)
    return run_eval(opts, embedder=HashingEmbedder(), echo=lambda _: None), out / "out"


def test_writes_report_json_markdown_and_three_plots(good_run: tuple[int, Path]) -> None:
    code, out = good_run
    assert code == 0
    for name in ("accuracy_by_type.png", "latency.png", "risk_coverage.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5000, name
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["meta"]["questions"] == len(load_questions(DEFAULT_QUESTIONS))
    assert report["meta"]["missing_gold_documents"] == 0
    assert set(report["metrics"]["by_type"]) == set(QUESTION_TYPES)
    assert set(report["metrics"]["by_split"]) == {"tune", "heldout"}
    assert set(report["metrics"]["by_split_type"]["heldout"]) == set(QUESTION_TYPES)
    assert report["gate"]["passed"] is True
    for kind in ("search_ms", "ask_ms"):
        assert report["latency"][kind]["p50"] > 0 and report["latency"][kind]["p99"] >= report["latency"][kind]["p95"]
    assert report["latency"]["wall_time_s"] > 0
    assert report["risk_coverage"]["points"][-1]["coverage"] == 1.0


def test_fake_pipeline_scores_sensibly(good_run: tuple[int, Path]) -> None:
    overall = json.loads((good_run[1] / "report.json").read_text(encoding="utf-8"))["metrics"]["overall"]
    assert overall["hit@5"] >= 0.8 and overall["verbatim_rate"] == 1.0
    assert 0 < overall["answer_accuracy"] < 1 and 0 <= overall["citation_precision"] <= 1


def test_report_md_shows_every_metric_per_type_and_split(good_run: tuple[int, Path]) -> None:
    md = (good_run[1] / "report.md").read_text(encoding="utf-8")
    lines = md.splitlines()
    header = next(line for line in lines if line.startswith("| metric | overall"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert set(columns) >= {*QUESTION_TYPES, "split: tune", "split: heldout"}
    for metric in ALL_METRICS:
        row = next((line for line in lines if line.startswith(f"| {LABELS[metric]} |")), None)
        assert row is not None, metric
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 1 + 1 + len(QUESTION_TYPES) + 2, metric
        assert any(c not in {"–", ""} for c in cells[1:]), metric
    assert "### Split `heldout` per type" in md
    for section in ("## Latency", "## Abstention threshold", "## Gate", "![risk_coverage](risk_coverage.png)"):
        assert section in md


def test_broken_pipeline_drives_metrics_down_and_fails_the_gate(
    good_run: tuple[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "index"
    broken = RandomEmbedder()
    ingest([REPO / "seeds"], Settings(index_dir=index), embedder=broken)
    opts = EvalOptions(index=index, out=tmp_path / "out", thresholds=_thresholds(tmp_path, LENIENT), progress=False)
    code = run_eval(opts, embedder=broken, echo=lambda _: None)
    assert code == 1
    good = json.loads((good_run[1] / "report.json").read_text(encoding="utf-8"))["metrics"]["overall"]
    bad = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["metrics"]["overall"]
    # Retrieval may survive broken vectors (BM25 and the reranker's term overlap carry it: hit@1
    # came out above the good run's in some runs), and the few answers given may be precise; but
    # fewer questions are answered right, and fewer handled right overall.
    for metric in ("answer_accuracy", "correct_rate"):
        assert bad[metric] < good[metric], metric
    err = capsys.readouterr().err
    # Which floor breaks first depends on how much the lexical signals (BM25, the reranker's term
    # overlap) make up for the broken vectors; the answers always suffer.
    assert "gate: overall.answer_accuracy" in err and "gate FAILED" in err
    assert (tmp_path / "out" / "report.md").exists()  # the report is written even when the gate fails


def test_compare_prints_each_metrics_change(good_run: tuple[int, Path], fake_index_dir: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    opts = EvalOptions(
        index=fake_index_dir,
        out=tmp_path / "again",
        compare=good_run[1] / "report.json",
        gate=False,
        progress=False,
        k=1,
    )
    assert run_eval(opts, embedder=HashingEmbedder(), echo=lines.append) == 0
    text = "\n".join(lines)
    assert "Change against" in text
    for metric in ("overall.hit@5", "overall.answer_accuracy", "type.multi.recall@5", "split.heldout.mrr@10"):
        assert any(line.startswith(metric + " ") for line in text.splitlines()), metric
    assert "better" in text or "worse" in text or "same" in text


def test_custom_questions_file(fake_engine: RagEngine, fake_index_dir: Path, tmp_path: Path) -> None:
    doc = next(d for d in fake_engine.documents() if "Peppa Pig" in d.title)
    rows = [
        {
            "id": "mine-1",
            "question": "Where was the counterfeit Peppa Pig raid?",
            "type": "factoid",
            "gold_doc_ids": [doc.doc_id],
            "evidence": ["The raid in the city of Yangzhou"],
            "answers": ["Yangzhou"],
        },
        {"id": "mine-2", "question": "What colour is the moon's cheese?", "type": "unanswerable"},
    ]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    opts = EvalOptions(questions=path, index=fake_index_dir, out=tmp_path / "out", gate=False, progress=False)
    assert run_eval(opts, embedder=HashingEmbedder(), echo=lambda _: None) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["meta"]["questions"] == 2
    assert set(report["metrics"]["by_type"]) == {"factoid", "unanswerable"}
    assert report["metrics"]["overall"]["hit@5"] == 1.0  # the fake index finds this one easily
    assert [q["id"] for q in report["questions"]] == ["mine-1", "mine-2"]


def test_unknown_gold_ids_are_reported(
    fake_index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "q.jsonl"
    row = {
        "id": "x",
        "question": "Who?",
        "type": "factoid",
        "gold_doc_ids": ["nope"],
        "evidence": ["a"],
        "answers": ["a"],
    }
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    opts = EvalOptions(questions=path, index=fake_index_dir, out=tmp_path / "out", gate=False, progress=False)
    run_eval(opts, embedder=HashingEmbedder(), echo=lambda _: None)
    assert "unknown to the system: nope" in capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["meta"]["missing_gold_documents"] == 1 and report["metrics"]["overall"]["hit@5"] == 0.0


def _beir(root: Path) -> Path:
    docs = [
        ("d1", "Tea in China", "Teapigs found that chocolate flake tea sells well in China."),
        ("d2", "Peppa Pig raid", "Police seized fake Peppa Pig toothbrushes in Yangzhou."),
        ("d3", "Singles Day", "Alibaba took in excess of 19 billion pounds on Singles Day."),
        ("d4", "Leggings", "Sweaty Betty launched on Tmall Global in February 2021."),
        ("d5", "", "Only a body here: Harbolnas is Indonesia's national online shopping day."),
    ]
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs), encoding="utf-8"
    )
    queries = [
        ("q1", "chocolate flake tea China"),
        ("q2", "fake Peppa Pig toothbrushes"),
        ("q3", "Harbolnas Indonesia"),
        ("q4", "unjudged"),
    ]
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries), encoding="utf-8"
    )
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq3\td5\t1\nq3\td4\t0\n", encoding="utf-8"
    )
    return root


def test_beir_dataset_gets_retrieval_metrics(tmp_path: Path) -> None:
    root = _beir(tmp_path / "beir")
    opts = EvalOptions(beir=root, out=tmp_path / "out", progress=False)
    assert run_eval(opts, embedder=HashingEmbedder(), echo=lambda _: None) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["meta"]["kind"] == "beir" and report["meta"]["documents"] == 5
    assert report["metrics"]["overall"]["n"] == 3  # q4 has no judgements
    assert report["metrics"]["overall"]["hit@5"] == 1.0  # five documents: every gold one is in the top 5
    assert {q["id"]: q["ranking"][0] for q in report["queries"]}["q2"] == "d2"  # the doc_id is the BEIR _id
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "| hit@5 | 1.000 |" in md
    strict = _thresholds(tmp_path, {"min": {"overall.hit@1": 1.01}})
    opts = EvalOptions(beir=root, out=tmp_path / "out2", thresholds=strict, progress=False)
    assert run_eval(opts, embedder=HashingEmbedder(), echo=lambda _: None) == 1


def test_beir_layout_errors_are_bad_input(tmp_path: Path) -> None:
    root = _beir(tmp_path / "beir")
    (root / "qrels" / "test.tsv").unlink()
    with pytest.raises(InputFileError, match="qrels"):
        run_eval(EvalOptions(beir=root, out=tmp_path / "out", progress=False), embedder=HashingEmbedder())


def test_http_target_scores_a_running_service(make_service_client: Callable[..., Any]) -> None:
    client = make_service_client(api_keys=("s3cret",))
    questions = load_questions(DEFAULT_QUESTIONS)[:6]
    with pytest.raises(BadInputError, match="api-key"):
        run_questions(HttpTarget("http://testserver", client=client), questions)
    client.headers.pop("Authorization", None)
    run = run_questions(
        HttpTarget("http://testserver", api_key="s3cret", client=client), questions, top_k=3, search_k=10
    )
    assert all(o.search and o.ask and not o.errors for o in run.observations)
    scores = score_run(run)
    assert all(s.asked for s in scores)
    gold = {d for q in questions for d in q.gold_doc_ids}
    assert gold <= {k for k, v in run.documents.items() if v}  # texts fetched over GET /documents/{id}
    cited = [c for s in scores for c in s.citations]
    assert cited and all(c["verbatim"] for c in cited)


def test_cli_exit_codes(fake_index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import main

    assert main(["eval", "--questions", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert main(["eval", "-k", "0", "--out", str(tmp_path / "o")]) == 2
    # The real model is not needed to test the wiring: the engine gets the fake embedder.
    monkeypatch.setattr("rag.engine.load_embedder", lambda settings: HashingEmbedder())
    small = tmp_path / "small.jsonl"
    small.write_text(
        "".join(DEFAULT_QUESTIONS.read_text(encoding="utf-8").splitlines(keepends=True)[:10]), encoding="utf-8"
    )
    base = ["eval", "--questions", str(small), "--index", str(fake_index_dir), "--out", str(tmp_path / "o")]
    impossible = _thresholds(tmp_path, {"min": {"overall.hit@5": 1.5}}, "impossible.json")
    assert main([*base, "--thresholds", str(impossible)]) == 1
    assert main([*base, "--thresholds", str(impossible), "--no-gate"]) == 0
    assert (tmp_path / "o" / "report.md").exists()


def test_python_m_eval_is_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eval", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    for option in ("--questions", "--index", "--out", "--url", "--api-key", "--beir", "--compare", "--thresholds"):
        assert option in result.stdout


def test_a_random_sentence_scorer_fails_the_gate(fake_index_dir: Path, tmp_path: Path) -> None:
    # The same index and gate as the good run, with the reader's scorer (which also reranks the
    # passages) replaced by random scores: the benchmark must notice.
    opts = EvalOptions(
        index=fake_index_dir, out=tmp_path / "out", thresholds=_thresholds(tmp_path, LENIENT), progress=False,
        answer_overrides={"reader": "random"},
    )
    assert run_eval(opts, embedder=HashingEmbedder(), echo=lambda _: None) == 1
