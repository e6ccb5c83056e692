"""The PostgreSQL store on a real server: ingest guarantees, the engine on it, and every way the
database can be unusable (one-line errors, exit 2, 503)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psycopg
import pytest

from cli.main import main
from rag.embedding.fake import HashingEmbedder
from rag.engine import RagEngine
from rag.errors import IndexMissingError, StoreUnavailableError
from rag.ingest import ingest
from rag.settings import Settings
from rag.store.postgres.load import current_version, load_version
from rag.store.postgres.write import _LOCK_KEY

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture(autouse=True)
def _own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings' default index folder (the ingest checkpoint's home) is this test's own."""
    monkeypatch.chdir(tmp_path)


def _counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("rag_documents", "rag_chunks", "rag_sentences")
        )


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    return corpus


def test_ingest_is_incremental_and_replaces_changed_documents(postgres_url: str, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    embedder = HashingEmbedder()
    first = ingest([corpus], Settings(store=postgres_url), embedder=embedder)
    assert first.written and first.embedded == first.chunks
    assert _counts(postgres_url) == (first.documents, first.chunks, first.sentences)

    embedder.calls = 0
    again = ingest([corpus], Settings(store=postgres_url), embedder=embedder)
    assert (again.written, embedder.calls, again.index_version) == (False, 0, first.index_version)

    # One file changes: only its documents are rewritten, and only its new text is embedded.
    changed = sorted(corpus.iterdir())[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nA new closing paragraph about harbour cranes.\n")
    third = ingest([corpus], Settings(store=postgres_url), embedder=embedder)
    assert third.written and third.index_version != first.index_version
    assert 0 < third.embedded < first.chunks
    assert _counts(postgres_url) == (third.documents, third.chunks, third.sentences)
    _assert_postings_match_chunks(postgres_url)
    data = load_version(postgres_url)
    assert data.version == third.index_version == current_version(postgres_url)
    assert any("harbour cranes" in d.text for d in data.documents)

    # --prune: a deleted file's documents go.
    gone = sorted(corpus.iterdir())[-1]
    gone.unlink()
    pruned = ingest([corpus], Settings(store=postgres_url), embedder=embedder, prune=True)
    assert pruned.documents_removed > 0
    assert _counts(postgres_url)[0] == pruned.documents
    assert gone.name not in {d.source for d in load_version(postgres_url).documents}
    _assert_postings_match_chunks(postgres_url)


def _assert_postings_match_chunks(url: str) -> None:
    """The lexical side's postings and lengths follow every change: one row per chunk and lexeme."""
    with psycopg.connect(url) as conn:
        postings, lexemes, unset = conn.execute(
            "SELECT (SELECT count(*) FROM rag_postings), (SELECT sum(length(tsv)) FROM rag_chunks),"
            " (SELECT count(*) FROM rag_chunks WHERE n_terms IS NULL)"
        ).fetchone()
    assert postings == lexemes and unset == 0


def test_the_database_gives_the_file_store_version_and_answers(postgres_url: str, fake_index_dir: Path) -> None:
    embedder = HashingEmbedder()
    ingest([SEEDS], Settings(store=postgres_url), embedder=embedder)
    on_pg = RagEngine.open(Settings(store=postgres_url), embedder=embedder)
    on_files = RagEngine.open(Settings(index_dir=fake_index_dir), embedder=embedder)
    assert on_pg.index_version == on_files.index_version
    for question in ("How many fake Peppa Pig products were seized?", "What is MYBank?"):
        a, b = on_pg.ask(question), on_files.ask(question)
        assert (a.answer, a.abstained) == (b.answer, b.abstained)
        assert [c.doc_id for c in a.citations] == [c.doc_id for c in b.citations]


def test_a_dropped_connection_during_the_write_leaves_the_previous_version(postgres_url: str, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    embedder = HashingEmbedder()
    before = ingest([corpus], Settings(store=postgres_url), embedder=embedder)
    counts = _counts(postgres_url)
    (corpus / "extra.jsonl").write_text('{"id": "extra-1", "title": "Extra", "text": "Harbour cranes."}\n')

    # The ingest's transaction blocks on the manifest row (its last write) while the test holds
    # the table: everything else is written, uncommitted, when its connection is cut.
    errors: list[BaseException] = []
    with psycopg.connect(postgres_url) as holder:
        holder.execute("LOCK TABLE rag_manifest IN SHARE MODE")
        worker = threading.Thread(
            target=lambda: _capture(errors, lambda: ingest([corpus], Settings(store=postgres_url), embedder=embedder))
        )
        worker.start()
        pid = _wait_for_lock_waiter(postgres_url)
        with psycopg.connect(postgres_url, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        holder.rollback()
        worker.join(30)
    assert len(errors) == 1 and isinstance(errors[0], StoreUnavailableError), errors
    assert "\n" not in errors[0].message
    assert current_version(postgres_url) == before.index_version
    assert _counts(postgres_url) == counts
    # The next run completes.
    assert ingest([corpus], Settings(store=postgres_url), embedder=embedder).written


def test_concurrent_ingests_wait_for_each_other(postgres_url: str) -> None:
    embedder = HashingEmbedder()
    ingest([SEEDS], Settings(store=postgres_url), embedder=embedder)
    done = threading.Event()
    with psycopg.connect(postgres_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))  # another ingest is running
        worker = threading.Thread(
            target=lambda: (ingest([SEEDS], Settings(store=postgres_url), embedder=embedder), done.set())
        )
        worker.start()
        _wait_for(postgres_url, "wait_event = 'advisory'")
        assert not done.is_set()
        other.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        worker.join(30)
    assert done.is_set()


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql://nobody@127.0.0.1:1/none", "Connection refused"),
        ("postgresql://nobody@127.0.0.1:notaport/none", "not a valid postgresql:// URL"),
    ],
)
def test_an_unusable_url_is_one_line_and_exit_2(
    url: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(StoreUnavailableError, match=expected) as caught:
        ingest([SEEDS], Settings(store=url), embedder=HashingEmbedder())
    assert "\n" not in caught.value.message
    for command in (["ingest", str(SEEDS)], ["search", "anything"]):
        assert main([*command, "--store", url, "--index", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_a_database_without_pgvector_is_refused(postgres_url: str, postgres_server: str) -> None:
    with pytest.raises(IndexMissingError):  # no tables yet
        load_version(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE rag_manifest (id boolean)")  # a schema, but no extension
    with pytest.raises(StoreUnavailableError, match="pgvector extension is not enabled"):
        load_version(postgres_url)
    # A user who may not create the extension gets told so, not a traceback.
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS rag_plain")
        admin.execute("CREATE ROLE rag_plain LOGIN")
    database = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE rag_manifest")
        conn.execute("GRANT ALL ON SCHEMA public TO rag_plain")
    plain = postgres_url.replace("//postgres@", "//rag_plain@")
    assert plain.endswith(database)
    try:
        with pytest.raises(StoreUnavailableError, match="may not enable it"):
            ingest([SEEDS], Settings(store=plain), embedder=HashingEmbedder())
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("REVOKE ALL ON SCHEMA public FROM rag_plain")


def test_a_schema_of_another_dimension_is_refused(postgres_url: str) -> None:
    ingest([SEEDS], Settings(store=postgres_url), embedder=HashingEmbedder(dim=64))
    with pytest.raises(StoreUnavailableError, match="dimension 64, but the embedder gives 32"):
        ingest([SEEDS], Settings(store=postgres_url), embedder=HashingEmbedder(dim=32))
    assert _counts(postgres_url)[0] == 14


def test_readyz_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from service import create_app
    from service.state import default_engine_factory

    settings = Settings(store="postgresql://nobody@127.0.0.1:1/none", index_dir=tmp_path, index_poll_s=0)
    app = create_app(settings, default_engine_factory, wait_for_engine=True)
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"


def _capture(errors: list[BaseException], call) -> None:
    try:
        call()
    except BaseException as exc:
        errors.append(exc)


def _wait_for(url: str, condition: str) -> int:
    deadline = time.monotonic() + 20
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                f"SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND {condition}"
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError(f"no backend with {condition}")


def _wait_for_lock_waiter(url: str) -> int:
    return _wait_for(url, "wait_event_type = 'Lock' AND query LIKE 'INSERT INTO rag_manifest%'")
