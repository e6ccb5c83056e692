"""Prometheus metrics, one registry per application instance.

A registry of our own (not prometheus-client's global one) so that two apps in one process,
as in the tests, never collide on metric names or see each other's counts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from rag.types import Answer

# Request latencies: a cached answer takes milliseconds, a cold LLM answer many seconds.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
# Stage names come from the engine's `timings_ms` keys; anything odd is not turned into a label,
# so a bug there cannot explode the number of time series.
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MAX_STAGES = 24


def outcome_of(status: int) -> str:
    if status < 400:
        return "success"
    if status == 499:  # the client closed the connection before its answer
        return "client_closed"
    if status < 500:
        return "client_error"
    return "server_error"


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "rag_http_requests",
            "HTTP requests served, by route template, method, status and outcome",
            ["route", "method", "status", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "Time to serve an HTTP request, by route template, method and outcome",
            ["route", "method", "outcome"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("rag_http_requests_in_flight", "HTTP requests being served now", registry=r)
        self.stage = Histogram(
            "rag_pipeline_stage_duration_seconds",
            "Time spent in each pipeline stage (encode, retrieve, compose, …) per operation",
            ["operation", "stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "rag_answers",
            "Answers composed, by mode and whether the system abstained",
            ["mode", "abstained"],
            registry=r,
        )
        self.engine_ready = Gauge("rag_engine_ready", "1 when the index is loaded and answering", registry=r)
        self.index_documents = Gauge("rag_index_documents", "Documents in the loaded index", registry=r)
        self.index_swaps = Counter(
            "rag_index_swaps_total", "New index generations swapped in without a restart", registry=r
        )
        self.slack = Counter(
            "rag_slack_requests",
            "Slack requests and deliveries, by kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.feedback = Counter(
            "rag_feedback", "Feedback on answers, by rating (up, down) and channel (page, slack, api)",
            ["rating", "channel"], registry=r,
        )
        self._stages: set[tuple[str, str]] = set()

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        outcome = outcome_of(status)
        self.requests.labels(route, method, str(status), outcome).inc()
        self.latency.labels(route, method, outcome).observe(max(seconds, 0.0))

    def observe_timings(self, operation: str, timings_ms: Mapping[str, float]) -> None:
        for stage, ms in timings_ms.items():
            if not _STAGE_NAME.match(stage) or not isinstance(ms, int | float) or not math.isfinite(ms):
                continue
            key = (operation, stage)
            if key not in self._stages:
                if len(self._stages) >= _MAX_STAGES:
                    continue
                self._stages.add(key)
            self.stage.labels(operation, stage).observe(max(ms, 0.0) / 1000.0)

    def observe_answer(self, answer: Answer) -> None:
        self.answers.labels(answer.mode, "true" if answer.abstained else "false").inc()
        self.observe_timings("ask", answer.timings_ms)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
