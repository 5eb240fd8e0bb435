"""Monthly slices of the bundled real data, to replay releases as they landed: the code lives
in ``nowcast.replay`` (public, so notebooks can use it too); this module re-exports it for the
tests and benchmarks that ``import replay``."""

from __future__ import annotations

from nowcast.replay import DATA_DIR, DATE_COLUMN, initial_data, source_of, write_slice

__all__ = ["DATA_DIR", "DATE_COLUMN", "initial_data", "source_of", "write_slice"]
