"""all-MiniLM-L6-v2 through ONNX Runtime: the same vectors as the torch backend, at a fraction of the cost.

The packaged model is exported to ONNX once (with torch, in a child process) and cached next to the
index as `<index_dir>/models/all-MiniLM-L6-v2-<fingerprint>.onnx`. Mean pooling and L2 normalisation
are part of the exported graph, so one `session.run` returns finished vectors. Later loads reuse the
cached file and never import torch: measured cold start to first vector 0.65 s and 210 MB peak RSS,
against 11 s and 590 MB for the torch backend.

`embed(texts)` batches by word-piece count, not characters: texts are sorted by token length and
cut into batches of near-equal length whose padded size (rows x longest row) stays within a token
budget, so little compute goes to [PAD] positions; the vectors are then put back in input order.

Optional int8 dynamic quantization (`quantized=True`) is a different model as far as an index is
concerned (vectors move slightly), so it carries its own name, `all-MiniLM-L6-v2-int8`.

`query_quantized=True` keeps the documents fp32 and encodes only queries with the int8 model
(per-channel weights), on a session of its own with one thread. A query costs about half the CPU
(4.9 against 10.3 ms for one question on one core of the 2-core machine), its vector stays within
cosine 0.99 of the fp32 one, and on the eval set no retrieval or answer metric got worse; the
index keeps the fp32 model's name because its vectors are fp32 ones. A service that only answers
questions then never loads the fp32 session at all (it loads on the first `embed`).

Run `python -m rag.embedding.onnx_minilm export MODEL_DIR OUT.onnx` to export by hand (that is also
what the embedder runs in its child process).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.embedding.batching import QueryBatcher
from rag.embedding.cache import VectorLRU
from rag.embedding.minilm import MAX_SEQ_TOKENS, MODEL_DIM, MODEL_NAME, model_dir
from rag.errors import ConfigError, ModelFileError
from rag.store.atomic import sha256_file

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Encoding, Tokenizer

# Bump when the exported graph changes (inputs, outputs, pooling, opset, fusion): the fingerprint
# includes it, so stale cache files are simply never looked at again.
EXPORT_FORMAT = 2  # 2: the token vectors are a second output (sentence vectors pooled from a chunk's pass)
OPSET = 17
INT8_SUFFIX = "-int8"
# The fingerprint hashes this much of the weights file (plus its size): the safetensors header
# (tensor names, shapes, offsets) and the first tensors. ~2 ms at every start-up, where hashing the
# whole 90 MB file costs ~0.2 s on this machine.
FINGERPRINT_PREFIX_BYTES = 1 << 20
# Batching for `embed`, tuned with scripts/measure_embedding.py on the 2-core machine (fp32, 1000
# mixed passages, interleaved runs): ~4,500-5,000 tokens/s for padded budgets of 512-2048 tokens,
# ~4,200 at 4096-8192 and less at 16k (likely: bigger activations no longer fit in cache), against ~3,200 for
# sentence-transformers-style character batches of 64. A small budget also keeps each run short,
# and so the wait of a query queued behind an ingest batch on the one-inference lock (~0.2 s).
DEFAULT_MAX_BATCH_TOKENS = 1024
DEFAULT_MAX_BATCH_ROWS = 256
# Within the budget, a new batch wherever the next text is more than 10% shorter than the batch's
# longest, so no row is more than 10% padding...
MAX_ROW_PADDING = 0.10
# ...except while a batch is still tiny: below ~512 padded tokens, per-run overhead and thin matrix
# products cost more than a little padding does.
MIN_BATCH_TOKENS = 512
# fp32 query batches (a few short questions at a time under concurrent load) split by length from
# the first row. Measured on the int8 model, one thread: a padded batch of 8-16 mixed eval questions
# cost 6.0-6.6 ms per question, split where a row would be over 25% padding 4.3-4.6.
QUERY_ROW_PADDING = 0.25
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "sentence_embedding"
TOKEN_OUTPUT = "token_embeddings"  # the last hidden state, before pooling
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def weights_file(model_path: Path) -> Path:
    for name in _WEIGHT_FILES:
        if (model_path / name).exists():
            return model_path / name
    raise ConfigError(f"no model weights ({' or '.join(_WEIGHT_FILES)}) in {model_path}")


def weights_fingerprint(model_path: Path) -> str:
    """Short hash identifying the model weights and the export format (names the cache file)."""
    path = weights_file(model_path)
    digest = hashlib.sha256(f"{EXPORT_FORMAT}\0{OPSET}\0{path.stat().st_size}\0".encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(FINGERPRINT_PREFIX_BYTES))
    return digest.hexdigest()[:16]


def cached_model_path(cache_dir: Path, model_path: Path, quantized: bool = False) -> Path:
    suffix = INT8_SUFFIX if quantized else ""
    return cache_dir / f"{MODEL_NAME}{suffix}-{weights_fingerprint(model_path)}.onnx"


def ensure_onnx_model(cache_dir: Path, model_path: Path | None = None, quantized: bool = False) -> Path:
    """The cached .onnx file for the packaged model, exporting (and quantizing) it first if missing.

    Safe against concurrent processes: each writes its own temp file in `cache_dir` and renames it
    into place, so a reader sees either no file or a whole one (two racing exports both finish; the
    last rename wins and the files are equivalent).
    """
    model_path = model_path or model_dir()
    target = cached_model_path(cache_dir, model_path, quantized)
    if target.exists():
        if _intact(target):
            return target
        # A truncated or altered cache file would load as a broken session, or worse, as a model
        # that gives other vectors: it is a cache, so export it again.
        log.warning("cached ONNX model %s does not match its recorded sha256; exporting it again", target)
        target.unlink(missing_ok=True)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the ONNX model cache {cache_dir}: {exc}") from exc
    if quantized:
        source = ensure_onnx_model(cache_dir, model_path, quantized=False)
        _run_tool(["quantize", str(source)], target)
    else:
        _run_tool(["export", str(model_path)], target)
    return target


def _run_tool(args: list[str], target: Path) -> None:
    _remove_stale_temps(target.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"cannot write the ONNX model cache {target.parent}: {exc}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _export_isolated([*args, str(tmp)])
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a service user must be able to read it
        # The checksum goes first: a reader that finds the model finds its checksum too.
        _write_checksum(target, sha256_file(tmp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def checksum_path(target: Path) -> Path:
    """Where the sha256 of a cached model file is recorded (written with it, checked at every load)."""
    return target.with_name(target.name + ".sha256")


def _write_checksum(target: Path, digest: str) -> None:
    record = checksum_path(target)
    tmp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
    tmp.write_text(digest + "\n", encoding="ascii")
    os.chmod(tmp, 0o644)
    os.replace(tmp, record)


def _intact(target: Path) -> bool:
    try:
        recorded = checksum_path(target).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False  # no record (a cache written before checksums were kept): export once more
    return recorded == sha256_file(target)


def _remove_stale_temps(cache_dir: Path, older_than_s: float = 3600.0) -> None:
    # Leftovers of an export that was killed outright (the `finally` above never ran). An hour is far
    # longer than any export, so a concurrent process's file in progress is never touched.
    cutoff = time.time() - older_than_s
    for path in cache_dir.glob(f".{MODEL_NAME}*.onnx.*.tmp"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass  # gone already, or not ours to delete: harmless either way


def _export_isolated(args: list[str]) -> None:
    """Run this module's CLI in a child process.

    A child, not this process: exporting imports torch and transformers (~0.4 GB more resident,
    seconds to import), and a long-running server should not keep that after a one-off export.
    """
    package_root = str(Path(__file__).resolve().parents[2])  # so `rag` imports in the child too
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "rag.embedding.onnx_minilm", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise ConfigError(f"exporting the embedding model to ONNX failed ({' '.join(args[:1])}):\n{tail}")


# --- export (runs in the child process; the only code here that imports torch) --------------------


def export_onnx(model_path: Path, out: Path) -> None:
    """Export the packaged model with pooling and normalisation inside the graph, then verify it."""
    import torch
    from transformers import AutoModel

    # Eager attention: a plain matmul/softmax graph that the legacy (TorchScript) exporter traces
    # faithfully, where the SDPA path has data-dependent mask shortcuts a tracer could freeze. (Fusing
    # it offline with onnxruntime.transformers' BERT optimizer was tried: no measurable gain here.)
    encoder = AutoModel.from_pretrained(str(model_path), local_files_only=True, attn_implementation="eager")
    encoder.eval()

    class Pooled(torch.nn.Module):
        """Transformer + sentence-transformers' mean pooling + Normalize, as one module."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            # token_type_ids are all zero for single texts; made in-graph so callers pass two inputs.
            hidden = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            # Same arithmetic as sentence_transformers.models.Pooling (mean) and Normalize.
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1), hidden

    module = Pooled(encoder).eval()
    # Padding in the dummy batch on purpose: the tracer must see the masked path, never a
    # "no padding" shortcut baked in as a constant.
    ids = torch.tensor([[101, 7592, 2088, 2003, 102], [101, 7592, 102, 0, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    dynamic = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            module,
            (ids, mask),
            str(out),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME, TOKEN_OUTPUT],
            dynamic_axes={
                "input_ids": dynamic,
                "attention_mask": dynamic,
                OUTPUT_NAME: {0: "batch"},
                TOKEN_OUTPUT: dynamic,
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,  # the dynamo exporter needs onnxscript, which is not a dependency
        )
    _verify_export(module, out)


def _verify_export(module: Any, path: Path) -> None:
    """Refuse an export whose vectors differ from torch, at shapes other than the traced ones."""
    import onnxruntime as ort
    import torch

    generator = torch.Generator().manual_seed(0)
    lengths = [3, 17, 40, 9]
    width = max(lengths)
    ids = torch.zeros((len(lengths), width), dtype=torch.long)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(1000, 20000, (length,), generator=generator)
        ids[row, 0], ids[row, length - 1] = 101, 102
    mask = (ids != 0).long()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (batched,) = session.run([OUTPUT_NAME], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    with torch.no_grad():
        for row, length in enumerate(lengths):
            # Each text alone through torch: also proves padding in the ONNX batch changes nothing.
            expected = module(ids[row : row + 1, :length], mask[row : row + 1, :length])[0][0].numpy()
            cosine = float(np.dot(expected, batched[row]))
            if cosine < 0.9999:
                raise RuntimeError(f"ONNX export disagrees with torch: cosine {cosine:.6f} on row {row}")


def quantize_onnx(source: Path, out: Path) -> None:
    """int8 dynamic quantization of the MatMul weights (activations quantized at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # MatMul only: quantizing the embedding Gather saves disk, not time, and costs accuracy.
    quantize_dynamic(
        str(source),
        str(out),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        per_channel=True,
    )


# --- inference -----------------------------------------------------------------------------------


def plan_batches(
    sorted_lengths: Sequence[int],
    max_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
    max_rows: int = DEFAULT_MAX_BATCH_ROWS,
    max_row_padding: float = MAX_ROW_PADDING,
    min_tokens: int = MIN_BATCH_TOKENS,
) -> list[tuple[int, int]]:
    """[start, end) batches over token lengths sorted longest first.

    Each batch's padded size (rows x its first, longest row) stays within `max_tokens` and `max_rows`;
    a batch ends early where the next text would be more than `max_row_padding` padding, unless the
    batch is still under `min_tokens`. A text longer than the budget gets a batch of its own.
    """
    batches: list[tuple[int, int]] = []
    start, count = 0, len(sorted_lengths)
    while start < count:
        width = max(1, int(sorted_lengths[start]))
        rows_cap = max(1, min(max_rows, max_tokens // width))
        shortest_cheap = width * (1.0 - max_row_padding)
        end = start + 1
        while (
            end < count
            and end - start < rows_cap
            and (sorted_lengths[end] >= shortest_cheap or (end - start) * width < min_tokens)
        ):
            end += 1
        batches.append((start, end))
        start = end
    return batches


def pad_batch(encodings: Sequence[Encoding]) -> tuple[np.ndarray, np.ndarray]:
    """int64 input_ids and attention_mask, padded (with 0 = [PAD]) to the longest in the batch."""
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        length = len(encoding.ids)
        ids[row, :length] = encoding.ids
        mask[row, :length] = 1
    return ids, mask


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))  # the cores this process may use, not the host's
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _seq_window(model_path: Path) -> int:
    try:
        config = json.loads((model_path / "sentence_bert_config.json").read_text(encoding="utf-8"))
        return int(config.get("max_seq_length", MAX_SEQ_TOKENS))
    except (OSError, ValueError):
        return MAX_SEQ_TOKENS


class OnnxMiniLMEmbedder:
    """The real embedder on ONNX Runtime. Thread-safe: one inference at a time.

    One at a time on purpose: a single run already uses every core (intra-op threads), and two
    concurrent runs would only fight over them and both get slower.
    """

    dim = MODEL_DIM

    def __init__(
        self,
        cache_dir: Path,
        *,
        quantized: bool = False,
        cache_size: int = 1024,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        threads: int | None = None,
        spin: bool = False,
        model_path: Path | None = None,
        query_quantized: bool = False,
        query_threads: int = 1,
    ) -> None:
        from tokenizers import Tokenizer

        self.name = MODEL_NAME + (INT8_SUFFIX if quantized else "")
        self.backend = "onnx-int8" if quantized else "onnx"
        self.quantized = quantized
        self.cache_dir = Path(cache_dir)
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_rows = max_batch_rows
        self.threads = threads or default_threads()
        self.spin = spin
        self._path = model_path or model_dir()
        tokenizer_file = str(self._path / "tokenizer.json")
        # Two tokenizers, because truncation/padding are mutable state on a Tokenizer and the two
        # uses need different settings; sharing one across threads would race.
        # Counting (for the chunker): every word-piece, no specials. No model load needed, so a
        # no-op re-ingest never pays for the session.
        self._counter = self._tokenizer(Tokenizer, tokenizer_file, truncate=None)
        # Encoding: the model's own window (256, from sentence_bert_config.json). The packaged
        # tokenizer.json says 128 and fixed padding; sentence-transformers overrides both, so we do.
        self._encoder = self._tokenizer(Tokenizer, tokenizer_file, truncate=_seq_window(self._path))
        self._session: onnxruntime.InferenceSession | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        # Queries on the int8 model get their own session (and so never wait behind an ingest batch).
        self.query_quantized = query_quantized and not quantized
        self.query_threads = query_threads
        self._query_session: onnxruntime.InferenceSession | None = None
        self._cache = VectorLRU(cache_size)
        # Concurrent queries (the service's thread pool) share model calls instead of queueing.
        self._batcher: QueryBatcher[Encoding] = QueryBatcher(self._embed_query_encodings)
        self.model_file: Path | None = None
        self.session_runs = 0  # inference calls so far; tests use it to prove the cache works

    @staticmethod
    def _tokenizer(cls: type[Tokenizer], path: str, truncate: int | None) -> Tokenizer:
        tokenizer = cls.from_file(path)
        tokenizer.no_padding()  # we pad per batch, after sorting by length
        if truncate is None:
            tokenizer.no_truncation()
        else:
            tokenizer.enable_truncation(max_length=truncate)
        return tokenizer

    def _loaded_session(self) -> onnxruntime.InferenceSession:
        if self._session is None:
            with self._load_lock:
                if self._session is None:
                    self.model_file = ensure_onnx_model(self.cache_dir, self._path, quantized=self.quantized)
                    self._session = self._open_session(self.model_file, self.threads)
        return self._session

    def _loaded_query_session(self) -> onnxruntime.InferenceSession:
        if self._query_session is None:
            with self._load_lock:
                if self._query_session is None:
                    path = ensure_onnx_model(self.cache_dir, self._path, quantized=True)
                    self._query_session = self._open_session(path, self.query_threads)
        return self._query_session

    def _open_session(self, path: Path, threads: int) -> onnxruntime.InferenceSession:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ConfigError("onnxruntime is not installed; set RAG_EMBEDDER=torch") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1  # the graph is one chain; parallelism is inside each op
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: the "unused initializer" notes are noise
        # No busy-waiting between ops: on a shared 2-core machine a spinning worker steals the core
        # that the event loop and the other half of the matmul need. Measured single-query p50:
        # 16 ms without vs 29 ms with spinning under load; 8.7 vs 7.9 ms on a quiet machine. The
        # small win when idle is not worth the large loss when busy; `spin=True` for a dedicated box.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        try:
            return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(f"{path}: not a loadable ONNX model ({first}); delete it to export again") from None

    def warm_up(self) -> None:
        """Export or load the query model now (the service calls this at start-up, not on the first request)."""
        self._embed_query_encodings([self._encoder.encode("warm up")])

    def run_padded(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """One inference on an already padded batch: (rows, dim) normalized float32 vectors."""
        (vectors,) = self._run_outputs([OUTPUT_NAME], input_ids, attention_mask)
        return vectors

    def _run_outputs(self, names: list[str], input_ids: np.ndarray, attention_mask: np.ndarray) -> list[np.ndarray]:
        session = self._loaded_session()
        with self._run_lock:
            self.session_runs += 1
            return session.run(names, {"input_ids": input_ids, "attention_mask": attention_mask})

    def encode_tokens(self, texts: Sequence[str]) -> list[Encoding]:
        """Word-pieces as the model sees them: [CLS] ... [SEP], truncated to the model's window."""
        if len(texts) == 1:
            return [self._encoder.encode(texts[0])]  # skips the batch call's thread-pool hand-off
        return self._encoder.encode_batch(list(texts))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._embed_encodings(self.encode_tokens(texts), self.run_padded, MAX_ROW_PADDING, MIN_BATCH_TOKENS)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for several questions, each as `embed_query` gives it alone (no cache): the very same
        with an int8 query model, within float rounding with fp32, whose batches are padded."""
        return self._embed_query_encodings([self._encoder.encode(text) for text in texts])

    def _embed_query_encodings(self, encodings: Sequence[Encoding]) -> np.ndarray:
        if self.quantized or self.query_quantized:
            # One question per model call. Dynamic int8 quantizes activations with one scale for the
            # whole input tensor, so in a batch a question's vector depends on its batch mates (cosine
            # down to 0.985 on the eval questions): an answer would change with concurrent traffic.
            run = self._run_query_model if self.query_quantized else self.run_padded
            out = np.empty((len(encodings), self.dim), dtype=np.float32)
            for row, encoding in enumerate(encodings):
                out[row] = run(*pad_batch([encoding]))[0]
            return out
        return self._embed_encodings(encodings, self.run_padded, QUERY_ROW_PADDING, 0)

    def _run_query_model(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        session = self._loaded_query_session()
        # No lock: the query batcher's one worker is the only caller once the service runs (and an
        # ORT session may be run from several threads anyway).
        self.session_runs += 1
        (vectors,) = session.run([OUTPUT_NAME], {"input_ids": input_ids, "attention_mask": attention_mask})
        return vectors

    def _embed_encodings(
        self,
        encodings: Sequence[Encoding],
        run: Callable[[np.ndarray, np.ndarray], np.ndarray],
        max_row_padding: float,
        min_tokens: int,
    ) -> np.ndarray:
        out = np.empty((len(encodings), self.dim), dtype=np.float32)
        for rows, ids, mask in self._batches(encodings, max_row_padding, min_tokens):
            out[rows] = run(ids, mask)  # scatter back: input order is preserved
        return out

    def _batches(
        self, encodings: Sequence[Encoding], max_row_padding: float, min_tokens: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(rows, input_ids, attention_mask) per model call: longest texts first, padded per batch."""
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(-lengths, kind="stable")
        plan = plan_batches(lengths[order], self.max_batch_tokens, self.max_batch_rows, max_row_padding, min_tokens)
        for start, end in plan:
            rows = order[start:end]
            ids, mask = pad_batch([encodings[i] for i in rows])
            yield rows, ids, mask

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        """The texts' vectors, and from the same forward pass a vector per character span of each
        text (a sentence of a chunk): the mean of the token vectors inside the span, L2-normalized,
        as the text's own vector is pooled over all of them. None for a span with no whole word-piece
        inside the model's window (past the truncation point): embed that one on its own."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        pooled: list[list[np.ndarray | None]] = [[None] * len(s) for s in spans]
        if not texts:
            return out, pooled
        encodings = self.encode_tokens(texts)
        for rows, ids, mask in self._batches(encodings, MAX_ROW_PADDING, MIN_BATCH_TOKENS):
            vectors, tokens = self._run_outputs([OUTPUT_NAME, TOKEN_OUTPUT], ids, mask)
            out[rows] = vectors
            for row, i in enumerate(rows.tolist()):
                offsets = np.asarray(encodings[i].offsets, dtype=np.int64).reshape(-1, 2)
                real = (offsets[:, 1] > offsets[:, 0]) & (np.asarray(encodings[i].special_tokens_mask) == 0)
                for j, (start, end) in enumerate(spans[i]):
                    inside = real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
                    if inside.any():
                        vector = tokens[row, : len(offsets)][inside].mean(axis=0)
                        norm = float(np.linalg.norm(vector))
                        pooled[i][j] = (vector / norm if norm > 0 else vector).astype(np.float32)
        return out, pooled

    def embed_query(self, text: str) -> np.ndarray:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        # Tokenized here, in the caller's thread, so the batcher's one worker only runs the model.
        vector = self._batcher.encode(self._encoder.encode(text))
        self._cache.put(text, vector)
        return vector

    def count_model_tokens(self, text: str) -> int:
        """Word-pieces the model sees for `text`, without [CLS]/[SEP]."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)


def _main(argv: list[str]) -> int:
    usage = "usage: python -m rag.embedding.onnx_minilm (export MODEL_DIR | quantize SOURCE.onnx) OUT.onnx"
    if len(argv) != 3 or argv[0] not in {"export", "quantize"}:
        print(usage, file=sys.stderr)
        return 2
    command, source, out = argv
    if command == "export":
        export_onnx(Path(source), Path(out))
    else:
        quantize_onnx(Path(source), Path(out))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
