"""An event-loop probe: GET /healthz every `interval` seconds, from a process of its own.

The probe shows whether model work ever blocks the server's event loop: /healthz does no engine
work, so its latency is the loop's own delay. It must not share the load generator's process:
once the httpx client saturates its core (16 clients of cached answers do), a probe on the same
event loop or behind the same GIL measures the client's queue instead. Measured that way, /healthz
p99 read 430-620 ms while the server used 0.7 of its 2 cores.

`python -m eval.bench.probe URL SECONDS INTERVAL` prints the latencies (ms) as one JSON list.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

PROBE_TIMEOUT_S = 10.0


def probe(url: str, seconds: float, interval: float) -> list[float]:
    """Latencies (ms) of GET /healthz over one kept-alive connection; failed probes are left out."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=PROBE_TIMEOUT_S)
    latencies: list[float] = []
    stop = time.perf_counter() + seconds
    try:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
            except (OSError, http.client.HTTPException):
                connection.close()  # reconnects on the next request
            time.sleep(interval)
    finally:
        connection.close()
    return latencies


class HealthProbe:
    """Runs `probe` in a child process for the duration of a `with` block; then `latencies_ms`."""

    def __init__(self, url: str, seconds: float, interval: float = 0.05) -> None:
        self.url = url
        self.seconds = seconds
        self.interval = interval
        self.latencies_ms: list[float] = []
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> HealthProbe:
        package_root = str(Path(__file__).resolve().parents[2])
        command = [sys.executable, "-m", "eval.bench.probe", self.url, str(self.seconds), str(self.interval)]
        self._proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=package_root)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        assert self._proc is not None
        try:
            out, _ = self._proc.communicate(timeout=self.seconds + PROBE_TIMEOUT_S + 30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            return
        if self._proc.returncode == 0 and out.strip():
            self.latencies_ms = [float(x) for x in json.loads(out)]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m eval.bench.probe URL SECONDS INTERVAL", file=sys.stderr)
        return 2
    url, seconds, interval = argv[0], float(argv[1]), float(argv[2])
    print(json.dumps([round(ms, 3) for ms in probe(url, seconds, interval)]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
