"""Shared fixtures.

Most tests use the deterministic `HashingEmbedder` over an index of `seeds/` built once per
session; tests marked `integration` load the real all-MiniLM-L6-v2 model, also once per session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.embedding.fake import HashingEmbedder
from rag.engine import RagEngine
from rag.ingest import ingest
from rag.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture()
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def fake_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of seeds/ built with the fake embedder. Read-only: copy it before changing it."""
    index_dir = tmp_path_factory.mktemp("fake-index")
    ingest([SEEDS], Settings(index_dir=index_dir), embedder=HashingEmbedder())
    return index_dir


@pytest.fixture()
def writable_index(fake_index_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(fake_index_dir, target)
    return target


@pytest.fixture(scope="session")
def fake_engine(fake_index_dir: Path) -> RagEngine:
    return RagEngine.open(Settings(index_dir=fake_index_dir), embedder=HashingEmbedder())


@pytest.fixture(scope="session")
def real_embedder():  # noqa: ANN201 - the type lives behind a lazy torch import
    from rag.embedding import load_embedder

    return load_embedder(Settings())


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> Path:  # noqa: ANN001
    index_dir = tmp_path_factory.mktemp("real-index")
    ingest([SEEDS], Settings(index_dir=index_dir), embedder=real_embedder)
    return index_dir


@pytest.fixture(scope="session")
def real_engine(real_index_dir: Path, real_embedder) -> RagEngine:  # noqa: ANN001
    return RagEngine.open(Settings(index_dir=real_index_dir), embedder=real_embedder)
