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


def test_answer_settings_given_as_key_value_pairs_are_typed_by_their_field() -> None:
    from rag.answer.config import parse_overrides

    pairs = ["sentence_margin=0.2", "max_sentences=2", "require_asked_year=false", "reader=learned"]
    assert parse_overrides(pairs) == {
        "sentence_margin": 0.2, "max_sentences": 2, "require_asked_year": False, "reader": "learned",
    }
    assert parse_overrides(["abstain_threshold=1"]) == {"abstain_threshold": 1.0}
    assert parse_overrides(["answerability_threshold=null"]) == {"answerability_threshold": None}


@pytest.mark.parametrize(
    "pair", ["no_such_setting=1", "sentence_margin", "sentence_margin=wide", "max_sentences=2.5", "skip_headings=1"]
)
def test_a_bad_answer_setting_is_refused_with_its_text(pair: str) -> None:
    from rag.answer.config import parse_overrides

    with pytest.raises(ConfigError, match="--set"):
        parse_overrides([pair])
