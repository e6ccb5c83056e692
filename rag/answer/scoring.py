"""Step 3 of the reader: score each candidate sentence. One interface, swappable implementations."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from rag.answer.features import Candidates
from rag.answer.reader_model import LinearModel


class SentenceScorer(Protocol):
    """Contract: `score(candidates)` returns one finite float per candidate, higher = more likely
    to hold the answer; the same candidates always get the same scores."""

    name: str

    def score(self, candidates: Candidates) -> np.ndarray: ...


class LearnedScorer:
    """The shipped logistic regression over `features.FEATURES` (`rag/answer/models/reader.json`)."""

    name = "learned"

    def __init__(self, model: LinearModel) -> None:
        self.model = model

    def score(self, candidates: Candidates) -> np.ndarray:
        return self.model.probabilities(candidates.matrix)


class CosineScorer:
    """The bi-encoder's cosine alone: the plain baseline a learned scorer must beat."""

    name = "cosine"

    def score(self, candidates: Candidates) -> np.ndarray:
        return candidates.cosines.astype(np.float64)


class RandomScorer:
    """Scores unrelated to the text (seeded per candidate set): what the gate must catch."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def score(self, candidates: Candidates) -> np.ndarray:
        rng = np.random.default_rng([self.seed, *candidates.rows[:4]])
        return rng.random(len(candidates))
