"""Running the question set against a system: in-process on an index, or over HTTP on a deployment.

Both targets speak the SPEC's response bodies (`/search`, `/ask`, `/documents/{id}` as dicts), so
everything downstream (scoring, reports) is the same whichever way the numbers were taken.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from eval.questions import Question
from rag.errors import BadInputError, NotFoundError, QuestionError, RagError


class Target(Protocol):
    """What the benchmark needs from a system under test."""

    description: str

    def search(self, query: str, k: int) -> dict[str, Any]: ...

    def ask(self, question: str, top_k: int) -> dict[str, Any]: ...

    def document_text(self, doc_id: str) -> str | None:
        """The document's clean text, or None when the system does not know the id."""
        ...

    def close(self) -> None: ...


class EngineTarget:
    """An in-process `RagEngine` (or anything with its search/ask/document methods)."""

    def __init__(self, engine: Any, description: str = "in-process") -> None:
        self.engine = engine
        self.description = description

    def search(self, query: str, k: int) -> dict[str, Any]:
        return dict(self.engine.search(query, k=k).as_dict())

    def ask(self, question: str, top_k: int) -> dict[str, Any]:
        return dict(self.engine.ask(question, top_k=top_k).as_dict())

    def document_text(self, doc_id: str) -> str | None:
        try:
            return str(self.engine.document(doc_id).text)
        except NotFoundError:
            return None

    def close(self) -> None:
        return None


class HttpTarget:
    """A running service: `POST /ask`, `GET /search`, `GET /documents/{id}`, with an optional key."""

    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 60.0, client: Any = None) -> None:
        """`client`: an existing `httpx.Client` to send through (tests pass the service's TestClient)."""
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.description = url
        if client is None:
            client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s)
        client.headers.update(headers)
        self._client = client

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import httpx

        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RagError(f"{self.description}{path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise BadInputError(f"{self.description}{path}: HTTP {response.status_code} (check --api-key)")
        if response.status_code == 404 and path.startswith("/documents/"):
            raise NotFoundError(path)
        if response.status_code in (400, 413, 422):
            raise QuestionError(f"{self.description}{path}: HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise RagError(f"{self.description}{path}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            body = response.json()
        except ValueError as exc:
            raise RagError(f"{self.description}{path}: response is not JSON") from exc
        if not isinstance(body, dict):
            raise RagError(f"{self.description}{path}: expected a JSON object")
        return body

    def search(self, query: str, k: int) -> dict[str, Any]:
        return self._request("GET", "/search", params={"q": query, "k": k})

    def ask(self, question: str, top_k: int) -> dict[str, Any]:
        return self._request("POST", "/ask", json={"question": question, "top_k": top_k})

    def document_text(self, doc_id: str) -> str | None:
        try:
            body = self._request("GET", f"/documents/{doc_id}")
        except NotFoundError:
            return None
        text = body.get("text")
        return text if isinstance(text, str) else None

    def close(self) -> None:
        self._client.close()


@dataclass
class Observation:
    """What the system returned for one question, and how long it took (client-side wall time)."""

    question: Question
    search: dict[str, Any] | None = None
    ask: dict[str, Any] | None = None
    search_ms: float | None = None
    ask_ms: float | None = None
    errors: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    observations: list[Observation]
    documents: dict[str, str | None]  # every gold or cited doc_id -> clean text (None: unknown to the system)
    wall_time_s: float
    target: str


ProgressFactory = Callable[[int], Callable[[], None]]


def run_questions(
    target: Target,
    questions: Sequence[Question],
    top_k: int = 5,
    search_k: int = 20,
    progress: ProgressFactory | None = None,
) -> RunResult:
    """Search and ask every question once, then fetch the text of every gold and cited document.

    Per-question failures (a 4xx for an odd question, a timeout) are recorded on the observation and
    score as misses rather than aborting the run. The untimed warm-up call raises instead: if the
    system cannot answer at all (wrong URL, wrong key, unusable index) there is nothing to measure.
    """
    started = time.perf_counter()
    _warm_up(target, questions, top_k, search_k)
    advance = progress(len(questions)) if progress else (lambda: None)
    observations: list[Observation] = []
    for q in questions:
        obs = Observation(q)
        for kind in ("search", "ask"):
            t = time.perf_counter()
            try:
                body = target.search(q.question, search_k) if kind == "search" else target.ask(q.question, top_k)
            except RagError as exc:
                obs.errors.append(f"{kind}: {exc.message}")
                continue
            elapsed = (time.perf_counter() - t) * 1000
            if kind == "search":
                obs.search, obs.search_ms = body, elapsed
            else:
                obs.ask, obs.ask_ms = body, elapsed
        observations.append(obs)
        advance()
    documents = fetch_documents(target, _needed_doc_ids(observations))
    return RunResult(observations, documents, time.perf_counter() - started, target.description)


def _warm_up(target: Target, questions: Sequence[Question], top_k: int, search_k: int) -> None:
    # One untimed call each, so model loading, lazy imports and JIT warm-up do not land in the first
    # question's latency (and skew p99 on small sets). It doubles as the reachability check.
    for q in questions[:3]:
        try:
            target.search(q.question, search_k)
            target.ask(q.question, top_k)
            return
        except QuestionError:
            continue  # that question is odd, not the system: try the next one


def _needed_doc_ids(observations: Iterable[Observation]) -> list[str]:
    ids: dict[str, None] = {}
    for obs in observations:
        for doc_id in obs.question.gold_doc_ids:
            ids[doc_id] = None
        for citation in (obs.ask or {}).get("citations") or ():
            if isinstance(citation, dict) and isinstance(citation.get("doc_id"), str):
                ids[citation["doc_id"]] = None
    return list(ids)


def fetch_documents(target: Target, doc_ids: Iterable[str]) -> dict[str, str | None]:
    return {doc_id: target.document_text(doc_id) for doc_id in doc_ids}


def rich_progress(description: str) -> tuple[ProgressFactory, Callable[[], None]]:
    """A rich progress bar on stderr: (factory for run_questions, stop function)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )

    def factory(total: int) -> Callable[[], None]:
        bar.start()
        task = bar.add_task(description, total=total)
        return lambda: bar.advance(task)

    return factory, bar.stop
