"""Feedback that becomes test questions (issue 17): the stores (SQLite and PostgreSQL, one
contract), POST /feedback with bad input that loses nothing, and `rag feedback export` giving a
file `rag eval --questions` runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli.main import main
from eval.app import EvalOptions, run_eval
from rag.embedding.fake import HashingEmbedder
from rag.feedback import Feedback, FeedbackError, PostgresFeedback, SQLiteFeedback, stats

PEPPA = "How many fake Peppa Pig products were seized?"


def _entry(**changes) -> Feedback:
    values = {
        "rating": "down", "question": PEPPA, "answer": "Something wrong [1].", "mode": "extractive",
        "index_version": "v1", "citations": ({"doc_id": "d1", "start": 0, "end": 10},), "channel": "page",
    }
    return Feedback(**{**values, **changes})


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path):
    if request.param == "sqlite":
        return SQLiteFeedback(tmp_path / "feedback.sqlite3")
    return PostgresFeedback(request.getfixturevalue("postgres_url"))


def test_entries_round_trip_in_order(store) -> None:
    first = store.add(_entry(rating="up"))
    second = store.add(_entry(comment="left out the value", right_answer="£4 million"))
    entries = store.entries()
    assert [e.id for e in entries] == [first, second]
    assert entries[1].right_answer == "£4 million" and entries[1].citations[0]["doc_id"] == "d1"
    assert entries[0].rating == "up" and entries[0].comment is None


def test_a_comment_added_later_amends_the_entry(store) -> None:
    entry_id = store.add(_entry())
    store.amend(entry_id, "wrong figure", None)
    store.amend(entry_id, None, "600,000")
    (entry,) = store.entries()
    assert (entry.comment, entry.right_answer) == ("wrong figure", "600,000")
    with pytest.raises(FeedbackError, match="no feedback entry"):
        store.amend(entry_id + 99, "x", None)
    with pytest.raises(FeedbackError, match="longer than"):
        store.amend(entry_id, "x" * 1_000_000, None)
    assert store.entries()[0].comment == "wrong figure"


def test_bad_entries_are_refused_before_anything_is_written(store) -> None:
    for bad in ({"rating": "meh"}, {"question": "  "}, {"right_answer": "x" * 1_000_000}):
        with pytest.raises(FeedbackError):
            store.add(_entry(**bad))
    assert store.entries() == []


def test_stats_per_week_and_version() -> None:
    week = 1_767_225_600.0  # 2026-01-01, a Thursday: ISO week 2026-W01
    entries = [
        _entry(rating="up", created_at=week, index_version="a"),
        _entry(rating="down", created_at=week, index_version="a", right_answer="x"),
        _entry(rating="down", created_at=week + 7 * 86400, index_version="b"),
    ]
    figures = stats(entries)
    assert figures["by_week"] == [
        {"key": "2026-W01", "entries": 2, "up": 1, "down": 1, "down_rate": 0.5, "with_right_answer": 1},
        {"key": "2026-W02", "entries": 1, "up": 0, "down": 1, "down_rate": 1.0, "with_right_answer": 0},
    ]
    assert [row["key"] for row in figures["by_index_version"]] == ["a", "b"]


def test_the_api_stores_feedback_and_bad_bodies_lose_nothing(make_service_client, tmp_path: Path) -> None:
    db = tmp_path / "f.sqlite3"
    client = make_service_client(service_db=db)
    answer = client.post("/ask", json={"question": PEPPA}).json()
    body = {
        "rating": "down", "question": answer["question"], "answer": answer["answer"], "mode": answer["mode"],
        "index_version": answer["index_version"], "citations": answer["citations"],
        "comment": "left out the value", "right_answer": "over £4 million", "channel": "page",
    }
    response = client.post("/feedback", json=body)
    assert response.status_code == 201 and response.json()["stored"] is True
    big = client.post("/feedback", json={**body, "comment": "x" * 1_000_000})
    assert big.status_code == 413
    for bad in ({"rating": "meh"}, {"comment": "x" * 5000}, {"question": ""}, {"extra": 1}):
        assert client.post("/feedback", json={**body, **bad}).status_code == 422, bad
    malformed = client.post("/feedback", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 400
    (entry,) = SQLiteFeedback(db).entries()
    assert (entry.right_answer, entry.index_version) == ("over £4 million", answer["index_version"])
    metrics = client.get("/metrics").text
    assert 'rag_feedback_total{channel="page",rating="down"} 1.0' in metrics


def test_exported_feedback_runs_through_rag_eval(
    fake_index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "index"
    shutil.copytree(fake_index_dir, index)
    store = SQLiteFeedback(index / "service.sqlite3")
    store.add(_entry(right_answer="600,000"))
    store.add(_entry(rating="up"))
    store.add(_entry(right_answer="a figure no article holds 12345"))
    store.add(_entry(comment="no right answer given"))
    out = tmp_path / "feedback-questions.jsonl"
    assert main(["feedback", "export", "--out", str(out), "--index", str(index)]) == 0
    captured = capsys.readouterr()
    assert "1 questions written" in captured.out and "left out feedback #3" in captured.err
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["answers"] == ["600,000"] and line["gold_doc_ids"] and line["feedback"]["wrong_answer"]

    report_dir = tmp_path / "report"
    code = run_eval(EvalOptions(questions=out, index=index, out=report_dir, gate=False), embedder=HashingEmbedder(),
                    echo=lambda _line: None)
    assert code == 0
    report = json.loads((report_dir / "report.json").read_text())
    assert report["meta"]["questions"] == 1
    assert report["metrics"]["overall"]["answer_accuracy"] == 1.0  # today's answer holds the right one

    assert main(["feedback", "stats", "--index", str(index), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["by_index_version"][0] == {
        "key": "v1", "entries": 4, "up": 1, "down": 3, "down_rate": 0.75, "with_right_answer": 2
    }
