"""HTTP: a real `rag serve` process on a free loopback port, loaded by an httpx async client.

- sequential: one `/ask` at a time; p50/p95/p99 as the client saw them (and the server's own
  `timings_ms.total`, so the HTTP overhead shows);
- concurrency levels (1, 8, 16, 32 clients): each level runs for a bounded time cut into equal
  windows; per window throughput (completed requests/s), p50/p95/p99 and errors; each figure the
  median (min, max) over the windows. Meanwhile a probe in a process of its own GETs `/healthz`
  every 50 ms (`eval.bench.probe`): if model work ever blocked the event loop, its latency would
  show it.
- the server's resident memory once ready, and its peak (VmHWM, the kernel's high-water mark, so no
  sampling can miss a spike), and the CPU it used per level (cores busy on average).

"cold" requests never repeat a text: each is an eval question with its words re-spaced (one, two or
three spaces between words, per a counter), which tokenizes to the same tokens and gets the same answer
but is a different cache key, so every request pays for a real model call. Responses say whether
that held (`encode_cached_share`: share of answers whose encode stage took < 0.05 ms). "warm"
repeats the plain questions after they were all asked once: what the query cache makes of
repeats.

Client and server share the machine's cores; the client's own CPU use per level is reported too.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from eval.bench.memory import MB, peak_rss_bytes, rss_bytes
from eval.bench.probe import HealthProbe
from eval.bench.stats import percentiles, summarize, summarize_runs

CACHED_ENCODE_MS = 0.05


@dataclass
class HttpOptions:
    concurrency: tuple[int, ...] = (1, 8, 16, 32)
    level_seconds: float = 10.0
    windows: int = 3
    sequential_requests: int = 50
    sequential_runs: int = 3
    warm_concurrency: int = 16  # 0: no warm level
    top_k: int = 5
    startup_timeout_s: float = 300.0  # first start may export the ONNX model
    log_path: Path | None = None
    log: Callable[[str], None] = field(default=lambda message: None)


class QuestionPool:
    """An endless supply of distinct request texts made from the eval questions (see module doc)."""

    def __init__(self, questions: Sequence[str]) -> None:
        self._words = [q.split() for q in questions]
        self._count = 0

    def next(self) -> str:
        words = self._words[self._count % len(self._words)]
        variant = self._count // len(self._words)
        self._count += 1
        # The variant number in base 3 picks 1, 2 or 3 spaces for each gap between words (a question
        # of w words has 3^(w-1) spellings, 19,683 for 10 words), all tokenizing alike; the last gap
        # takes whatever is left of the number, so no two variants are ever the same text.
        out = words[0]
        for position, word in enumerate(words[1:], start=2):
            if position == len(words):
                digit = variant
            else:
                variant, digit = divmod(variant, 3)
            out += " " * (1 + digit) + word
        return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`python -m cli serve --index DIR --host 127.0.0.1 --port P` as a child process."""

    def __init__(
        self, index_dir: Path, log_path: Path | None = None, env: dict[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.index_dir = index_dir
        self.extra_args = tuple(extra_args)  # e.g. ("--store", url)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout_s: float) -> float:
        """Start and wait for `/readyz` 200; returns seconds to ready."""
        self._log_handle = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        command = [sys.executable, "-m", "cli", "serve", "--index", str(self.index_dir)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), *self.extra_args]
        started = time.perf_counter()
        self.proc = subprocess.Popen(command, stdout=self._log_handle, stderr=subprocess.STDOUT, env=self.env)
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.perf_counter() - started < timeout_s:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"rag serve exited with status {self.proc.returncode} (log: {self.log_path})")
                try:
                    if client.get("/readyz").status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"rag serve was not ready within {timeout_s:.0f}s (log: {self.log_path})")

    def cpu_seconds(self) -> float:
        """user + system CPU time of the server so far (from /proc/<pid>/stat)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15 of stat)

    def memory_mb(self) -> dict[str, float | None]:
        rss, peak = rss_bytes(self.pid), peak_rss_bytes(self.pid)
        return {
            "rss_mb": round(rss / MB, 1) if rss else None,
            "peak_rss_mb": round(peak / MB, 1) if peak else None,
        }

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log_handle not in (None, subprocess.DEVNULL):
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class _Record:
    start: float
    end: float
    ok: bool
    cached: bool = False
    server_ms: float | None = None


async def _ask(client: httpx.AsyncClient, question: str, top_k: int) -> _Record:
    t = time.perf_counter()
    try:
        response = await client.post("/ask", json={"question": question, "top_k": top_k})
        end = time.perf_counter()
        if response.status_code != 200:
            return _Record(t, end, False)
        timings = response.json().get("timings_ms", {})
        encode = timings.get("encode")
        return _Record(
            t, end, True, cached=encode is not None and encode < CACHED_ENCODE_MS, server_ms=timings.get("total")
        )
    except (httpx.HTTPError, ValueError):
        return _Record(t, time.perf_counter(), False)


def _client(url: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0)


async def _sequential(url: str, texts: Sequence[str], top_k: int, warm_up: bool = False) -> list[_Record]:
    async with _client(url, 1) as client:
        if warm_up:  # open the connection off the clock: 1 slow request in 50 is the whole p99
            await client.get("/healthz")
        return [await _ask(client, text, top_k) for text in texts]


async def _level(
    url: str, concurrency: int, seconds: float, next_text: Callable[[], str], top_k: int
) -> tuple[list[_Record], float, float]:
    """Run `concurrency` closed-loop clients for `seconds`."""
    records: list[_Record] = []
    async with _client(url, concurrency) as client:
        started = time.perf_counter()
        stop = started + seconds

        async def worker() -> None:
            while time.perf_counter() < stop:
                records.append(await _ask(client, next_text(), top_k))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return records, started, stop


def _window_stats(records: Sequence[_Record], started: float, stop: float, windows: int) -> list[dict[str, float]]:
    """Per window of equal length (by completion time): throughput, latency percentiles, errors.

    Requests still in flight at the end complete after `stop`: they count in the last window's
    latencies (their wait was real) but not in its throughput.
    """
    width = (stop - started) / windows
    out = []
    for w in range(windows):
        low, high = started + w * width, started + (w + 1) * width
        last = w == windows - 1
        inside = [r for r in records if low <= r.end < high or (last and r.end >= high)]
        done = [r for r in inside if r.ok and r.end < high]
        stats = percentiles([(r.end - r.start) * 1000 for r in inside if r.ok])
        out.append({"rps": round(len(done) / width, 2), **stats, "errors": float(sum(not r.ok for r in inside))})
    return out


def _level_result(
    records: list[_Record],
    health: list[float],
    started: float,
    stop: float,
    windows: int,
    cpu: float,
    client_cpu: float,
) -> dict[str, Any]:
    per_window = _window_stats(records, started, stop, windows)
    seconds = stop - started
    ok = [r for r in records if r.ok]
    return {
        "seconds": round(seconds, 2),
        "requests": len(records),
        "errors": sum(not r.ok for r in records),
        "throughput_rps": summarize([w["rps"] for w in per_window], 2),
        "latency_ms": summarize_runs([{k: w[k] for k in ("p50", "p95", "p99")} for w in per_window]),
        "overall_latency_ms": percentiles([(r.end - r.start) * 1000 for r in ok]),
        "healthz_ms": percentiles(health, (50, 99)),
        "encode_cached_share": round(sum(r.cached for r in ok) / len(ok), 3) if ok else None,
        "server_cpu_cores": round(cpu / seconds, 2),
        "client_cpu_cores": round(client_cpu / seconds, 2),
    }


def run_http(index_dir: Path, questions: Sequence[str], options: HttpOptions) -> dict[str, Any]:
    result: dict[str, Any] = {"url": None, "top_k": options.top_k}
    with ServerProcess(index_dir, options.log_path) as server:
        options.log(f"http: starting rag serve on {server.url}")
        result["startup_s"] = round(server.start(options.startup_timeout_s), 2)
        result["url"] = server.url
        result["server_pid"] = server.pid
        result["memory_ready"] = server.memory_mb()
        pool = QuestionPool(questions)

        options.log(f"http: sequential, {options.sequential_runs} x {options.sequential_requests} requests")
        asyncio.run(_sequential(server.url, [pool.next() for _ in range(5)], options.top_k))  # connect, warm
        seq_runs = []
        server_totals = []
        errors = 0
        for _ in range(options.sequential_runs):
            texts = [pool.next() for _ in range(options.sequential_requests)]
            records = asyncio.run(_sequential(server.url, texts, options.top_k, warm_up=True))
            errors += sum(not r.ok for r in records)
            seq_runs.append(percentiles([(r.end - r.start) * 1000 for r in records if r.ok]))
            server_totals.append(percentiles([r.server_ms for r in records if r.ok and r.server_ms is not None]))
        result["sequential_cold"] = {
            "requests": options.sequential_runs * options.sequential_requests,
            "errors": errors,
            "latency_ms": summarize_runs(seq_runs),
            "server_total_ms": summarize_runs(server_totals),
        }

        levels: dict[str, Any] = {}
        for concurrency in options.concurrency:
            options.log(f"http: {concurrency} concurrent clients for {options.level_seconds:.0f}s (cold)")
            levels[str(concurrency)] = _measure_level(server, pool.next, concurrency, options)
        result["concurrent_cold"] = levels

        if options.warm_concurrency:
            plain = list(questions)
            for text in plain:  # everything asked once: from now on every question is a cache hit
                asyncio.run(_sequential(server.url, [text], options.top_k))
            cycle = iter(range(1 << 62))
            options.log(f"http: {options.warm_concurrency} concurrent clients (warm: repeated questions)")
            result["concurrent_warm"] = {
                str(options.warm_concurrency): _measure_level(
                    server, lambda: plain[next(cycle) % len(plain)], options.warm_concurrency, options
                )
            }
        result["memory_end"] = server.memory_mb()
    return result


def _measure_level(
    server: ServerProcess, next_text: Callable[[], str], concurrency: int, options: HttpOptions
) -> dict[str, Any]:
    cpu_before, client_before = server.cpu_seconds(), time.process_time()
    with HealthProbe(server.url, options.level_seconds) as probe:
        records, started, stop = asyncio.run(
            _level(server.url, concurrency, options.level_seconds, next_text, options.top_k)
        )
    cpu = server.cpu_seconds() - cpu_before
    return _level_result(
        records, probe.latencies_ms, started, stop, options.windows, cpu, time.process_time() - client_before
    )
