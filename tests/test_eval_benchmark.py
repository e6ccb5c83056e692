"""Benchmark folders (SPEC.md's layout) in `rag eval`: loading, slicing, the cached index, the
side-by-side report, intervals, the gate on a set, and `--compare`'s paired intervals."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from eval.app import EvalOptions, run_eval
from eval.benchmark import corpus_inputs, index_folder, load_benchmark
from eval.compare import paired_changes
from eval.intervals import bootstrap_intervals, paired_difference
from rag.embedding.fake import HashingEmbedder
from rag.errors import BadInputError

PNG = b"\x89PNG\r\n\x1a\n"
DOCS = [
    ("n1", "Storm Ciaran hit Cornwall on Thursday. Winds of 100 mph were recorded at the coast."),
    ("n2", "The city council of Leeds approved a new tram line. Construction starts in 2026."),
    ("n3", "Astronomers found a comet named Nishimura. It passed closest to the Sun in September."),
    ("n4", "The central bank raised rates by a quarter point. Inflation stood at 3.2 percent in May."),
    ("n5", "A bakery in Lyon won the national baguette prize. Its owner has run it for twenty years."),
    ("n6", "The marathon in Berlin was won by Eliud Kipchoge. He finished in two hours and two minutes."),
]
QUESTIONS = [
    {"id": "b1", "question": "What wind speed was recorded when Storm Ciaran hit Cornwall?",
     "answers": ["100 mph"], "gold_doc_ids": ["n1"]},
    {"id": "b2", "question": "Which comet passed closest to the Sun in September?",
     "answers": ["Nishimura"], "gold_doc_ids": ["n3"]},
    {"id": "b3", "question": "Who won the marathon in Berlin?", "answers": ["Eliud Kipchoge"],
     "gold_doc_ids": ["n6"]},
    {"id": "b4", "question": "What was the inflation rate in May?", "answers": ["3.2 percent"],
     "gold_doc_ids": ["n4"]},
    {"id": "b5", "question": "Which football club did Zlatan Ibrahimovic join in Stockholm?",
     "answers": [], "gold_doc_ids": []},
]


def _benchmark(folder: Path, questions: list[dict] | None = None, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps({"id": i, "title": "", "text": t}) + "\n" for i, t in DOCS)
    if gz:
        (folder / "corpus.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    else:
        (folder / "corpus.jsonl").write_text(lines, encoding="utf-8")
    qs = QUESTIONS if questions is None else questions
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in qs), encoding="utf-8")
    return folder


def test_load_benchmark_reads_answerable_and_unanswerable(tmp_path: Path) -> None:
    bench = load_benchmark(_benchmark(tmp_path / "news"))
    assert bench.name == "news" and len(bench.questions) == 5
    by_id = {q.id: q for q in bench.questions}
    assert by_id["b1"].type == "factoid" and by_id["b1"].answers == ("100 mph",)
    assert by_id["b5"].type == "unanswerable" and not by_id["b5"].answerable
    assert {q.split for q in bench.questions} <= {"tune", "heldout"}


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"id": "x", "question": "Q?", "answers": ["a"], "gold_doc_ids": []}, "both be empty"),
        ({"id": "x", "question": "", "answers": [], "gold_doc_ids": []}, "'question'"),
        ({"id": "x", "question": "Q?", "answers": "a", "gold_doc_ids": ["n1"]}, "'answers'"),
    ],
)
def test_bad_benchmark_question_names_the_line(tmp_path: Path, bad: dict, words: str) -> None:
    folder = _benchmark(tmp_path / "bad", [QUESTIONS[0], bad])
    with pytest.raises(BadInputError) as exc:
        load_benchmark(folder)
    assert "questions.jsonl:2" in exc.value.message and words in exc.value.message


def test_exact_repeat_counts_once_and_a_conflicting_id_is_refused(tmp_path: Path) -> None:
    bench = load_benchmark(_benchmark(tmp_path / "rep", [*QUESTIONS, QUESTIONS[0]]))
    assert len(bench.questions) == len(QUESTIONS)
    folder = _benchmark(tmp_path / "conflict", [*QUESTIONS, {**QUESTIONS[0], "answers": ["90 mph"]}])
    with pytest.raises(BadInputError, match="questions.jsonl:6: duplicate id 'b1'"):
        load_benchmark(folder)


def test_folder_without_a_corpus_is_refused(tmp_path: Path) -> None:
    folder = _benchmark(tmp_path / "nocorpus")
    (folder / "corpus.jsonl.gz").unlink()
    with pytest.raises(BadInputError, match="corpus.jsonl"):
        load_benchmark(folder)


def test_slice_keeps_gold_documents_of_its_questions(tmp_path: Path) -> None:
    bench = load_benchmark(_benchmark(tmp_path / "news"), slice_every=2)
    assert 0 < len(bench.questions) < 5
    files = corpus_inputs(bench, tmp_path / "cache")
    kept = {json.loads(line)["id"] for line in files[0].read_text(encoding="utf-8").splitlines()}
    assert {d for q in bench.questions for d in q.gold_doc_ids} <= kept
    assert index_folder(bench, tmp_path) != index_folder(load_benchmark(tmp_path / "news"), tmp_path)


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_more_questions() -> None:
    def agg(xs: list[float]) -> dict[str, float]:
        return {"answer_accuracy": sum(xs) / len(xs)}

    small = bootstrap_intervals([1.0, 0.0] * 10, agg)["answer_accuracy"]
    large = bootstrap_intervals([1.0, 0.0] * 500, agg)["answer_accuracy"]
    assert small[0] < 0.5 < small[1]
    assert (large[1] - large[0]) < (small[1] - small[0]) / 3


def test_paired_difference_is_zero_for_identical_runs_and_positive_for_a_clear_gain() -> None:
    same = {str(i): float(i % 2) for i in range(100)}
    delta, interval = paired_difference(same, same)  # type: ignore[misc]
    assert delta == 0 and interval == [0.0, 0.0]
    better = {k: 1.0 for k in same}
    delta, interval = paired_difference(same, better)  # type: ignore[misc]
    assert delta == 0.5 and interval[0] > 0.3
    assert paired_difference({"a": 1.0}, {"b": 1.0}) is None


def test_eval_reports_a_benchmark_beside_the_seed_set(fake_index_dir: Path, tmp_path: Path) -> None:
    folder = _benchmark(tmp_path / "news")
    thresholds = tmp_path / "t.json"
    thresholds.write_text(json.dumps({"min": {"set.news.overall.ceiling": 0.5}}), encoding="utf-8")
    opts = EvalOptions(
        index=fake_index_dir, out=tmp_path / "out", benchmarks=(folder,), cache=tmp_path / "cache",
        thresholds=thresholds, progress=False,
    )
    assert run_eval(opts, embedder=HashingEmbedder(), echo=lambda _: None) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    news = report["sets"]["news"]
    overall = news["metrics"]["overall"]
    assert overall["n_answerable"] == 4 and overall["n_unanswerable"] == 1
    assert overall["ceiling"] >= overall["answer_accuracy"]
    if overall["ceiling"]:
        assert overall["reader_efficiency"] == pytest.approx(overall["answer_accuracy"] / overall["ceiling"])
    low, high = news["metrics"]["intervals"]["ceiling"]
    assert low <= overall["ceiling"] <= high
    assert news["metrics"]["overall"]["citation_precision"] is None  # no evidence strings to judge by
    assert report["gate"]["checks"][0]["metric"] == "set.news.overall.ceiling"
    assert (tmp_path / "out" / "sets.png").read_bytes().startswith(PNG)
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## Sets side by side" in markdown and "reader efficiency" in markdown


def test_benchmark_index_is_built_once_and_reused(fake_index_dir: Path, tmp_path: Path) -> None:
    folder = _benchmark(tmp_path / "news", gz=False)
    messages: list[str] = []
    opts = EvalOptions(
        questions=folder, out=tmp_path / "out", cache=tmp_path / "cache", gate=False, progress=False
    )
    import eval.app as app

    original = app._err
    app._err = messages.append  # type: ignore[assignment]
    try:
        run_eval(opts, embedder=HashingEmbedder(), echo=lambda _: None)
        first = list(messages)
        messages.clear()
        run_eval(opts, embedder=HashingEmbedder(), echo=lambda _: None)
    finally:
        app._err = original  # type: ignore[assignment]
    assert any("building its index" in m for m in first)
    assert not any("building" in m or "index written" in m for m in messages)
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["meta"]["kind"] == "benchmark" and report["meta"]["questions"] == 5


def test_compare_gives_paired_intervals_per_set(tmp_path: Path) -> None:
    def rep(correct: list[bool]) -> dict:
        questions = [{"id": str(i), "answerable": True, "correct": c, "abstained": False, "ceiling": True}
                     for i, c in enumerate(correct)]
        return {"meta": {"title": "seed"}, "questions": [], "sets": {"news": {"questions": questions}}}

    old, new = rep([False] * 60 + [True] * 40), rep([True] * 100)
    changes = {(c.set_name, c.metric): c for c in paired_changes(old, new)}
    gain = changes[("news", "answer_accuracy")]
    assert gain.delta == pytest.approx(0.6) and gain.outside
    assert not changes[("news", "ceiling")].outside


def test_benchmark_cannot_be_scored_over_http(tmp_path: Path) -> None:
    folder = _benchmark(tmp_path / "news")
    opts = EvalOptions(url="http://127.0.0.1:9", benchmarks=(folder,), out=tmp_path / "o", progress=False)
    with pytest.raises(BadInputError, match="--url"):
        run_eval(opts, embedder=HashingEmbedder(), echo=lambda _: None)


def test_ablate_switches_each_step_off_and_reports_paired_changes(tmp_path: Path) -> None:
    from eval.app import ABLATIONS

    folder = _benchmark(tmp_path / "news")
    lines: list[str] = []
    opts = EvalOptions(questions=folder, out=tmp_path / "out", cache=tmp_path / "cache", gate=False,
                       progress=False, ablate=True)
    run_eval(opts, embedder=HashingEmbedder(), echo=lines.append)
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    names = [a["ablation"] for a in report["ablation"]]
    assert names == [name for name, _ in ABLATIONS[True]]
    for entry in report["ablation"]:
        metrics = {c["metric"] for c in entry["changes"]}
        assert {"answer_accuracy", "ceiling", "abstention_recall"} <= metrics
    assert any(line.startswith("\nwithout the learned passage reranker") for line in lines)


def test_compare_pairs_no_metric_an_older_report_did_not_record() -> None:
    before = {"id": "1", "answerable": True, "correct": True, "abstained": False}
    old = {"meta": {"title": "seed"}, "questions": [before]}
    new = {"meta": {"title": "seed"}, "questions": [{**before, "ceiling": True}]}
    assert {c.metric for c in paired_changes(old, new)} == {"answer_accuracy", "false_abstention_rate"}
