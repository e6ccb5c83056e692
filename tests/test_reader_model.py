"""The shipped reader model: verified at load (sha256), refused when altered, loaded with no
network; and the retraining command, end to end on a tiny copy of the training data."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
from pathlib import Path

import pytest

from rag.answer.features import FEATURES
from rag.answer.reader_model import (
    CHECKSUMS_FILE,
    MODEL_FILE,
    _model_dir,
    load_reader_model,
    write_reader_model,
)
from rag.embedding.fake import HashingEmbedder
from rag.errors import ModelFileError
from training.data import FILES, load_training_set
from training.reader import run


@pytest.fixture()
def model_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in (MODEL_FILE, CHECKSUMS_FILE):
        shutil.copy(_model_dir() / name, folder / name)
    return folder


def test_the_shipped_model_loads_with_the_network_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the reader model must load without the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    model = load_reader_model()
    assert model.scorer.features == FEATURES


def test_a_flipped_byte_is_refused(model_copy: Path) -> None:
    path = model_copy / MODEL_FILE
    data = bytearray(path.read_bytes())
    i = data.index(b"0.")
    data[i] = ord("1")
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="sha256"):
        load_reader_model(model_copy)


def test_a_missing_checksum_or_model_is_refused(model_copy: Path, tmp_path: Path) -> None:
    (model_copy / CHECKSUMS_FILE).unlink()
    with pytest.raises(ModelFileError, match="missing"):
        load_reader_model(model_copy)
    with pytest.raises(ModelFileError, match="missing"):
        load_reader_model(tmp_path / "nothing-here")


def test_a_model_of_other_features_is_refused_even_with_a_matching_checksum(model_copy: Path) -> None:
    obj = json.loads((model_copy / MODEL_FILE).read_text(encoding="utf-8"))
    obj["scorer"]["features"] = list(reversed(obj["scorer"]["features"]))
    write_reader_model(obj, model_copy)
    with pytest.raises(ModelFileError, match="other features"):
        load_reader_model(model_copy)


def test_non_finite_coefficients_are_refused(model_copy: Path) -> None:
    obj = json.loads((model_copy / MODEL_FILE).read_text(encoding="utf-8"))
    obj["answerability"]["scale"][0] = 0.0
    write_reader_model(obj, model_copy)
    with pytest.raises(ModelFileError, match="not finite"):
        load_reader_model(model_copy)


def _tiny_training_data(source: Path, target: Path, keep: int) -> None:
    """The first few items of each training file: the same formats, seconds to train on."""
    target.mkdir()
    for name in FILES.values():
        with gzip.open(source / name, "rt", encoding="utf-8") as f:
            data = json.load(f)
        if isinstance(data, dict):
            data = {**data, "data": [{**a, "paragraphs": a["paragraphs"][:keep]} for a in data["data"][:2]]}
        else:
            data = data[:keep]
        with gzip.open(target / name, "wt", encoding="utf-8") as f:
            json.dump(data, f)


def test_retraining_writes_a_model_that_loads(tmp_path: Path) -> None:
    from training.data import DEFAULT_DATA

    data = tmp_path / "train"
    _tiny_training_data(DEFAULT_DATA, data, keep=12)
    assert len(load_training_set(data).questions) > 50
    out = tmp_path / "models"
    assert run(data, tmp_path / "work", out, seed=1, embedder=HashingEmbedder()) == 0
    model = load_reader_model(out)
    assert model.scorer.features == FEATURES and 0 < model.threshold < 1
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["seed"] == 1 and "sentence_p@1" in metrics


def test_retraining_without_the_data_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path / "missing", tmp_path / "work", tmp_path / "models", seed=1, embedder=HashingEmbedder()) == 2
    assert "training file not found" in capsys.readouterr().err
