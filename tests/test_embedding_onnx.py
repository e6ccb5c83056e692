"""The ONNX Runtime embedder against the real model: same vectors as torch, cached export, no torch.

The model is exported once per test session into a temp index folder (a few seconds); every test
here reuses that file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import rag.embedding.onnx_minilm as onnx_minilm
from rag.embedding.onnx_minilm import OnnxMiniLMEmbedder

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
LONG_TEXT = " ".join(
    f"Paragraph {i}: the central bank raised interest rates by 0.25 percentage points on Tuesday, "
    "citing persistent inflation in services and a tight labour market."
    for i in range(30)
)  # ~800 word-pieces: truncated to the 256 window by both backends
TEXTS = [
    "",
    "   ",
    "Who won the 2016 US presidential election?",
    "Alibaba launches anti fake drive",
    "Counterfeit designer products is a big problem in emerging markets, both online and offline.",
    "naïve café résumé — Zürich, São Paulo, 東京, Москва 😀",
    "Q3 revenue: $4.2bn (+12% y/y); EPS 1.07 vs 0.98 est.",
    "ok",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "https://example.com/news/2024/05/article?id=123&ref=rss",
    "The company said it would cut 1,200 jobs as part of a restructuring plan announced on Monday. " * 3,
    LONG_TEXT,
]


@pytest.fixture(scope="session")
def onnx_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index folder whose models/ holds the exported .onnx (exported once per session)."""
    index_dir = tmp_path_factory.mktemp("onnx-index")
    OnnxMiniLMEmbedder(index_dir / "models").warm_up()
    return index_dir


@pytest.fixture(scope="session")
def onnx_embedder(onnx_index_dir: Path) -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder(onnx_index_dir / "models")


@pytest.fixture(scope="session")
def torch_embedder():
    from rag.embedding.minilm import MiniLMEmbedder

    return MiniLMEmbedder()


def test_onnx_and_torch_vectors_agree(onnx_embedder: OnnxMiniLMEmbedder, torch_embedder) -> None:
    onnx_vectors = onnx_embedder.embed(TEXTS)
    torch_vectors = torch_embedder.embed(TEXTS)
    cosines = np.sum(onnx_vectors * torch_vectors, axis=1)
    assert cosines.min() >= 0.999, dict(zip(TEXTS, cosines.round(6).tolist(), strict=True))
    # One at a time too: a query is embedded alone, without padding from neighbours.
    for text, expected in zip(TEXTS, torch_vectors, strict=True):
        assert float(np.dot(onnx_embedder.embed([text])[0], expected)) >= 0.999


def test_long_text_is_truncated_exactly_as_sentence_transformers_does(
    onnx_embedder: OnnxMiniLMEmbedder,
    torch_embedder,
) -> None:
    assert onnx_embedder.count_model_tokens(LONG_TEXT) > 256
    ours = onnx_embedder.encode_tokens([LONG_TEXT])[0].ids
    theirs = torch_embedder._loaded_model().tokenize([LONG_TEXT])["input_ids"][0].tolist()
    assert len(ours) == 256
    assert ours == theirs


def test_output_is_float32_unit_rows_of_the_model_dimension(onnx_embedder: OnnxMiniLMEmbedder) -> None:
    vectors = onnx_embedder.embed(TEXTS)
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 384)
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = onnx_embedder.embed_query("who raised interest rates?")
    assert query.dtype == np.float32 and query.shape == (384,)


def test_length_sorted_batching_preserves_order(onnx_index_dir: Path) -> None:
    # A tiny budget forces many batches of different widths; each row must still match its own text.
    embedder = OnnxMiniLMEmbedder(onnx_index_dir / "models", max_batch_tokens=300, max_batch_rows=3)
    texts = [TEXTS[i % len(TEXTS)] + f" #{i}" for i in (5, 11, 0, 3, 10, 7, 2, 9, 4, 1, 8, 6)]
    batched = embedder.embed(texts)
    alone = np.vstack([embedder.embed([t]) for t in texts])
    np.testing.assert_allclose(batched, alone, atol=2e-5)
    assert embedder.session_runs > 3 + len(texts)  # several batches, then one run per text


