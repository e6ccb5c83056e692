"""The service's own small SQLite file (feedback, Slack thread context): one connection per call,
WAL and full sync, so every write is durable once the call returns."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.errors import StoreUnavailableError


class SQLiteFile:
    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.connect() as conn:
                conn.execute(schema)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailableError(f"service database {self.path}: {exc}") from None

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction (committed on exit, rolled back on an error)."""
        with self._lock:
            try:
                conn = sqlite3.connect(self.path, timeout=10)
            except sqlite3.Error as exc:
                raise StoreUnavailableError(f"service database {self.path}: {exc}") from None
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                with conn:
                    yield conn
            finally:
                conn.close()
