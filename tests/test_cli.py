"""The `rag` command line: output, exit codes and one-line errors."""

import json
from pathlib import Path

import pytest

import rag.engine
import rag.ingest
from cli.main import main
from rag.embedding.fake import HashingEmbedder


@pytest.fixture(autouse=True)
def fake_model(monkeypatch) -> None:
    # The CLI loads the configured model; these tests check the plumbing, not the model.
    monkeypatch.setattr(rag.engine, "load_embedder", lambda settings: HashingEmbedder())
    monkeypatch.setattr(rag.ingest, "load_embedder", lambda settings: HashingEmbedder())


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_prints_a_one_line_summary_and_a_rerun_embeds_nothing(capsys, tmp_path: Path, seeds_dir: Path) -> None:
    index = str(tmp_path / "index")
    code, out, _ = _run(capsys, "ingest", str(seeds_dir), "--index", index)
    assert code == 0 and len(out.strip().splitlines()) == 1
    assert "14 documents" in out and "index written" in out
    code, out, _ = _run(capsys, "ingest", str(seeds_dir), "--index", index)
    assert code == 0 and ": 0 embedded" in out and "index unchanged" in out


def test_ask_json_prints_the_ask_body(capsys, fake_index_dir: Path) -> None:
    code, out, _ = _run(capsys, "ask", "How many fake Peppa Pig products were seized?", "--index",
                        str(fake_index_dir), "--json")
    body = json.loads(out)
    assert code == 0
    assert body["question"] == "How many fake Peppa Pig products were seized?"
    assert body["citations"] and body["mode"] == "extractive"
    for citation in body["citations"]:
        assert f"[{citation['n']}]" in body["answer"]


def test_ask_prints_the_answer_and_its_sources(capsys, fake_index_dir: Path) -> None:
    code, out, _ = _run(capsys, "ask", "Peppa Pig raid", "--index", str(fake_index_dir))
    assert code == 0
    assert "[1]" in out and "https://focus.cbbc.org/fake-peppa-pig-raid/" in out


def test_search_prints_ranked_passages_with_title_url_date_and_score(capsys, fake_index_dir: Path) -> None:
    code, out, _ = _run(capsys, "search", "Peppa Pig raid", "--index", str(fake_index_dir), "-k", "3")
    assert code == 0
    assert out.startswith("1. ") and "3. " in out and "4. " not in out
    assert "2017-12-22" in out and "score" in out
    code, out, _ = _run(capsys, "search", "Peppa Pig raid", "--index", str(fake_index_dir), "--json")
    assert [set(h) >= {"doc_id", "title", "url", "published", "score", "text"} for h in json.loads(out)["hits"]]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["ingest", "{tmp}/missing.txt"], "missing.txt"),
        (["ingest", "{tmp}/empty.txt"], "empty.txt"),
        (["ingest", "{tmp}/broken.jsonl"], "broken.jsonl:2"),
        (["ask", "anything", "--index", "{tmp}/no-index"], "no index"),
        (["ask", "   ", "--index", "{fake}"], "empty"),
        (["search", "x", "-k", "0", "--index", "{fake}"], "k must be"),
        (["ask"], "Missing argument"),
        (["eval", "--index", "{fake}", "--set", "sentence_margin=wide", "--out", "{tmp}/r"], "sentence_margin takes"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_reason(
    capsys, tmp_path: Path, fake_index_dir: Path, argv: list[str], needle: str
) -> None:
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "broken.jsonl").write_text('{"id": "a", "text": "ok"}\n{"id": \n')
    argv = [a.format(tmp=tmp_path, fake=fake_index_dir) for a in argv]
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert needle in err


def test_a_corrupt_index_exits_2_and_says_to_rebuild(capsys, writable_index: Path) -> None:
    generation = next(p for p in writable_index.iterdir() if p.name.startswith("v-"))
    (generation / "documents.jsonl").write_text("garbage\n")
    code, _, err = _run(capsys, "ask", "Peppa", "--index", str(writable_index))
    assert code == 2
    assert err.count("\n") == 1 and "rebuild" in err


def test_ingest_into_a_corrupt_index_exits_2_in_one_line_until_rebuild(capsys, writable_index: Path) -> None:
    generation = next(p for p in writable_index.iterdir() if p.name.startswith("v-"))
    (generation / "documents.jsonl").write_text("garbage\n")
    seeds = str(Path(__file__).resolve().parents[1] / "seeds")
    code, _, err = _run(capsys, "ingest", seeds, "--index", str(writable_index))
    assert code == 2 and err.count("\n") == 1 and "--rebuild" in err
    assert generation.is_dir()


def test_a_non_utf8_current_pointer_exits_2_in_one_line(capsys, writable_index: Path) -> None:
    (writable_index / "CURRENT").write_bytes(b"\xff\xfe v-\x80\n")
    code, _, err = _run(capsys, "ask", "Peppa", "--index", str(writable_index))
    assert code == 2 and err.count("\n") == 1 and "CURRENT" in err
