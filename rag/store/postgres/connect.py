"""Connections to the store's database, with every failure turned into a one-line error."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool

from rag.errors import StoreUnavailableError

CONNECT_TIMEOUT_S = 5


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError as exc:
        raise StoreUnavailableError(f"store URL {redact(url)!r} is not a valid postgresql:// URL ({exc})") from None
    if parts.scheme not in {"postgresql", "postgres"}:
        raise StoreUnavailableError(f"store URL {redact(url)!r} is not a postgresql:// URL")


def describe(exc: BaseException, url: str) -> str:
    """psycopg's message, first line only, naming the database."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"PostgreSQL store {redact(url)}: {first}"


def to_array(value: object) -> np.ndarray:
    """A fetched `vector` value as float32 (pgvector's binary loader gives its own `Vector` type)."""
    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)


def _configure(conn: psycopg.Connection) -> None:
    # Without the extension in this database there is no type to register; `schema.check` says so in words.
    with suppress(psycopg.ProgrammingError):
        register_vector(conn)
    conn.commit()


# Search settings of a serving connection, set once: iterative index scans keep walking the HNSW
# graph until k rows pass a filter (pgvector #259); the candidate list starts at 64.
SEARCH_SETTINGS = {"hnsw.iterative_scan": "relaxed_order", "hnsw.ef_search": "64"}


def _configure_search(conn: psycopg.Connection) -> None:
    """A pooled connection: autocommit (a search is one statement, one round trip) and the search settings."""
    with suppress(psycopg.ProgrammingError):
        register_vector(conn)
    for name, value in SEARCH_SETTINGS.items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))


@contextmanager
def connection(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """One connection (ingest, schema checks); closed on exit."""
    check_url(url)
    try:
        conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=autocommit)
    except psycopg.Error as exc:
        raise StoreUnavailableError(describe(exc, url)) from None
    try:
        _configure(conn)
        yield conn
    except psycopg.OperationalError as exc:
        raise StoreUnavailableError(describe(exc, url)) from None
    finally:
        conn.close()


_POOLS: dict[str, ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(url: str, size: int) -> ConnectionPool:
    """One pool per URL and process: an engine swapped in for a new version reuses its connections."""
    with _POOLS_LOCK:
        pool = _POOLS.get(url)
        if pool is None or pool.closed:
            pool = _POOLS[url] = open_pool(url, size)
        return pool


def close_shared_pools() -> None:
    """Close every shared pool (a test about to drop its database)."""
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()


def open_pool(url: str, size: int) -> ConnectionPool:
    """A pool for a serving process: `size` connections, checked before use after a failure."""
    check_url(url)
    pool = ConnectionPool(
        url, min_size=1, max_size=size, open=False, configure=_configure_search, check=ConnectionPool.check_connection,
        kwargs={"connect_timeout": CONNECT_TIMEOUT_S, "autocommit": True}, name="rag",
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
    except Exception as exc:  # psycopg_pool.PoolTimeout hides the cause: connect once to name it
        pool.close()
        try:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as cause:
            raise StoreUnavailableError(describe(cause, url)) from None
        raise StoreUnavailableError(describe(exc, url)) from None
    return pool
