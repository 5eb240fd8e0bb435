"""Errors a user can act on: each names the file, the row or field, and what was expected."""

from __future__ import annotations

from pathlib import Path


class NowcastError(Exception):
    """Base class for errors shown to users without a traceback."""


class SourceError(NowcastError, ValueError):
    """A source file failed to parse or validate.

    ``line`` is the 1-based line in the file (the header is line 1) when it is known.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.detail = message
        where = [str(self.path)]
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}")


class StoreError(NowcastError):
    """The vintage store cannot answer or accept a request."""
