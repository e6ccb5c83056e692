"""Where an ingest's vectors are while it runs: rows of arrays on disk, found by text key.

An ingest of a large archive cannot hold every vector in memory (a 20,000-article archive has
about a million sentences: 1.5 GB of float32), nor the copies made stacking them into the index
arrays. So only key -> (source, row) is held; the index's `.npy` files are written a block at a
time, and each block maps its source file only while it copies out of it, so the pages it touched
leave the process's resident set again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

# Rows gathered per block: 8,192 rows of 384 floats are 12 MB.
BLOCK_ROWS = 8192

Opener = Callable[[], np.ndarray]


def raw_file_opener(path: Path, dim: int, offset: int = 0) -> Opener:
    """Rows of a float32 file of `dim` columns from `offset` bytes on, as many as it holds when opened
    (a checkpoint file grows while the ingest runs)."""

    def open_rows() -> np.ndarray:
        rows = max(path.stat().st_size - offset, 0) // (dim * 4)
        if rows == 0:
            return np.zeros((0, dim), dtype=np.float32)
        return np.memmap(path, dtype=np.float32, mode="r", offset=offset, shape=(rows, dim))

    return open_rows


def npy_opener(array: np.ndarray) -> Opener:
    """A memory-mapped `.npy` array (as `load_index` returns them) reopened per block; any other array
    is used as it is."""
    filename, offset = getattr(array, "filename", None), getattr(array, "offset", None)
    if filename is None or offset is None:
        return lambda: array
    return raw_file_opener(Path(filename), int(array.shape[1]), int(offset))


class VectorRows:
    """Text key -> the row that holds its vector, in one of a few sources (files or arrays)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._sources: list[Opener] = []
        self._where: dict[str, tuple[int, int]] = {}

    def add_source(self, opener: Opener) -> int:
        self._sources.append(opener)
        return len(self._sources) - 1

    def put(self, key: str, source: int, row: int) -> None:
        self._where[key] = (source, row)

    def put_new(self, key: str, source: int, row: int) -> None:
        self._where.setdefault(key, (source, row))

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def gather(self, keys: Sequence[str]) -> np.ndarray:
        """The vectors of `keys`, in order, in memory (for a small set, or a store that takes arrays)."""
        blocks = list(self._blocks(keys))
        return np.vstack(blocks) if blocks else np.zeros((0, self.dim), dtype=np.float32)

    def write_npy(self, path: Path, keys: Sequence[str]) -> None:
        """Write the vectors of `keys`, in order, as a float32 `.npy` file, one block at a time."""
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                  "shape": (len(keys), self.dim)}
        with open(path, "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, header)
            for block in self._blocks(keys):
                handle.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())

    def _blocks(self, keys: Sequence[str]) -> Iterator[np.ndarray]:
        for begin in range(0, len(keys), BLOCK_ROWS):
            part = keys[begin : begin + BLOCK_ROWS]
            places = np.array([self._where[k] for k in part], dtype=np.int64).reshape(-1, 2)
            out = np.empty((len(part), self.dim), dtype=np.float32)
            for source in np.unique(places[:, 0]):
                mine = np.flatnonzero(places[:, 0] == source)
                rows = self._sources[int(source)]()
                out[mine] = rows[places[mine, 1]]
                del rows  # unmapped here, before the next block maps anything
            yield out
