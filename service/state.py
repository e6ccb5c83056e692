"""What one application instance holds: its settings, metrics and the engine once it is loaded.

The engine is loaded at start-up, in a worker thread: the process answers `/healthz` at once,
`/readyz` turns 200 when the index is loaded and has answered a first query, and every route that
needs the engine answers 503 (retryable) until then.

Afterwards `watch_index` reads the committed version every `index_poll_s` seconds (the index
folder's `CURRENT` pointer, or the PostgreSQL store's manifest row); when an ingest has committed a
new one, a new engine is opened and warmed up beside
the old one and then swapped in with one assignment. A request holds the engine it started with,
so nothing in flight fails; a generation that cannot be loaded leaves the old engine serving.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from anyio import CapacityLimiter, to_thread

from rag.errors import IndexError_, RagError
from rag.feedback import Feedback, FeedbackStore, open_feedback
from rag.settings import Settings
from rag.store.current import committed_version
from rag.types import Answer, Document, Filters, SearchResult
from service.errors import NotReadyError
from service.metrics import ServiceMetrics

log = logging.getLogger("rag.service")


class Engine(Protocol):
    """What the service needs from `rag.engine.RagEngine` (tests may pass any look-alike).

    Methods are synchronous and CPU-bound; the service always calls them from worker threads.
    """

    @property
    def index_version(self) -> str: ...

    def search(self, query: str, k: int = 5, filters: Filters | None = None) -> SearchResult: ...

    def ask(self, question: str, top_k: int = 5, filters: Filters | None = None) -> Answer: ...

    def documents(self) -> Sequence[Document]: ...

    def document(self, doc_id: str) -> Document: ...


EngineFactory = Callable[[Settings], Engine]
T = TypeVar("T")


def default_engine_factory(settings: Settings) -> Engine:
    # Imported here: the engine pulls in the embedding model stack, which the app factory and
    # its tests should not pay for when they pass their own factory.
    from rag.engine import RagEngine

    return RagEngine.open(settings)


class ServiceState:
    def __init__(self, settings: Settings, engine_factory: EngineFactory, metrics: ServiceMetrics) -> None:
        self.settings = settings
        self.engine_factory = engine_factory
        self.metrics = metrics
        self.engine: Engine | None = None
        self.document_count = 0
        self.load_error: RagError | None = None
        self.loading = False
        self.swapping = False  # a new index version is being opened beside the one serving
        # What CURRENT said when the serving engine was opened, and a generation that failed to load
        # (not retried until CURRENT changes again).
        self.loaded_pointer: str | None = None
        self._failed_pointer: str | None = None
        # Engine work is mostly Python, so threads beyond a few only fight over the GIL, and the
        # event loop (which must keep accepting requests and answering probes) loses that fight.
        # Waiting requests hold no thread, just a place in the limiter's queue.
        self._engine_calls = CapacityLimiter(settings.engine_threads)
        self._feedback: FeedbackStore | None = None  # opened on first use
        self._feedback_lock = threading.Lock()

    async def record_feedback(self, entry: Feedback) -> int:
        """Store one feedback entry (in a worker thread: SQLite and PostgreSQL calls block)."""
        return await to_thread.run_sync(self._feedback_store().add, entry)

    async def amend_feedback(self, entry_id: int, comment: str | None, right_answer: str | None) -> None:
        await to_thread.run_sync(self._feedback_store().amend, entry_id, comment, right_answer)

    def _feedback_store(self) -> FeedbackStore:
        with self._feedback_lock:
            if self._feedback is None:
                self._feedback = open_feedback(self.settings)
            return self._feedback

    async def run_engine(self, call: Callable[[], T]) -> T:
        """Run a blocking engine call in a worker thread, at most `engine_threads` at once."""
        return await to_thread.run_sync(call, limiter=self._engine_calls)

    async def load_engine(self) -> None:
        """Open the index and run one query through it; record failure instead of raising."""
        self.loading = True
        self.load_error = None
        started = time.perf_counter()
        pointer = await to_thread.run_sync(committed_version, self.settings)
        try:
            engine, count = await self._open()
        except IndexError_ as exc:
            self.load_error = exc
            log.error("index not available: %s", exc.message, extra={"error_code": exc.code})
        except RagError as exc:
            self.load_error = exc
            log.error("engine failed to start: %s", exc.message, extra={"error_code": exc.code})
        except Exception as exc:  # a bug in the engine: keep serving probes, say why we are not ready
            self.load_error = RagError(f"engine failed to start: {type(exc).__name__}")
            log.exception("engine failed to start")
        else:
            self.engine = engine
            self.loaded_pointer = pointer
            self.document_count = count
            self.metrics.engine_ready.set(1)
            self.metrics.index_documents.set(count)
            log.info(
                "engine ready",
                extra={
                    "index_version": engine.index_version,
                    "documents": count,
                    "load_ms": round((time.perf_counter() - started) * 1000.0, 1),
                },
            )
        finally:
            self.loading = False

    async def watch_index(self) -> None:
        """Swap to each new index generation an ingest commits, until cancelled."""
        if self.settings.index_poll_s <= 0:
            return
        while True:
            await asyncio.sleep(self.settings.index_poll_s)
            # In a thread: with the PostgreSQL store this is a query, which may wait on the network.
            pointer = await to_thread.run_sync(committed_version, self.settings)
            if self.engine is None or pointer is None or pointer in (self.loaded_pointer, self._failed_pointer):
                continue
            await self.reload(pointer)

    async def reload(self, pointer: str) -> None:
        started = time.perf_counter()
        self.swapping = True  # /readyz says so: the page tells its users a new version is coming
        try:
            engine, count = await self._open()
        except Exception as exc:  # keep serving the old generation; say why, once
            self._failed_pointer = pointer
            message = exc.message if isinstance(exc, RagError) else type(exc).__name__
            log.error("new index generation not loaded; still serving the old one: %s", message,
                      extra={"generation": pointer})
            return
        finally:
            self.swapping = False
        old = self.engine.index_version if self.engine is not None else None
        self.engine, self.loaded_pointer, self.document_count = engine, pointer, count
        self.metrics.index_documents.set(count)
        self.metrics.index_swaps.inc()
        log.info(
            "index swapped",
            extra={"from_version": old, "index_version": engine.index_version, "documents": count,
                   "load_ms": round((time.perf_counter() - started) * 1000.0, 1)},
        )

    async def _open(self) -> tuple[Engine, int]:
        """A new engine on the index, warmed up, and its document count (in worker threads)."""
        engine = await to_thread.run_sync(self.engine_factory, self.settings)
        await self._warm_up(engine)
        return engine, len(await to_thread.run_sync(engine.documents))

    @staticmethod
    async def _warm_up(engine: Engine) -> None:
        """A first query loads whatever the engine initialises lazily (so the first user does
        not pay for it) and proves the index answers before we report ready."""
        try:
            await to_thread.run_sync(lambda: engine.search("readiness check", k=1))
        except IndexError_:
            raise
        except RagError as exc:
            # The engine answered, if only with a complaint about this query: it is usable.
            log.warning("warm-up query refused: %s", exc.message)

    def require_engine(self) -> Engine:
        if self.engine is not None:
            return self.engine
        if self.load_error is not None:
            code = self.load_error.code if isinstance(self.load_error, IndexError_) else "not_ready"
            raise NotReadyError(f"The index is not available: {self.load_error.message}", code=code)
        raise NotReadyError("The index is still loading; try again in a few seconds.")
