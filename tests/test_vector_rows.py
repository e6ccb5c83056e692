"""VectorRows: an ingest's vectors found by key in files on disk, written out block by block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.store import vector_rows
from rag.store.vector_rows import VectorRows, npy_opener, raw_file_opener


def _rows_in_two_sources(tmp_path: Path) -> tuple[VectorRows, dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    saved = rng.standard_normal((30, 4)).astype(np.float32)
    np.save(tmp_path / "prev.npy", saved)
    growing = rng.standard_normal((20, 4)).astype(np.float32)
    (tmp_path / "ckpt.f32").write_bytes(growing.tobytes())
    rows = VectorRows(4)
    prev = rows.add_source(npy_opener(np.load(tmp_path / "prev.npy", mmap_mode="r")))
    ckpt = rows.add_source(raw_file_opener(tmp_path / "ckpt.f32", 4))
    expected = {}
    for i in range(30):
        rows.put(f"p{i}", prev, i)
        expected[f"p{i}"] = saved[i]
    for i in range(20):
        rows.put(f"c{i}", ckpt, i)
        expected[f"c{i}"] = growing[i]
    return rows, expected


def test_gather_and_write_npy_give_each_keys_own_row_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_rows, "BLOCK_ROWS", 7)  # blocks that mix the sources and end mid-way
    rows, expected = _rows_in_two_sources(tmp_path)
    keys = ["c3", "p0", "p29", "c19", "c3", *[f"p{i}" for i in range(10, 20)], "c0"]
    want = np.vstack([expected[k] for k in keys])
    assert np.array_equal(rows.gather(keys), want)
    rows.write_npy(tmp_path / "out.npy", keys)
    written = np.load(tmp_path / "out.npy")
    assert written.dtype == np.float32 and np.array_equal(written, want)


def test_a_growing_file_is_read_as_it_is_when_a_block_maps_it(tmp_path: Path) -> None:
    rows, _ = _rows_in_two_sources(tmp_path)
    later = np.full((1, 4), 9.0, dtype=np.float32)
    with open(tmp_path / "ckpt.f32", "ab") as handle:
        handle.write(later.tobytes())
    rows.put("late", 1, 20)
    assert rows.gather(["late"]).tolist() == later.tolist()


def test_put_new_keeps_the_first_place_and_an_empty_list_writes_an_empty_array(tmp_path: Path) -> None:
    rows, expected = _rows_in_two_sources(tmp_path)
    rows.put_new("p1", 1, 0)
    assert np.array_equal(rows.gather(["p1"])[0], expected["p1"])
    rows.write_npy(tmp_path / "empty.npy", [])
    assert np.load(tmp_path / "empty.npy").shape == (0, 4)
    with pytest.raises(KeyError):
        rows.gather(["never-seen"])
