"""Atomic file writes: nothing already stored is lost or half-written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through ``write(tmp)`` into a temporary file beside ``path``, then rename it over
    ``path``; on failure no partial file is left."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """``df`` as CSV without its index, atomically."""
    return write_atomic(path, lambda tmp: df.to_csv(tmp, index=False))


def write_text(text: str, path: Path) -> Path:
    """UTF-8 text, atomically."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
