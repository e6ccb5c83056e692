"""The query side: a loaded index, an embedder and a composer behind `search` and `ask`.

Thread-safe for concurrent reads: the index is immutable once loaded and the embedder
serializes its own model calls.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from rag.answer.config import AnswerConfig
from rag.answer.evidence import SentenceIndex
from rag.answer.extractive import ExtractiveComposer
from rag.answer.llm import LLMComposer
from rag.answer.reader import ReaderComposer, check_reader
from rag.answer.reader_model import load_reader_model
from rag.answer.rerank import PassageReranker
from rag.answer.scoring import LearnedScorer
from rag.embedding import load_embedder
from rag.errors import NotFoundError, QuestionError
from rag.llm.openai_compatible import OpenAICompatibleClient
from rag.protocols import AnswerComposer, Embedder, LLMClient, VectorStore
from rag.retrieval.hybrid import HybridRetriever
from rag.settings import Settings
from rag.store.index_files import IndexData, load_index
from rag.types import Answer, Document, Filters, Hit, SearchResult


class RagEngine:
    def __init__(
        self,
        data: IndexData,
        embedder: Embedder,
        settings: Settings,
        llm_client: LLMClient | None = None,
        answer_config: AnswerConfig | None = None,
        store: VectorStore | None = None,
    ) -> None:
        """`answer_config` overrides the settings stored with the index (for calibration runs);
        `store` searches the chunks (default: the index folder's own FAISS index and bm25s)."""
        self.data = data
        self.embedder = embedder
        self.settings = settings
        self.config = answer_config or AnswerConfig.from_dict(data.answer_settings)
        self._documents = {d.doc_id: d for d in data.documents}
        self.retriever = HybridRetriever(data, self.config, store)
        check_reader(self.config.reader)
        sentences = SentenceIndex(data)
        idf = self.retriever.bm25.idf
        # The learned model is read only when something uses it: the reader, or the reranker.
        model = load_reader_model() if self.config.reader != "rules" or self.config.rerank_pool > 0 else None
        self.extractive: ReaderComposer | ExtractiveComposer
        if model is None or self.config.reader == "rules":
            self.extractive = ExtractiveComposer(
                sentences, self._documents, self.config, data.version, idf=idf, vocabulary=self.retriever.bm25
            )
        else:
            self.extractive = ReaderComposer(
                sentences, self._documents, self.config, data.version, model, idf=idf, vocabulary=self.retriever.bm25
            )
        self.reranker: PassageReranker | None = None
        if model is not None and self.config.rerank_pool > 0:
            own = isinstance(self.extractive, ReaderComposer)
            scorer = self.extractive.scorer if own else LearnedScorer(model.scorer)
            self.reranker = PassageReranker(sentences, scorer, idf=idf, year_boost=self.config.year_boost)
        self.composer: AnswerComposer = self.extractive
        if llm_client is not None:
            self.composer = LLMComposer(llm_client, self.extractive, embedder, settings.llm_context_tokens)

    @classmethod
    def open(
        cls, settings: Settings, embedder: Embedder | None = None, answer_overrides: Mapping[str, Any] | None = None
    ) -> RagEngine:
        """`answer_overrides`: answer settings to change from those stored with the index (ablations)."""
        embedder = embedder or load_embedder(settings)
        if settings.store:
            from rag.store.postgres.load import load_version

            data = load_version(settings.store, expected_model=embedder.name)
        else:
            data = load_index(settings.index_dir, expected_model=embedder.name)
        config = AnswerConfig.from_dict(data.answer_settings)
        if answer_overrides:
            config = replace(config, **answer_overrides)
        store: VectorStore | None = None
        if settings.store:
            from rag.store.postgres.search import PostgresStore

            store = PostgresStore.for_index(settings.store, data, config, settings.engine_threads)
        llm_client = None
        if settings.llm_url and settings.llm_model:
            llm_client = OpenAICompatibleClient(
                settings.llm_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout_s
            )
        return cls(data, embedder, settings, llm_client, config, store)

    @property
    def index_version(self) -> str:
        return self.data.version

    def documents(self) -> list[Document]:
        return list(self.data.documents)

    def document(self, doc_id: str) -> Document:
        try:
            return self._documents[doc_id]
        except KeyError:
            raise NotFoundError(f"no document with id {doc_id!r}") from None

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> SearchResult:
        query, k = self._validate(query, k)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        vector = self._encode(query, timings)
        hits = self._retrieve(query, vector, k, filters, timings)
        timings["total"] = (time.perf_counter() - started) * 1000
        return SearchResult(query, tuple(hits), self.index_version, timings)

    def ask(self, question: str, top_k: int | None = None, filters: Filters | None = None) -> Answer:
        question, k = self._validate(question, top_k)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        vector = self._encode(question, timings)
        hits = self._retrieve(question, vector, k, filters, timings)
        t = time.perf_counter()
        answer = self.composer.compose(question, hits, vector)
        timings["compose"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        return replace(answer, timings_ms={**answer.timings_ms, **timings})

    def _validate(self, text: str, k: int | None) -> tuple[str, int]:
        if not isinstance(text, str):
            raise QuestionError("the question must be a string")
        text = text.strip()
        if not text:
            raise QuestionError("the question is empty")
        if len(text) > self.settings.max_question_chars:
            raise QuestionError(f"the question is longer than {self.settings.max_question_chars} characters")
        k = self.settings.top_k if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.settings.max_top_k:
            raise QuestionError(f"k must be an integer from 1 to {self.settings.max_top_k}")
        return text, k

    def _encode(self, text: str, timings: dict[str, float]) -> np.ndarray:
        t = time.perf_counter()
        vector = self.embedder.embed_query(text)
        timings["encode"] = (time.perf_counter() - t) * 1000
        return vector

    def _retrieve(
        self, query: str, vector: np.ndarray, k: int, filters: Filters | None, timings: dict[str, float]
    ) -> Sequence[Hit]:
        t = time.perf_counter()
        pool = max(k, self.config.rerank_pool) if self.reranker else k
        hits = self.retriever.retrieve(query, vector, pool, filters)
        timings["retrieve"] = (time.perf_counter() - t) * 1000
        if self.reranker is not None:
            t = time.perf_counter()
            hits = self.reranker.rerank(query, vector, hits, k)
            timings["rerank"] = (time.perf_counter() - t) * 1000
        return hits
