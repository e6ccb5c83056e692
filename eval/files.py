"""Reading the evaluator's input files (questions, BEIR data, thresholds, earlier reports).

Every failure is an `InputFileError` naming the file (and line), which the CLI turns into exit
code 2 with a one-line reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag.errors import InputFileError


def read_text(path: Path, missing: str) -> str:
    """The file's UTF-8 text; `missing` is the reason given when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputFileError(path, missing) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read: {exc}") from exc


def read_json(path: Path, missing: str, invalid: str = "not valid JSON") -> Any:
    text = read_text(path, missing)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputFileError(path, f"{invalid}: {exc}") from exc


def read_jsonl(path: Path, missing: str) -> list[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line."""
    rows = []
    for lineno, line in enumerate(read_text(path, missing).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise InputFileError(path, f"invalid JSON: {exc.msg}", line=lineno) from exc
    return rows
