"""Feedback on answers (👍/👎, what was wrong, the right answer), kept durably so that it reaches
the people who tune the system: `rag feedback export` turns the 👎 entries that carry a right
answer into a question file `rag eval --questions` reads (`eval.feedback`).

Two stores behind one small interface: SQLite (the embedded default, a file beside the index)
and PostgreSQL (a table in the store's database, when `RAG_STORE` is set).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag.errors import BadInputError
from rag.local_db import SQLiteFile
from rag.settings import Settings

RATINGS = ("up", "down")
MAX_TEXT_CHARS = 4000  # a comment or a right answer; the question and answer have their own limits
MAX_ANSWER_CHARS = 20_000
MAX_CITATIONS = 50


class FeedbackError(BadInputError):
    code = "bad_feedback"


@dataclass(frozen=True)
class Feedback:
    rating: str
    question: str
    answer: str
    mode: str
    index_version: str
    citations: tuple[dict[str, Any], ...] = ()
    comment: str | None = None
    right_answer: str | None = None
    channel: str = "api"  # where it came from: page, slack, api
    created_at: float = field(default_factory=time.time)
    id: int | None = None

    def __post_init__(self) -> None:
        if self.rating not in RATINGS:
            raise FeedbackError(f"rating must be one of {', '.join(RATINGS)}")
        for name, limit in (("question", 2000), ("answer", MAX_ANSWER_CHARS), ("comment", MAX_TEXT_CHARS),
                            ("right_answer", MAX_TEXT_CHARS), ("mode", 40), ("index_version", 100), ("channel", 20)):
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                raise FeedbackError(f"{name} is longer than {limit} characters")
        if not self.question.strip():
            raise FeedbackError("question is empty")
        if len(self.citations) > MAX_CITATIONS:
            raise FeedbackError(f"at most {MAX_CITATIONS} citations")

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["citations"] = list(self.citations)
        out["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created_at))
        return out


class FeedbackStore(Protocol):
    def add(self, entry: Feedback) -> int: ...

    def amend(self, entry_id: int, comment: str | None, right_answer: str | None) -> None: ...

    def entries(self) -> list[Feedback]: ...


_COLUMNS = ("rating", "question", "answer", "mode", "index_version", "citations", "comment", "right_answer",
            "channel", "created_at")


class SQLiteFeedback:
    """One file; every write is its own committed transaction (durable once `add` returns)."""

    def __init__(self, path: Path) -> None:
        self.file = SQLiteFile(
            path,
            "CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, rating TEXT NOT NULL,"
            " question TEXT NOT NULL, answer TEXT NOT NULL, mode TEXT NOT NULL, index_version TEXT NOT NULL,"
            " citations TEXT NOT NULL, comment TEXT, right_answer TEXT, channel TEXT NOT NULL,"
            " created_at REAL NOT NULL)",
        )

    def add(self, entry: Feedback) -> int:
        with self.file.connect() as conn:
            cursor = conn.execute(
                f"INSERT INTO feedback ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                _row(entry),
            )
            return int(cursor.lastrowid or 0)

    def amend(self, entry_id: int, comment: str | None, right_answer: str | None) -> None:
        _check_texts(comment, right_answer)
        with self.file.connect() as conn:
            found = conn.execute(
                "UPDATE feedback SET comment = coalesce(?, comment), right_answer = coalesce(?, right_answer)"
                " WHERE id = ?", (comment, right_answer, entry_id),
            ).rowcount
        if not found:
            raise FeedbackError(f"no feedback entry {entry_id}")

    def entries(self) -> list[Feedback]:
        with self.file.connect() as conn:
            rows = conn.execute(f"SELECT id, {', '.join(_COLUMNS)} FROM feedback ORDER BY id").fetchall()
        return [_entry(row) for row in rows]


class PostgresFeedback:
    """The same table in the PostgreSQL store's database."""

    def __init__(self, url: str) -> None:
        from rag.store.postgres.connect import connection

        self.url = url
        self._connection = connection
        with connection(url) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS rag_feedback (id bigserial PRIMARY KEY, rating text NOT NULL,"
                " question text NOT NULL, answer text NOT NULL, mode text NOT NULL, index_version text NOT NULL,"
                " citations jsonb NOT NULL, comment text, right_answer text, channel text NOT NULL,"
                " created_at double precision NOT NULL)"
            )
            conn.commit()

    def add(self, entry: Feedback) -> int:
        with self._connection(self.url) as conn:
            row = conn.execute(
                f"INSERT INTO rag_feedback ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"
                " RETURNING id", _row(entry),
            ).fetchone()
            conn.commit()
        return int(row[0]) if row else 0

    def amend(self, entry_id: int, comment: str | None, right_answer: str | None) -> None:
        _check_texts(comment, right_answer)
        with self._connection(self.url) as conn:
            found = conn.execute(
                "UPDATE rag_feedback SET comment = coalesce(%s, comment), right_answer = coalesce(%s, right_answer)"
                " WHERE id = %s", (comment, right_answer, entry_id),
            ).rowcount
            conn.commit()
        if not found:
            raise FeedbackError(f"no feedback entry {entry_id}")

    def entries(self) -> list[Feedback]:
        with self._connection(self.url) as conn:
            rows = conn.execute(
                f"SELECT id, {', '.join(c + ('::text' if c == 'citations' else '') for c in _COLUMNS)}"
                " FROM rag_feedback ORDER BY id"
            ).fetchall()
        return [_entry(row) for row in rows]


def open_feedback(settings: Settings) -> FeedbackStore:
    """PostgreSQL when the index is there; else SQLite at RAG_SERVICE_DB (default <index>/service.sqlite3)."""
    if settings.store:
        return PostgresFeedback(settings.store)
    return SQLiteFeedback(settings.service_db or settings.index_dir / "service.sqlite3")


def _check_texts(*texts: str | None) -> None:
    for text in texts:
        if text is not None and len(text) > MAX_TEXT_CHARS:
            raise FeedbackError(f"feedback text is longer than {MAX_TEXT_CHARS} characters")


def _row(entry: Feedback) -> tuple[Any, ...]:
    values = asdict(entry)
    values["citations"] = json.dumps(list(entry.citations), ensure_ascii=False)
    return tuple(values[c] for c in _COLUMNS)


def _entry(row: Sequence[Any]) -> Feedback:
    values = dict(zip(("id", *_COLUMNS), row, strict=True))
    values["citations"] = tuple(json.loads(values["citations"]))
    return Feedback(**values)


# -- what the tuners read -----------------------------------------------------------------------


def stats(entries: Sequence[Feedback]) -> dict[str, list[dict[str, Any]]]:
    """👍/👎 counts and the 👎 rate per ISO week and per index version."""
    def group(key) -> list[dict[str, Any]]:
        groups: dict[str, list[Feedback]] = {}
        for entry in entries:
            groups.setdefault(key(entry), []).append(entry)
        rows = []
        for name, members in sorted(groups.items()):
            down = sum(1 for e in members if e.rating == "down")
            rows.append({"key": name, "entries": len(members), "up": len(members) - down, "down": down,
                         "down_rate": round(down / len(members), 3),
                         "with_right_answer": sum(1 for e in members if e.right_answer)})
        return rows

    def week(entry: Feedback) -> str:
        return time.strftime("%G-W%V", time.gmtime(entry.created_at))

    return {"by_week": group(week), "by_index_version": group(lambda e: e.index_version)}
