"""Shared fixtures: the bundled real data folder, a seeded rng, and malformed-file helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The bundled real data (``data/``)."""
    return DATA_DIR


@pytest.fixture
def rng() -> np.random.Generator:
    """One seeded generator per test: no unseeded randomness anywhere."""
    return np.random.default_rng(20261125)


def write_variant(tmp_path: Path, name: str, text: str | bytes) -> Path:
    """Write a malformed variant of a source file and return its path."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
