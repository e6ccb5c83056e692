"""Embedding plumbing without the model: batching plan, padding, the .onnx cache, the backend choice."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import rag.embedding as embedding
import rag.embedding.onnx_minilm as onnx_minilm
from rag.embedding.onnx_minilm import OnnxMiniLMEmbedder, cached_model_path, ensure_onnx_model, pad_batch, plan_batches
from rag.errors import ConfigError
from rag.settings import Settings


def _check_plan(lengths: list[int], batches: list[tuple[int, int]], max_tokens: int, max_rows: int) -> None:
    assert [i for start, end in batches for i in range(start, end)] == list(range(len(lengths)))
    for start, end in batches:
        assert end - start <= max_rows
        assert (end - start) * lengths[start] <= max_tokens or end - start == 1


def test_plan_batches_respects_the_token_budget_and_covers_every_row() -> None:
    lengths = [256, 200, 120, 64, 64, 30, 12, 12, 12, 3]
    batches = plan_batches(lengths, max_tokens=300, max_rows=4, min_tokens=0)
    _check_plan(lengths, batches, 300, 4)


def test_plan_batches_cuts_where_padding_would_exceed_the_tolerance() -> None:
    lengths = [100, 95, 91, 80, 79, 40]
    assert plan_batches(lengths, max_tokens=10_000, max_rows=64, max_row_padding=0.1, min_tokens=0) == [
        (0, 3),  # 91 is 9% padding next to 100; 80 would be 20%
        (3, 5),
        (5, 6),
    ]
    # Until a batch reaches min_tokens, padding is the cheaper evil: tiny batches stay together.
    assert plan_batches([12, 10, 8, 5], max_tokens=10_000, max_rows=64, min_tokens=64) == [(0, 4)]


def test_plan_batches_on_many_short_texts_fills_rows_up_to_the_cap() -> None:
    lengths = [10] * 1000
    batches = plan_batches(lengths, max_tokens=4096, max_rows=256)
    _check_plan(lengths, batches, 4096, 256)
    assert [end - start for start, end in batches][:3] == [256, 256, 256]


def test_plan_batches_gives_an_oversize_text_its_own_batch() -> None:
    assert plan_batches([512, 10], max_tokens=100, max_rows=64) == [(0, 1), (1, 2)]
    assert plan_batches([], max_tokens=100, max_rows=64) == []


class _Enc:
    def __init__(self, ids: list[int]) -> None:
        self.ids = ids


def test_pad_batch_pads_to_the_longest_with_a_matching_mask() -> None:
    ids, mask = pad_batch([_Enc([101, 5, 102]), _Enc([101, 102])])  # type: ignore[list-item]
    assert ids.dtype == mask.dtype == np.int64
    assert ids.tolist() == [[101, 5, 102], [101, 102, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]


def _fake_export(calls: list[list[str]]):
    def export(args: list[str]) -> None:
        calls.append(args)
        Path(args[-1]).write_bytes(b"onnx:" + args[0].encode())

    return export


def test_ensure_onnx_model_exports_once_atomically_and_reuses_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(onnx_minilm, "_export_isolated", _fake_export(calls))
    cache = tmp_path / "index" / "models"
    first = ensure_onnx_model(cache)
    assert first == cached_model_path(cache, onnx_minilm.model_dir())
    assert first.name.startswith("all-MiniLM-L6-v2-") and first.suffix == ".onnx"
    assert ensure_onnx_model(cache) == first
    assert len(calls) == 1
    # No temp file left behind; the model's recorded sha256 beside it.
    assert sorted(p.name for p in cache.iterdir()) == [first.name, first.name + ".sha256"]

    int8 = ensure_onnx_model(cache, quantized=True)  # reuses the fp32 export as its source
    assert int8.name.startswith("all-MiniLM-L6-v2-int8-")
    assert [c[0] for c in calls] == ["export", "quantize"]
    assert calls[1][1] == str(first)


def test_a_failed_export_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(args: list[str]) -> None:
        Path(args[-1]).write_bytes(b"half a mod")
        raise ConfigError("exporting the embedding model to ONNX failed")

    monkeypatch.setattr(onnx_minilm, "_export_isolated", fail)
    with pytest.raises(ConfigError):
        ensure_onnx_model(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_fingerprint_follows_the_weights(tmp_path: Path) -> None:
    for name, data in (("a", b"weights-one"), ("b", b"weights-two")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(data)
    assert cached_model_path(tmp_path, tmp_path / "a") != cached_model_path(tmp_path, tmp_path / "b")
    with pytest.raises(ConfigError):
        cached_model_path(tmp_path, tmp_path)  # no weights file


class _StubSession:
    """Stands in for an InferenceSession: row i of the output encodes its sequence length."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, int]] = []

    def run(self, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        mask = feeds["attention_mask"]
        self.batches.append(mask.shape)
        out = np.zeros((mask.shape[0], 384), dtype=np.float32)
        out[:, 0] = mask.sum(axis=1)
        return [out]


def _stub_embedder(tmp_path: Path, **kwargs: int) -> tuple[OnnxMiniLMEmbedder, _StubSession]:
    embedder = OnnxMiniLMEmbedder(tmp_path, **kwargs)
    stub = _StubSession()
    embedder._session = stub  # type: ignore[assignment]
    return embedder, stub


def test_embed_batches_by_token_length_and_keeps_input_order(tmp_path: Path) -> None:
    embedder, stub = _stub_embedder(tmp_path, max_batch_tokens=64, max_batch_rows=8)
    texts = ["one", "a much longer text with quite a few more words in it than the others", "", "two words"] * 5
    vectors = embedder.embed(texts)
    expected = [len(e.ids) for e in embedder.encode_tokens(texts)]
    assert vectors[:, 0].tolist() == expected  # each row came back to its own text
    assert len(stub.batches) > 1
    for rows, width in stub.batches:
        assert rows * width <= 64 or rows == 1
    widths = [width for _, width in stub.batches]
    assert widths == sorted(widths, reverse=True)  # longest first: padding only within similar lengths


def test_embed_of_nothing_is_an_empty_matrix(tmp_path: Path) -> None:
    embedder, stub = _stub_embedder(tmp_path)
    assert embedder.embed([]).shape == (0, 384)
    assert stub.batches == []


def test_a_repeated_query_runs_the_model_once(tmp_path: Path) -> None:
    embedder, stub = _stub_embedder(tmp_path)
    first = embedder.embed_query("who won the election?")
    again = embedder.embed_query("who won the election?")
    assert again is first
    assert len(stub.batches) == 1 and embedder.session_runs == 1
    embedder.embed_query("a different question")
    assert embedder.session_runs == 2


def test_count_model_tokens_counts_every_word_piece_without_specials(tmp_path: Path) -> None:
    embedder = OnnxMiniLMEmbedder(tmp_path)
    long_text = "word " * 400
    assert embedder.count_model_tokens("hello world") == 2
    assert embedder.count_model_tokens(long_text) == 400  # never truncated: the chunker needs the truth
    assert len(embedder.encode_tokens([long_text])[0].ids) == 256  # the model's window
    assert embedder.name == "all-MiniLM-L6-v2" and embedder.dim == 384


@pytest.mark.parametrize(
    ("choice", "available", "expected"),
    [
        ("auto", True, "OnnxMiniLMEmbedder"),
        ("auto", False, "MiniLMEmbedder"),
        ("onnx", True, "OnnxMiniLMEmbedder"),
        ("torch", True, "MiniLMEmbedder"),
        ("onnx-int8", True, "OnnxMiniLMEmbedder"),
    ],
)
def test_load_embedder_picks_the_backend_per_setting(
    choice: str, available: bool, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding, "onnxruntime_available", lambda: available)
    embedder = embedding.load_embedder(Settings(index_dir=tmp_path, embedder=choice))
    assert type(embedder).__name__ == expected
    assert embedder.name == ("all-MiniLM-L6-v2-int8" if choice == "onnx-int8" else "all-MiniLM-L6-v2")
    if expected == "OnnxMiniLMEmbedder":
        assert embedder.cache_dir == tmp_path / "models"  # type: ignore[attr-defined]
    assert not (tmp_path / "models").exists()  # construction is cheap: nothing exported yet


def test_load_embedder_onnx_without_onnxruntime_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding, "onnxruntime_available", lambda: False)
    with pytest.raises(ConfigError, match="onnxruntime"):
        embedding.load_embedder(Settings(index_dir=tmp_path, embedder="onnx"))


def test_an_export_killed_long_ago_leaves_no_litter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / ".all-MiniLM-L6-v2-0123.onnx.abc.tmp"
    fresh = tmp_path / ".all-MiniLM-L6-v2-0123.onnx.def.tmp"  # maybe another process's export in progress
    for path in (stale, fresh):
        path.write_bytes(b"partial")
    os.utime(stale, (0, 0))
    monkeypatch.setattr(onnx_minilm, "_export_isolated", _fake_export([]))
    ensure_onnx_model(tmp_path)
    assert not stale.exists() and fresh.exists()
