"""Atomic file writes: nothing already stored is lost or half-written."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


class Pending:
    """A write running in a background thread while the caller goes on (the netCDF library
    leaves the interpreter free while it copies and writes). ``wait()`` returns what the write
    returned once it is complete, or raises what it raised: wait before anything that takes
    the file for written (a nowcast recorded as current)."""

    def __init__(self, write: Callable[[], Path]) -> None:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nowcast-write")
        self._future = pool.submit(write)
        pool.shutdown(wait=False)  # the thread ends with the write

    def wait(self) -> Path:
        return self._future.result()
