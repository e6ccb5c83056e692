"""Vectors an ingest has computed so far, kept on disk as they are produced, so that a killed
ingest resumes where it stopped instead of embedding everything again.

    <index>/.embedded-<model>/
      keys.txt      one sha256 of a text per line
      vectors.f32   the float32 vectors, row i for line i

Each batch is appended vectors first, then keys, each fsynced: a kill between the two leaves
vectors without keys, which the next open cuts off; a half-written line is cut off the same way.
A batch therefore is on disk whole or not at all, and a resumed ingest embeds the remaining
batches exactly as an uninterrupted run would (the same texts in the same batches), so the index
it writes is the same, bit for bit. The folder is removed once the index is written.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np

from rag.store.vector_rows import Opener, raw_file_opener


class EmbeddingCheckpoint:
    def __init__(self, index_dir: Path, model: str, dim: int, scope: str = "") -> None:
        """`scope`: what else the vectors are for (the PostgreSQL store's URL: two databases ingested
        from one folder at once must not share a checkpoint)."""
        digest = hashlib.sha256(f"{model}\0{scope}".encode()).hexdigest()[:12]
        self.folder = Path(index_dir) / f".embedded-{digest}"
        self.dim = dim
        self._keys = self.folder / "keys.txt"
        self._vectors = self.folder / "vectors.f32"

    def load(self) -> dict[str, int]:
        """The keys of complete batches, each with its row in `opener()`'s array (cutting off what a
        kill left half-written)."""
        if not self._keys.is_file() or not self._vectors.is_file():
            return {}
        raw = self._keys.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        keys = complete.decode("ascii", errors="replace").splitlines()
        row_bytes = self.dim * 4
        rows = min(len(keys), self._vectors.stat().st_size // row_bytes)
        keys = keys[:rows]
        if len(complete) != len(raw) or self._vectors.stat().st_size != rows * row_bytes:
            self._truncate(keys, rows * row_bytes)
        return {key: row for row, key in enumerate(keys)}

    def opener(self) -> Opener:
        """The checkpointed vectors, row i for key line i, mapped anew on each call (the file grows)."""
        return raw_file_opener(self._vectors, self.dim)

    def append(self, keys: list[str], vectors: np.ndarray) -> int:
        """Write one batch (durably); returns the row its first vector has."""
        self.folder.mkdir(parents=True, exist_ok=True)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), self.dim)
        # Whole rows only: `load` cut off any half-written batch before the first append.
        first = self._vectors.stat().st_size // (self.dim * 4) if self._vectors.is_file() else 0
        with open(self._vectors, "ab") as handle:
            handle.write(vectors.tobytes())
            handle.flush()
            os.fsync(handle.fileno())
        with open(self._keys, "ab") as handle:
            handle.write("".join(f"{k}\n" for k in keys).encode("ascii"))
            handle.flush()
            os.fsync(handle.fileno())
        return first

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _truncate(self, keys: list[str], vector_bytes: int) -> None:
        with open(self._keys, "wb") as handle:
            handle.write("".join(f"{k}\n" for k in keys).encode("ascii"))
            handle.flush()
            os.fsync(handle.fileno())
        with open(self._vectors, "r+b") as handle:
            handle.truncate(vector_bytes)
            handle.flush()
            os.fsync(handle.fileno())
