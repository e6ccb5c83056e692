"""The one Settings object, built from `RAG_*` environment variables.

Only `Settings.from_env()` reads the environment, and only the entry points (CLI, service
factory, benchmark) call it; everything else receives a Settings instance.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from rag.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    index_dir: Path = Path("index")
    # Unset: the index is files under `index_dir`. A postgresql:// URL: it lives in that database
    # (rag.store.postgres); `index_dir` then only caches the exported query model.
    store: str | None = field(default=None, repr=False)
    seeds_dir: Path = Path("seeds")
    # Chunking: a tiktoken budget per chunk, with sentence overlap between neighbours.
    chunk_tokens: int = 160
    chunk_overlap_tokens: int = 40
    # Embedding backend: "auto" (ONNX when available, else torch), "onnx", "onnx-int8", "torch".
    embedder: str = "auto"
    # Query encoder of the ONNX backend: "int8" (documents stay fp32; half the CPU per query and no
    # measured loss on the eval set, see rag.embedding.onnx_minilm) or "fp32".
    query_encoder: str = "int8"
    embed_batch_size: int = 64
    # Sentence vectors (the reader's): "pooled" from each chunk's own forward pass (the mean of the
    # sentence's token vectors there, where the embedder can; no second model pass) or "separate"
    # (each sentence embedded on its own, as before). See rag.ingest.
    sentence_vectors: str = "pooled"
    query_cache_size: int = 1024
    # Retrieval / answering defaults.
    top_k: int = 5
    max_question_chars: int = 2000
    max_top_k: int = 20
    # Optional LLM (OpenAI-compatible chat completions).
    llm_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_timeout_s: float = 20.0
    llm_context_tokens: int = 3000
    # Service.
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    max_body_bytes: int = 64 * 1024
    # A body that stalls longer than this between pieces gets 408; connections beyond
    # `max_connections` get 503 from the server; idle keep-alive connections close after 5 s.
    body_timeout_s: float = 10.0
    max_connections: int = 512
    # Engine calls (ask, search) running at once in the service; more wait their turn. Measured on
    # 2 cores, 16 clients: 6 gave the best throughput and p99 (40, anyio's default, let GIL
    # contention starve the event loop: p99 twice as long); see service.state.
    engine_threads: int = 6
    # How often a server checks the index folder's CURRENT for a new generation (0: never).
    index_poll_s: float = 2.0
    # Where users reach this service (e.g. https://ask.example.org): citations' links, in the API
    # and in Slack, become absolute; unset, the API gives paths and Slack links to the article's URL.
    public_url: str | None = None
    # Feedback (👍/👎) and Slack thread context are kept here (SQLite); default <index_dir>/service.sqlite3,
    # or the PostgreSQL store's database when RAG_STORE is set.
    service_db: Path | None = None
    # How long a Slack thread's earlier question stays context for follow-ups in it.
    slack_thread_ttl_s: float = 7 * 24 * 3600
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_api_url: str = "https://slack.com/api/"
    slack_ack_budget_s: float = 2.0
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from `RAG_*` variables (and Slack's own `SLACK_*` names).

        `overrides` (e.g. from CLI flags) win over the environment; None values are ignored.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, typ in types.items():
            raw = env.get(f"RAG_{name.upper()}")
            if raw is None or raw == "":
                continue
            values[name] = _convert(name, str(typ), raw)
        for slack_name, attr in (
            ("SLACK_SIGNING_SECRET", "slack_signing_secret"),
            ("SLACK_BOT_TOKEN", "slack_bot_token"),
        ):
            if env.get(slack_name) and attr not in values:
                values[attr] = env[slack_name]
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def with_(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def validate(self) -> None:
        if self.chunk_tokens < 16:
            raise ConfigError("RAG_CHUNK_TOKENS must be at least 16")
        if not 0 <= self.chunk_overlap_tokens < self.chunk_tokens:
            raise ConfigError("RAG_CHUNK_OVERLAP_TOKENS must be >= 0 and below RAG_CHUNK_TOKENS")
        if self.embedder not in {"auto", "onnx", "onnx-int8", "torch"}:
            raise ConfigError("RAG_EMBEDDER must be one of auto, onnx, onnx-int8, torch")
        if self.sentence_vectors not in {"pooled", "separate"}:
            raise ConfigError("RAG_SENTENCE_VECTORS must be pooled or separate")
        if self.query_encoder not in {"int8", "fp32"}:
            raise ConfigError("RAG_QUERY_ENCODER must be int8 or fp32")
        if self.engine_threads < 1:
            raise ConfigError("RAG_ENGINE_THREADS must be at least 1")
        if self.store is not None and not self.store.startswith(("postgresql://", "postgres://")):
            raise ConfigError("RAG_STORE must be a postgresql:// URL (unset: the index folder)")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise ConfigError("RAG_PUBLIC_URL must be an http:// or https:// URL")
        if self.llm_url and not self.llm_model:
            raise ConfigError("RAG_LLM_URL is set but RAG_LLM_MODEL is not")


def _convert(name: str, typ: str, raw: str) -> object:
    try:
        if typ.startswith("Path"):
            return Path(raw)
        if typ.startswith("int"):
            return int(raw)
        if typ.startswith("float"):
            return float(raw)
        if typ.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError as exc:
        raise ConfigError(f"RAG_{name.upper()}={raw!r} is not a valid {typ}") from exc
