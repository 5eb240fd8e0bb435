"""Registry of sources: one module per publisher's data product.

``SOURCES`` maps a source name (what ``nowcast ingest --source`` takes) to its ``Source``;
``recognise_source(path)`` finds the one whose format a file is in, when ``--source`` is left
out.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from nowcast.errors import NowcastError, SourceError
from nowcast.sources.base import OBSERVATION_COLUMNS, Source


class UnknownSourceError(NowcastError, KeyError):
    """A source name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


_MODULES = [
    "coinmetrics",
    "cbr_fx",
    "cbr_key_rate",
    "cbr_bop",
    "cbr_trade",
    "eia_brent",
    "cbeci",
    "electricity",
    "regional_electricity",
    "ember",
    "rosstat",
    "estimates",
    "generic",
]


def _load() -> dict[str, Source]:
    found: dict[str, Source] = {}
    for mod_name in _MODULES:
        mod = import_module(f"nowcast.sources.{mod_name}")
        for src in getattr(mod, "SOURCES", None) or [mod.SOURCE]:
            if src.name in found:
                raise RuntimeError(f"source name {src.name!r} registered twice")
            found[src.name] = src
    return found


SOURCES: dict[str, Source] = _load()


def get_source(name: str) -> Source:
    """The source called ``name``; the error lists the known names."""
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownSourceError(
            f"unknown source {name!r}; known sources: {sorted(SOURCES)}"
        ) from None


def recognise_source(path: str | Path) -> Source:
    """The one source whose format ``path`` is in, told from its first few KB.

    A missing, unreadable or empty file, a folder, a file no source recognises and one that
    several recognise are ``SourceError``s naming the file; the last two ask for ``--source``.
    """
    path = Path(path)
    # Told apart without opening: reading a named pipe would block.
    if path.is_dir():
        raise SourceError(path, "is a folder: expected a file")
    if not path.exists():
        raise SourceError(path, "file not found")
    if not path.is_file():
        raise SourceError(path, "not a regular file (a pipe or a device?): expected a data file")
    try:
        with open(path, "rb") as f:
            empty = not f.read(1)
    except OSError as exc:
        raise SourceError(path, f"cannot read the file: {exc.strerror or exc}") from None
    known = sorted(SOURCES)
    if empty:
        raise SourceError(
            path,
            "file is empty: not recognised as any source's format; give --source NAME"
            f" (known sources: {known})",
        )
    found = sorted(name for name, src in SOURCES.items() if src.recognise and src.recognise(path))
    if not found:
        raise SourceError(
            path,
            "the file is not recognised as any source's format; give --source NAME"
            f" (known sources: {known})",
        )
    if len(found) > 1:
        raise SourceError(path, f"the file matches several sources: {found}; give --source NAME")
    return SOURCES[found[0]]


__all__ = ["OBSERVATION_COLUMNS", "SOURCES", "Source", "get_source", "recognise_source"]
