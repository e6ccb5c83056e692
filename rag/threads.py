"""Follow-up questions in a conversation thread (Slack): the thread's earlier question becomes
context for a new one that lacks its own subject.

"How much did Alibaba sell on Singles' Day 2017?" then, in the same thread, "And the year
before?" is answered as "And the year before? (Alibaba, Singles, 2017)": the new question names
nothing and no year, so the earlier one's names and years are carried over for retrieval. The
memory of threads is durable (SQLite beside the index, or the PostgreSQL store) and forgets a
thread after a bounded age.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from rag.answer.names import capitalised_words
from rag.local_db import SQLiteFile
from rag.settings import Settings
from rag.years import named_years

MAX_QUESTION_CHARS = 2000


def with_context(question: str, earlier: str) -> str:
    """`question` with what it lacks from `earlier` (its names when it has none, its years when it
    has none) in parentheses; `question` itself when it lacks neither, or `earlier` has nothing."""
    carried: list[str] = []
    if not capitalised_words(question):
        carried += [w.rstrip(".,;:?!’'") for w in dict.fromkeys(capitalised_words(earlier))]
    if not named_years(question):
        carried += [str(y) for y in sorted(named_years(earlier))]
    carried = [c for c in carried if c]
    if not carried:
        return question
    return f"{question} ({', '.join(carried)})"


class ThreadMemory(Protocol):
    def remember(self, thread: str, question: str) -> None: ...

    def recall(self, thread: str) -> str | None:
        """The last question answered in this thread within the age limit, or None."""
        ...


class SQLiteThreads:
    def __init__(self, path: Path, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self.file = SQLiteFile(
            path,
            "CREATE TABLE IF NOT EXISTS threads (thread TEXT PRIMARY KEY, question TEXT NOT NULL, at REAL NOT NULL)",
        )

    def remember(self, thread: str, question: str) -> None:
        now = time.time()
        with self.file.connect() as conn:
            conn.execute("DELETE FROM threads WHERE at < ?", (now - self.max_age_s,))
            conn.execute(
                "INSERT INTO threads VALUES (?, ?, ?) ON CONFLICT (thread) DO UPDATE SET question = excluded.question,"
                " at = excluded.at", (thread, question[:MAX_QUESTION_CHARS], now),
            )

    def recall(self, thread: str) -> str | None:
        with self.file.connect() as conn:
            row = conn.execute(
                "SELECT question FROM threads WHERE thread = ? AND at >= ?", (thread, time.time() - self.max_age_s)
            ).fetchone()
        return None if row is None else str(row[0])


class PostgresThreads:
    def __init__(self, url: str, max_age_s: float) -> None:
        from rag.store.postgres.connect import connection

        self.url = url
        self.max_age_s = max_age_s
        self._connection = connection
        with connection(url) as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS rag_threads (thread text PRIMARY KEY, question text NOT NULL,"
                " at double precision NOT NULL)"
            )
            conn.commit()

    def remember(self, thread: str, question: str) -> None:
        now = time.time()
        with self._connection(self.url) as conn:
            conn.execute("DELETE FROM rag_threads WHERE at < %s", (now - self.max_age_s,))
            conn.execute(
                "INSERT INTO rag_threads VALUES (%s, %s, %s) ON CONFLICT (thread) DO UPDATE"
                " SET question = EXCLUDED.question, at = EXCLUDED.at", (thread, question[:MAX_QUESTION_CHARS], now),
            )
            conn.commit()

    def recall(self, thread: str) -> str | None:
        with self._connection(self.url) as conn:
            row = conn.execute(
                "SELECT question FROM rag_threads WHERE thread = %s AND at >= %s",
                (thread, time.time() - self.max_age_s),
            ).fetchone()
        return None if row is None else str(row[0])


def open_threads(settings: Settings) -> ThreadMemory:
    if settings.store:
        return PostgresThreads(settings.store, settings.slack_thread_ttl_s)
    return SQLiteThreads(settings.service_db or settings.index_dir / "service.sqlite3", settings.slack_thread_ttl_s)
