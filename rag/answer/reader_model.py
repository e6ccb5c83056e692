"""The learned reader's two small models, as shipped in `rag/answer/models/` and checked at load.

- The *sentence scorer*: logistic regression over `features.FEATURES`, the probability that a
  candidate sentence holds the answer.
- The *answerability model*: logistic regression over `ANSWERABILITY_FEATURES` (how the best
  candidates and the passages as a whole cover the question), the probability that the best
  quote answers it; below `threshold` the composer abstains.

Both are plain coefficients in one JSON file, so loading needs no pickle and no training library;
`models/checksums.json` holds its sha256, and a file that does not match is refused.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ModelFileError

MODEL_PACKAGE = "rag.answer.models"
MODEL_FILE = "reader.json"
CHECKSUMS_FILE = "checksums.json"
ANSWERABILITY_FEATURES = (
    "p1",
    "p2",
    "p_margin",
    "best_cos",
    "best_lex",
    "best_lex_window",
    "top_passage_cos",
    "passages_coverage",
    "unknown_names",
)


@dataclass(frozen=True)
class LinearModel:
    """sigmoid(((x - mean) / scale) · coef + intercept)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        if matrix.shape[0] == 0:
            return np.zeros(0, np.float64)
        z = ((np.asarray(matrix, np.float64) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": float(self.intercept),
        }

    @classmethod
    def from_dict(cls, obj: Any, expected: Sequence[str], where: str) -> LinearModel:
        try:
            features = tuple(str(f) for f in obj["features"])
            arrays = [np.asarray(obj[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
            intercept = float(obj["intercept"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{where}: malformed linear model ({exc})") from None
        if features != tuple(expected):
            raise ModelFileError(f"{where}: trained on other features than this code computes; retrain it")
        if any(a.shape != (len(features),) or not np.all(np.isfinite(a)) for a in arrays) or np.any(arrays[1] <= 0):
            raise ModelFileError(f"{where}: coefficients of the wrong shape or not finite")
        return cls(features, arrays[0], arrays[1], arrays[2], intercept)


@dataclass(frozen=True)
class ReaderModel:
    scorer: LinearModel
    answerability: LinearModel
    threshold: float
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "scorer": self.scorer.as_dict(),
            "answerability": self.answerability.as_dict(),
            "threshold": self.threshold,
        }


def _model_dir() -> Path:
    return Path(str(importlib.resources.files(MODEL_PACKAGE)))


def load_reader_model(folder: Path | None = None) -> ReaderModel:
    """The shipped reader (or one in `folder`), verified against its recorded sha256."""
    from rag.answer.features import FEATURES

    folder = folder or _model_dir()
    path = folder / MODEL_FILE
    try:
        data = path.read_bytes()
        checksums = json.loads((folder / CHECKSUMS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelFileError(f"{exc.filename}: reader model file missing; run python -m training.reader") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{folder / CHECKSUMS_FILE}: unreadable ({exc})") from None
    digest = hashlib.sha256(data).hexdigest()
    expected = checksums.get(MODEL_FILE) if isinstance(checksums, dict) else None
    if digest != expected:
        raise ModelFileError(f"{path}: sha256 {digest[:16]}… does not match the recorded {str(expected)[:16]}…")
    try:
        obj = json.loads(data)
        threshold = float(obj["threshold"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: malformed reader model ({exc})") from None
    return ReaderModel(
        scorer=LinearModel.from_dict(obj.get("scorer"), FEATURES, f"{path} scorer"),
        answerability=LinearModel.from_dict(obj.get("answerability"), ANSWERABILITY_FEATURES, f"{path} answerability"),
        threshold=threshold,
        sha256=digest,
    )


def write_reader_model(model_dict: dict[str, Any], folder: Path, extra: dict[str, Any] | None = None) -> str:
    """Write the model file and record its sha256; returns the digest."""
    folder.mkdir(parents=True, exist_ok=True)
    data = (json.dumps({**model_dict, **(extra or {})}, indent=1) + "\n").encode()
    (folder / MODEL_FILE).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    (folder / CHECKSUMS_FILE).write_text(json.dumps({MODEL_FILE: digest}, indent=1) + "\n", encoding="utf-8")
    return digest
