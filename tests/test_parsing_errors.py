"""Bad input raises InputFileError with a one-line reason naming the file (and the JSONL line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import InputFileError
from rag.parsing import parse_file, parse_paths


def _write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _error(paths: list[Path]) -> InputFileError:
    with pytest.raises(InputFileError) as info:
        parse_paths(paths)
    err = info.value
    assert "\n" not in str(err)
    assert err.exit_code == 2
    return err


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "gone.txt"
    err = _error([missing])
    assert str(err) == f"{missing}: no such file or directory"
    with pytest.raises(InputFileError, match=r"gone\.txt: no such file"):
        parse_file(missing, "gone.txt")


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.txt", b""),
        ("blank.md", b"  \n\n\t \n"),
        ("bom_only.html", b"\xef\xbb\xbf"),
        ("nbsp_only.txt", "\xa0 \n".encode()),
        ("empty.jsonl", b"\n\n"),
    ],
)
def test_empty_files(tmp_path: Path, name: str, data: bytes) -> None:
    path = _write_bytes(tmp_path / name, data)
    err = _error([path])
    assert str(err).startswith(f"{path}: file is empty")
    assert err.path == str(path)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("nul.txt", b"text\x00with a NUL byte", "binary file (contains NUL bytes)"),
        ("latin1.md", "caf\xe9 au lait".encode("latin-1"), "invalid byte at offset 3"),
        ("image.html", b"\x89PNG\r\n\x1a\n\xff\xd8\xff", "non-UTF-8"),
        ("utf16.jsonl", '{"text": "x"}'.encode("utf-16"), "binary file"),
    ],
)
def test_binary_files(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    path = _write_bytes(tmp_path / name, data)
    err = _error([path])
    assert str(err).startswith(f"{path}: ")
    assert reason in str(err)


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = _write_bytes(tmp_path / "bom.txt", "\ufeffTitle line\n\nBody text here.".encode())
    [doc] = parse_paths([path])
    assert (doc.title, doc.text) == ("Title line", "Body text here.")


def test_malformed_jsonl_line_names_its_line(tmp_path: Path) -> None:
    lines = [json.dumps({"id": "a", "text": "ok"}), "", '{"id": "b", "text": "unterminated}']
    path = _write_bytes(tmp_path / "bad.jsonl", "\n".join(lines).encode())
    err = _error([path])
    assert str(err).startswith(f"{path}:3: malformed JSON")
    assert err.line == 3


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"id": "a", "title": "no text"}, "missing required field 'text'"),
        ({"id": "a", "text": "   "}, "field 'text' is empty"),
        ({"id": "a", "text": ""}, "field 'text' is empty"),
        ({"id": "a", "text": ["list"]}, "field 'text' must be a string"),
        ([1, 2], "expected a JSON object"),
        ({"id": {"nested": 1}, "text": "x"}, "field 'id' must be a string or a number"),
    ],
)
def test_bad_jsonl_records_name_their_line(tmp_path: Path, record: object, reason: str) -> None:
    good = json.dumps({"id": "ok", "text": "fine"})
    path = _write_bytes(tmp_path / "records.jsonl", f"{good}\n{json.dumps(record)}\n".encode())
    err = _error([path])
    assert str(err) == f"{path}:2: {reason}" or str(err).startswith(f"{path}:2: {reason}")
    assert err.line == 2


def test_duplicate_id_inside_a_jsonl_file(tmp_path: Path) -> None:
    lines = [json.dumps({"id": "same", "text": "one"}), json.dumps({"id": "same", "text": "two"})]
    path = _write_bytes(tmp_path / "dupe.jsonl", "\n".join(lines).encode())
    err = _error([path])
    assert str(err) == f"{path}:2: duplicate id 'same' (first at line 1)"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"id": "a", "text": "an object, not a list"}', "expected a JSON list of objects, got dict"),
        ("[]", "the JSON list is empty"),
        ('[{"text": "ok"}, "a string"]', "item 1: expected a JSON object, got str"),
        ('[{"id": "a", "title": "no text"}]', "item 0: missing required field 'text'"),
        ('[{"text": "ok"},', "malformed JSON"),
    ],
)
def test_bad_json_files(tmp_path: Path, content: str, reason: str) -> None:
    path = _write_bytes(tmp_path / "docs.json", content.encode())
    err = _error([path])
    assert str(err).startswith(f"{path}")
    assert reason in str(err)


@pytest.mark.parametrize(
    "content",
    [
        "<rss><channel><item><title>Broken",
        "<?xml version='1.0'?><html><body>Not a feed at all</body></html>",
        "this is not XML",
    ],
)
def test_unparseable_or_entryless_feeds(tmp_path: Path, content: str) -> None:
    path = _write_bytes(tmp_path / "feed.xml", content.encode())
    err = _error([path])
    assert str(err).startswith(f"{path}: ")
    assert "RSS/Atom" in str(err)


def test_explicit_file_with_unknown_extension(tmp_path: Path) -> None:
    path = _write_bytes(tmp_path / "report.pdf", b"%PDF-1.4")
    err = _error([path])
    assert str(err).startswith(f"{path}: unsupported file type '.pdf'")
    with pytest.raises(InputFileError, match=r"report\.pdf: unsupported file type"):
        parse_file(path, "report.pdf")


def test_html_without_any_text(tmp_path: Path) -> None:
    path = _write_bytes(tmp_path / "empty.html", b"<html><head><script>x()</script></head><body></body></html>")
    err = _error([path])
    assert str(err) == f"{path}: no article text found"


def test_duplicate_doc_ids_across_files_name_both(tmp_path: Path) -> None:
    first = _write_bytes(tmp_path / "a.jsonl", json.dumps({"id": "dup", "text": "one"}).encode())
    second = _write_bytes(tmp_path / "b.jsonl", json.dumps({"id": "dup", "text": "two"}).encode())
    err = _error([first, second])
    assert str(err).startswith(f"{second}: duplicate doc_id 'dup'")
    assert str(first) in str(err)


def test_one_bad_file_fails_the_whole_parse(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    _write_bytes(root / "a_good.md", b"# Good\n\nFine text.")
    bad = _write_bytes(root / "b_bad.jsonl", b'{"text": "fine"}\nnot json\n')
    _write_bytes(root / "c_good.md", b"# Also good\n\nMore text.")
    err = _error([root])
    assert str(err).startswith(f"{bad}:2: ")
