"""Settings come from `RAG_*` variables; a bad value is a ConfigError naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import Settings


def test_values_are_read_and_typed_from_rag_variables() -> None:
    settings = Settings.from_env({"RAG_INDEX_DIR": "/tmp/x", "RAG_ENGINE_THREADS": "3", "RAG_API_KEYS": "a, b,"})
    assert settings.index_dir == Path("/tmp/x")
    assert settings.engine_threads == 3
    assert settings.api_keys == ("a", "b")


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env({"RAG_TOP_K": "3"}, top_k=7, index_dir=None)
    assert settings.top_k == 7 and settings.index_dir == Path("index")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RAG_ENGINE_THREADS", "0"),
        ("RAG_ENGINE_THREADS", "many"),
        ("RAG_CHUNK_TOKENS", "8"),
        ("RAG_EMBEDDER", "gpu"),
        ("RAG_QUERY_ENCODER", "int4"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_queries_go_through_the_int8_encoder_unless_told_otherwise() -> None:
    assert Settings.from_env({}).query_encoder == "int8"
    assert Settings.from_env({"RAG_QUERY_ENCODER": "fp32"}).query_encoder == "fp32"
