"""The PostgreSQL store (issue 15): `rag bench --store postgresql://…`.

- vectors: write rate (binary COPY) and HNSW build time, then search p50/p95 and recall@10 against
  exact search, at 100k real all-MiniLM-L6-v2 vectors (the chunk and sentence vectors of the
  indexes this checkout has built: the news benchmark's and the training corpus's; random vectors
  would make every HNSW look broken). Queries are the news benchmark's questions, embedded. A
  filtered search (a tenth of the rows pass) must still return 10 rows.
- hybrid: the store's whole search (HNSW + BM25 fused in one query) at 100k chunks of news text.
- servers: the seed corpus in the database, `/ask` throughput at 16 clients for one and for two
  `rag serve` processes on it, and sequential `/ask` p50 against the file store's.

Everything is written to databases of its own beside the one in the URL (`<db>_bench_vectors`,
`<db>_bench_seed`), created when missing and never the URL's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from eval.bench.http_load import QuestionPool, ServerProcess, _ask, _client
from eval.bench.http_load import _sequential as _sequential_asks
from eval.bench.stats import percentiles
from rag.store.postgres.schema import HNSW_EF_CONSTRUCTION, HNSW_M

REPO = Path(__file__).resolve().parents[2]
NEWS = REPO.parent / "shared" / "benchmarks" / "realtimeqa-2022-2024"
VECTOR_SOURCES = ("eval/out/cache/*/index/v-*", "training/out/index/v-*")
TOP_K = 5


@dataclass
class PostgresOptions:
    vectors: int = 100_000
    queries: int = 200
    ef_search: tuple[int, ...] = (40, 64, 100)
    load_seconds: float = 20.0
    clients: int = 16
    sequential_requests: int = 40
    hybrid_chunks: int = 100_000  # 0: skip the whole-search part
    log: Callable[[str], None] = field(default=lambda message: None)


def run_postgres(url: str, options: PostgresOptions) -> dict[str, Any]:
    vectors = real_vectors(options.vectors, options.log)
    queries = _query_vectors(options.queries)
    result: dict[str, Any] = {
        "vectors": vector_figures(_sibling(url, "vectors"), vectors, queries, options.ef_search, options.log)
    }
    if options.hybrid_chunks:
        result["hybrid"] = hybrid_figures(_sibling(url, "hybrid"), options.hybrid_chunks, options.queries, options.log)
    result["servers"] = _server_part(_sibling(url, "seed"), options)
    return result


def hybrid_figures(url: str, chunks: int, queries: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The store's whole search (HNSW + BM25 + fusion, one query) at `chunks` chunks of real news
    text: the news corpus repeated under new ids until it is that large, embedded with the hashing
    embedder (384-d) to keep the build to minutes; the real-vector HNSW figures are `vector_figures`'."""
    import gzip
    import tempfile

    from rag.answer.config import AnswerConfig
    from rag.embedding.fake import HashingEmbedder
    from rag.ingest import ingest
    from rag.settings import Settings
    from rag.store.postgres.load import load_version
    from rag.store.postgres.search import PostgresStore

    with gzip.open(NEWS / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        articles = [json.loads(line) for line in handle if line.strip()]
    embedder = HashingEmbedder(dim=384)
    with tempfile.TemporaryDirectory(prefix="rag-bench-hybrid-") as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        copies = 0
        with open(corpus, "w", encoding="utf-8") as out:
            # ~9.5 chunks an article: enough copies for `chunks` chunks.
            while copies * len(articles) * 9.5 < chunks:
                for article in articles:
                    out.write(json.dumps({**article, "id": f"{article['id']}-copy{copies}"}) + "\n")
                copies += 1
        started = time.perf_counter()
        summary = ingest([corpus], Settings(store=url, index_dir=Path(tmp) / "home"), embedder=embedder)
        ingest_s = time.perf_counter() - started
    log(f"bench postgres: hybrid store of {summary.chunks} chunks ingested in {ingest_s:.0f} s")
    data = load_version(url)
    store = PostgresStore.for_index(url, data, AnswerConfig.defaults(), connections=2)
    questions = [json.loads(line)["question"] for line in (NEWS / "questions.jsonl").read_text().splitlines()]
    questions = questions[:queries]
    vectors = [embedder.embed_query(q) for q in questions]
    pool = AnswerConfig.defaults().candidate_pool
    for q, v in zip(questions[:20], vectors[:20], strict=True):
        store.search(q, v, pool)  # warm the indexes' pages
    times, found = [], []
    for q, v in zip(questions, vectors, strict=True):
        t = time.perf_counter()
        found.append(len(store.search(q, v, pool)))
        times.append((time.perf_counter() - t) * 1000)
    return {
        "chunks": summary.chunks, "sentences": summary.sentences, "ingest_s": round(ingest_s, 1),
        "k_per_side": pool, "latency_ms": percentiles(times), "mean_candidates": round(float(np.mean(found)), 1),
    }


def _sibling(url: str, suffix: str) -> str:
    base, name = url.rsplit("/", 1)
    name = name.split("?")[0] or "postgres"
    target = f"{name}_bench_{suffix}"
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{target}"')
    return f"{base}/{target}"


def real_vectors(n: int, log: Callable[[str], None]) -> np.ndarray:
    """Up to `n` distinct real MiniLM vectors from the indexes this checkout has built."""
    parts = []
    for pattern in VECTOR_SOURCES:
        for generation in sorted(REPO.glob(pattern)):
            for name in ("chunk_vectors.npy", "sentence_vectors.npy"):
                if (generation / name).is_file():
                    parts.append(np.load(generation / name))
    if not parts:
        raise RuntimeError(
            "no built index to take real vectors from: run `rag eval --benchmark ../shared/benchmarks/"
            "realtimeqa-2022-2024` (about 6 min) or `python -m training.reader` first"
        )
    vectors = np.unique(np.vstack(parts).astype(np.float32), axis=0)
    rng = np.random.default_rng(0)
    vectors = vectors[rng.permutation(len(vectors))[:n]]
    log(f"bench postgres: {len(vectors)} real vectors")
    return vectors


def _query_vectors(count: int) -> np.ndarray:
    from rag.embedding import load_embedder
    from rag.settings import Settings

    questions = [json.loads(line)["question"] for line in (NEWS / "questions.jsonl").read_text().splitlines()]
    embedder = load_embedder(Settings())
    return np.vstack([embedder.embed_query(q) for q in questions[:count]]).astype(np.float32)


def vector_figures(
    url: str, vectors: np.ndarray, queries: np.ndarray, ef_search: tuple[int, ...], log: Callable[[str], None]
) -> dict[str, Any]:
    """Write `vectors` into a table of the store's HNSW settings; time and score `queries` on it."""
    n, dim = vectors.shape
    bucket = np.arange(n) % 10  # the filtered search keeps bucket 3: a tenth of the rows
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute("DROP TABLE IF EXISTS bench_chunks")
        conn.execute(f"CREATE TABLE bench_chunks (id integer PRIMARY KEY, bucket integer, embedding vector({dim}))")
        t = time.perf_counter()
        with conn.cursor(binary=True) as cursor, cursor.copy(
            "COPY bench_chunks (id, bucket, embedding) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int4", "int4", "vector"])
            for i in range(n):
                copy.write_row((i, int(bucket[i]), vectors[i]))
        copy_s = time.perf_counter() - t
        log(f"bench postgres: {n} rows copied in {copy_s:.1f} s; building HNSW")
        t = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(
            "CREATE INDEX ON bench_chunks USING hnsw (embedding vector_ip_ops)"
            f" WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
        )
        conn.execute("CREATE INDEX ON bench_chunks (bucket)")
        conn.execute("ANALYZE bench_chunks")
        build_s = time.perf_counter() - t
        exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
        allowed = np.flatnonzero(bucket == 3)
        exact_filtered = allowed[np.argsort(-(queries @ vectors[allowed].T), axis=1)[:, :10]]
        searches = {}
        for ef in ef_search:
            searches[str(ef)] = _searches(conn, queries, exact, exact_filtered, ef)
            log(f"bench postgres: ef_search {ef}: {searches[str(ef)]}")
    return {
        "rows": n, "dim": dim, "hnsw": {"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION},
        "copy_rows_per_s": round(n / copy_s), "hnsw_build_s": round(build_s, 1),
        "write_rows_per_s": round(n / (copy_s + build_s)), "queries": len(queries), "by_ef_search": searches,
    }


def _searches(
    conn: psycopg.Connection, queries: np.ndarray, exact: np.ndarray, exact_filtered: np.ndarray, ef: int
) -> dict[str, Any]:
    conn.execute(f"SET hnsw.ef_search = {int(ef)}")
    conn.execute("SET hnsw.iterative_scan = relaxed_order")
    plain = "SELECT id FROM bench_chunks ORDER BY embedding <#> %s LIMIT 10"
    filtered = (
        "SELECT id FROM (SELECT id, embedding <#> %s AS d FROM bench_chunks WHERE bucket = 3"
        " ORDER BY d LIMIT 10) AS t ORDER BY d"
    )
    out: dict[str, Any] = {}
    for name, statement, truth in (("unfiltered", plain, exact), ("filtered_10pct", filtered, exact_filtered)):
        for q in queries[:20]:  # warm the index's pages
            conn.execute(statement, (q,)).fetchall()
        times, recalls, short = [], [], 0
        for q, expected in zip(queries, truth, strict=True):
            t = time.perf_counter()
            ids = [row[0] for row in conn.execute(statement, (q,)).fetchall()]
            times.append((time.perf_counter() - t) * 1000)
            recalls.append(len(set(ids) & set(expected.tolist())) / 10)
            short += len(ids) < 10
        out[name] = {
            "latency_ms": percentiles(times), "recall_at_10": round(float(np.mean(recalls)), 4),
            "queries_short_of_10": short,
        }
    return out


# -- servers ------------------------------------------------------------------------------------


def _server_part(url: str, options: PostgresOptions) -> dict[str, Any]:
    import tempfile

    from eval.bench.inprocess import load_questions

    pool = QuestionPool(load_questions())  # never the same text twice: every request is a real model call
    with tempfile.TemporaryDirectory(prefix="rag-bench-pg-") as tmp:
        home = Path(tmp) / "index"
        subprocess.run(_rag("ingest", str(REPO / "seeds"), "--index", str(home)), check=True, timeout=900)
        subprocess.run(
            _rag("ingest", str(REPO / "seeds"), "--index", str(home), "--store", url), check=True, timeout=900
        )
        result: dict[str, Any] = {}
        with _serving(home) as file_base:
            result["file_store_sequential_ask_ms"] = _sequential(file_base, pool, options.sequential_requests)
        with _serving(home, "--store", url) as first:
            result["postgres_sequential_ask_ms"] = _sequential(first, pool, options.sequential_requests)
            result["one_server"] = _load([first], pool, options)
            options.log(f"bench postgres: one server {result['one_server']}")
            with _serving(home, "--store", url) as second:
                result["two_servers"] = _load([first, second], pool, options)
                options.log(f"bench postgres: two servers {result['two_servers']}")
    one, two = result["one_server"]["requests_per_s"], result["two_servers"]["requests_per_s"]
    result["two_over_one"] = round(two / one, 2) if one else None
    file_p50 = result["file_store_sequential_ask_ms"]["p50"]
    result["ask_p50_over_file_store"] = round(result["postgres_sequential_ask_ms"]["p50"] / file_p50, 2)
    return result


def _rag(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


@contextlib.contextmanager
def _serving(home: Path, *extra: str) -> Iterator[str]:
    with ServerProcess(home, extra_args=extra) as server:
        server.start(timeout_s=300)
        yield server.url


def _sequential(base: str, pool: QuestionPool, count: int) -> dict[str, float]:
    records = asyncio.run(_sequential_asks(base, [pool.next() for _ in range(count)], TOP_K, warm_up=True))
    return percentiles([(r.end - r.start) * 1000 for r in records])


def _load(bases: list[str], pool: QuestionPool, options: PostgresOptions) -> dict[str, Any]:
    """`options.clients` closed-loop clients for `options.load_seconds`, taking turns over `bases`."""

    async def run() -> dict[str, Any]:
        clients = [_client(base, options.clients) for base in bases]
        records: list[Any] = []
        turn = iter(range(10**9))
        started = time.perf_counter()
        stop = started + options.load_seconds

        async def worker() -> None:
            while time.perf_counter() < stop:
                records.append(await _ask(clients[next(turn) % len(clients)], pool.next(), TOP_K))

        await asyncio.gather(*(worker() for _ in range(options.clients)))
        elapsed = time.perf_counter() - started
        for client in clients:
            await client.aclose()
        ok = [(r.end - r.start) * 1000 for r in records if r.ok]
        return {
            "servers": len(bases), "clients": options.clients, "seconds": round(elapsed, 1),
            "requests_per_s": round(len(ok) / elapsed, 1), "errors": len(records) - len(ok),
            "latency_ms": percentiles(ok),
        }

    return asyncio.run(run())
