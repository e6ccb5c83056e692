"""Shared fixtures.

Most tests use the deterministic `HashingEmbedder` over an index of `seeds/` built once per
session; tests marked `integration` load the real all-MiniLM-L6-v2 model, also once per session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.embedding.fake import HashingEmbedder
from rag.engine import RagEngine
from rag.ingest import ingest
from rag.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture()
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def fake_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of seeds/ built with the fake embedder. Read-only: copy it before changing it."""
    index_dir = tmp_path_factory.mktemp("fake-index")
    ingest([SEEDS], Settings(index_dir=index_dir), embedder=HashingEmbedder())
    return index_dir


@pytest.fixture()
def writable_index(fake_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(fake_index_dir, target)
    return target


@pytest.fixture(scope="session")
def fake_engine(fake_index_dir: Path) -> RagEngine:
    return RagEngine.open(Settings(index_dir=fake_index_dir), embedder=HashingEmbedder())


@pytest.fixture(scope="session")
def real_embedder(tmp_path_factory: pytest.TempPathFactory):
    from rag.embedding import load_embedder

    # The ONNX export is cached under index_dir/models: keep it out of the work tree.
    return load_embedder(Settings(index_dir=tmp_path_factory.mktemp("embedder-home")))


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:
    index_dir = tmp_path_factory.mktemp("real-index")
    ingest([SEEDS], Settings(index_dir=index_dir), embedder=real_embedder)
    return index_dir


@pytest.fixture(scope="session")
def real_engine(real_index_dir: Path, real_embedder) -> RagEngine:
    return RagEngine.open(Settings(index_dir=real_index_dir), embedder=real_embedder)


# --- The HTTP service (issue 4) -----------------------------------------------------------


class StubEngine:
    """A stand-in for RagEngine with scripted answers, for service tests that need cases a
    real index cannot produce on demand (NaN scores, markup in titles, slow or failing calls)."""

    index_version = "stub-1"

    def __init__(self, answer=None, hits=(), documents=(), delay_s: float = 0.0, error=None, gate=None) -> None:
        from rag.types import Answer

        abstained = Answer("q", "Nothing here.", True, (), "extractive", "stub-1", {}, "no_relevant_passage")
        self.answer = answer or abstained
        self.hits = tuple(hits)
        self._documents = list(documents)
        self.delay_s = delay_s
        self.error = error
        self.gate = gate  # a threading.Event: `ask` blocks until the test opens it
        self.calls: list[tuple[str, object]] = []

    def _work(self, name: str, arg: object) -> None:
        import time

        self.calls.append((name, arg))
        if name != "ask":
            return
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        if self.delay_s:
            time.sleep(self.delay_s)  # a blocking call, like the real CPU-bound engine
        if self.error is not None:
            raise self.error

    def ask(self, question, top_k=5, filters=None):
        from dataclasses import replace

        self._work("ask", question)
        return replace(self.answer, question=question)

    def search(self, query, k=5, filters=None):
        from rag.types import SearchResult

        self._work("search", query)
        return SearchResult(query, self.hits[:k], self.index_version, {"encode": 0.1, "retrieve": 0.2})

    def documents(self):
        return list(self._documents)

    def document(self, doc_id):
        from rag.errors import NotFoundError

        for d in self._documents:
            if d.doc_id == doc_id:
                return d
        raise NotFoundError(f"no document with id {doc_id!r}")


@pytest.fixture(scope="session")
def stub_engine_cls() -> type[StubEngine]:
    return StubEngine


@pytest.fixture()
def make_service_client(fake_engine: RagEngine, fake_index_dir: Path, tmp_path: Path):
    """`make(engine=None, slack_transport=None, started=True, **settings)` → a TestClient over
    `service.create_app` (default engine: the session's fake-embedder index of seeds/)."""
    import contextlib
    import dataclasses

    from fastapi.testclient import TestClient

    from service import create_app

    stack = contextlib.ExitStack()

    def make(engine=None, slack_transport=None, raise_server_exceptions=True, started=True, **changes):
        # started=False: the test enters the client itself (`with make(...) as client:`), so that
        # leaving the block shuts the app down and every background task has finished.
        # Feedback and Slack thread context go to this test's own file, never the shared index folder.
        base = Settings(index_dir=fake_index_dir, service_db=tmp_path / "service.sqlite3")
        settings = dataclasses.replace(base, **changes)
        chosen = engine if engine is not None else fake_engine
        app = create_app(settings, lambda _s: chosen, slack_transport=slack_transport, wait_for_engine=True)
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        return stack.enter_context(client) if started else client

    yield make
    stack.close()


# --- The PostgreSQL store (issue 15) -------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a real PostgreSQL server with pgvector (its `postgres` maintenance database).

    `scripts/test.sh` starts it before the suite (RAG_TEST_POSTGRES); without that, the first
    worker to get here starts it through the same script, under a lock.
    """
    import fcntl
    import os
    import subprocess

    url = os.environ.get("RAG_TEST_POSTGRES")
    if not url:
        with open(REPO / ".pg.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = subprocess.run(
                [str(REPO / "scripts" / "postgres.sh"), "start"], check=True, capture_output=True, text=True
            )
            url = done.stdout.strip().splitlines()[-1]
    return url.rsplit("/", 1)[0] + "/postgres"


@pytest.fixture()
def postgres_url(postgres_server: str):
    """A fresh, empty database on the real server, dropped after the test."""
    import uuid

    import psycopg

    name = f"rag_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    from rag.store.postgres.connect import close_shared_pools

    close_shared_pools()
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
