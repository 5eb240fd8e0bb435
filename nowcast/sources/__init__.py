"""Registry of sources: one module per publisher's data product.

``SOURCES`` maps a source name (what ``nowcast ingest --source`` takes) to its ``Source``.
"""

from __future__ import annotations

from importlib import import_module

from nowcast.errors import NowcastError
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


__all__ = ["OBSERVATION_COLUMNS", "SOURCES", "Source", "get_source"]