def test_the_cached_export_is_reused(onnx_index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = onnx_index_dir / "models"
    (model_file,) = cache.glob("all-MiniLM-L6-v2-*.onnx")
    stamp = model_file.stat().st_mtime_ns

    def no_export(args: list[str]) -> None:
        raise AssertionError(f"re-exported although {model_file.name} exists: {args}")

    monkeypatch.setattr(onnx_minilm, "_export_isolated", no_export)
    embedder = OnnxMiniLMEmbedder(cache)
    embedder.warm_up()
    assert embedder.model_file == model_file
    assert model_file.stat().st_mtime_ns == stamp


def _copied_cache(onnx_index_dir: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    import shutil

    source = onnx_index_dir / "models"
    (good,) = source.glob("all-MiniLM-L6-v2-*.onnx")
    cache = tmp_path / "models"
    cache.mkdir()
    for path in source.iterdir():
        if path.is_file():
            shutil.copy(path, cache / path.name)
    return cache, good, cache / good.name


def test_a_cached_model_with_flipped_bytes_is_exported_again(
    onnx_index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    cache, good, copy = _copied_cache(onnx_index_dir, tmp_path)
    assert onnx_minilm.checksum_path(good).is_file(), "the export records its sha256"
    data = bytearray(copy.read_bytes())
    for i in range(8):
        data[len(data) // 2 + i] ^= 0xFF
    copy.write_bytes(bytes(data))
    exports: list[list[str]] = []

    def export(args: list[str]) -> None:  # stands in for the slow real export
        exports.append(args)
        shutil.copy(good, args[-1])

    monkeypatch.setattr(onnx_minilm, "_export_isolated", export)
    assert onnx_minilm.ensure_onnx_model(cache) == copy
    assert len(exports) == 1 and copy.read_bytes() == good.read_bytes()
    assert onnx_minilm.ensure_onnx_model(cache) == copy and len(exports) == 1, "intact now: reused"


def test_an_unloadable_cached_model_is_a_one_line_model_error(onnx_index_dir: Path, tmp_path: Path) -> None:
    from rag.errors import ModelFileError
    from rag.store.atomic import sha256_file

    cache, _, copy = _copied_cache(onnx_index_dir, tmp_path)
    copy.write_bytes(copy.read_bytes()[:4096])  # truncated, and its checksum recorded as if whole
    onnx_minilm.checksum_path(copy).write_text(sha256_file(copy) + "\n")
    with pytest.raises(ModelFileError) as exc:
        OnnxMiniLMEmbedder(cache).warm_up()
    assert "\n" not in exc.value.message and copy.name in exc.value.message


def test_a_cached_model_loads_and_embeds_without_importing_torch(onnx_index_dir: Path) -> None:
    script = f"""
import sys
from pathlib import Path
from rag.embedding import load_embedder
from rag.settings import Settings
embedder = load_embedder(Settings(index_dir=Path({str(onnx_index_dir)!r}), embedder="onnx"))
embedder.warm_up()
assert embedder.embed(["a", "b c"]).shape == (2, 384)
assert embedder.embed_query("who?").shape == (384,)
heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)
print("heavy:", heavy)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "heavy: []" in proc.stdout


def test_a_repeated_query_calls_the_session_once(onnx_index_dir: Path) -> None:
    embedder = OnnxMiniLMEmbedder(onnx_index_dir / "models")
    first = embedder.embed_query("what did Alibaba announce?")
    assert embedder.embed_query("what did Alibaba announce?") is first
    assert embedder.session_runs == 1


QUESTIONS = [
    "How much was Alibaba fined by China's market regulator?",
    "What share of Chinese online consumers would like to buy from British brands?",
    "when did amazon hold its first prime day",
    "Which luxury labels rebelled against Alibaba over fake goods?",
    "Who won the 2016 US presidential election?",
]


def test_int8_queries_land_next_to_their_fp32_vectors_while_documents_stay_fp32(
    onnx_index_dir: Path, onnx_embedder: OnnxMiniLMEmbedder
) -> None:
    mixed = OnnxMiniLMEmbedder(onnx_index_dir / "models", query_quantized=True)
    assert mixed.name == onnx_embedder.name  # an index built by either reads with the other
    np.testing.assert_array_equal(mixed.embed(TEXTS), onnx_embedder.embed(TEXTS))
    int8 = np.stack([mixed.embed_query(q) for q in QUESTIONS])
    fp32 = onnx_embedder.embed(QUESTIONS)
    cosines = np.sum(int8 * fp32, axis=1)
    assert cosines.min() >= 0.98, cosines
    assert not np.array_equal(int8, fp32)  # the int8 model really answered
    # What retrieval needs: each question is still nearest its own fp32 vector, by a margin.
    assert (np.argmax(int8 @ fp32.T, axis=1) == np.arange(len(QUESTIONS))).all()
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)


def test_an_int8_query_vector_does_not_depend_on_the_questions_batched_with_it(onnx_index_dir: Path) -> None:
    # int8 activations share one quantization scale per model call: batched questions would move
    # each other's vectors, and an answer would change with whatever else the service was asked.
    embedder = OnnxMiniLMEmbedder(onnx_index_dir / "models", query_quantized=True)
    alone = np.stack([embedder.embed_query(q) for q in QUESTIONS])
    together = embedder.embed_queries([*QUESTIONS, LONG_TEXT, "ok"])
    np.testing.assert_array_equal(together[: len(QUESTIONS)], alone)
    fresh = OnnxMiniLMEmbedder(onnx_index_dir / "models", query_quantized=True)  # empty query cache
    with ThreadPoolExecutor(max_workers=len(QUESTIONS)) as pool:  # the service's path: the batcher
        concurrent = np.stack(list(pool.map(fresh.embed_query, QUESTIONS)))
    np.testing.assert_array_equal(concurrent, alone)


def test_fp32_query_batches_give_each_question_its_own_vector(onnx_embedder: OnnxMiniLMEmbedder) -> None:
    alone = np.stack([onnx_embedder.embed_queries([q])[0] for q in QUESTIONS])
    together = onnx_embedder.embed_queries([*QUESTIONS, LONG_TEXT])
    np.testing.assert_allclose(together[: len(QUESTIONS)], alone, atol=1e-5)


def test_span_vectors_come_from_the_texts_own_pass(onnx_embedder: OnnxMiniLMEmbedder) -> None:
    first = "Storm Ciaran reached Cornwall on Thursday."
    second = "Gusts of 100 mph were recorded at the Lizard."
    text = f"{first} {second}"
    far = LONG_TEXT + " The very last words."
    vectors, pooled = onnx_embedder.embed_with_spans(
        [text, far], [[(0, len(first)), (len(first) + 1, len(text))], [(len(far) - 20, len(far))]]
    )
    assert np.allclose(vectors, onnx_embedder.embed([text, far]), atol=1e-5)  # the same pass as embed
    a, b = pooled[0]
    assert a is not None and b is not None
    assert abs(float(np.linalg.norm(a)) - 1) < 1e-5 and abs(float(np.linalg.norm(b)) - 1) < 1e-5
    # In context, yet each sentence's own: closer to itself embedded alone than to the other sentence.
    alone = onnx_embedder.embed([first, second])
    assert float(a @ alone[0]) > float(a @ alone[1]) and float(b @ alone[1]) > float(b @ alone[0])
    assert pooled[1] == [None]  # past the model's window: nothing to pool, embed it on its own
