"""The files of an update: the releases it is given (each resolved to its source and validated
before anything is stored) and what it keeps in a run folder beside the posterior: the folder
itself, ``update.json``, the forecast's paths, and the saved log likelihood read back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from nowcast.files import write_atomic
from nowcast.netcdf_read import read_group

UPDATE_FILE = "update.json"
REVISION_FILE = "revision.csv"
# the baseline forecast's driver paths, innovations and shocks: the next update continues them
PATHS_FILE = "forecast_paths.nc"


@dataclass(frozen=True)
class Incoming:
    """One file of an update and the source that parses it."""

    path: Path
    source: str
    published: str | None = None


def resolve_files(
    files: Sequence[str | Path | Incoming], source: str | None, published: str | None
) -> list[Incoming]:
    """The files named on the command line with their sources: ``source`` for all, or each
    file's own format (``nowcast.sources.recognise_source``); an ``Incoming`` names its own."""
    from nowcast.sources import get_source, recognise_source

    out = []
    for f in files:
        if isinstance(f, Incoming):
            out.append(f)
            continue
        path = Path(f)
        name = get_source(source).name if source else recognise_source(path).name
        out.append(Incoming(path, name, published))
    return out


def validate(item: Incoming) -> None:
    """Parse and validate one file without storing anything (``SourceError`` naming the file,
    line and field)."""
    from nowcast.sources import get_source
    from nowcast.store import parse_day

    pub = parse_day(item.published, "--published") if item.published else None
    get_source(item.source).load(item.path, published=pub)


def _previous_meta(run_path: Path) -> dict[str, Any]:
    """The forecast settings the previous nowcast was made with (``update.json``; a run
    from ``nowcast run`` records them there too)."""
    path = Path(run_path) / UPDATE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _new_run_folder(store_dir: Path, tree: xr.DataTree) -> Path:
    from datetime import UTC, datetime

    from nowcast.fit import run_dir

    tree.attrs["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    folder = run_dir(store_dir, tree)
    n = 1
    while folder.exists():  # two updates within one second
        n += 1
        folder = folder.with_name(f"{run_dir(store_dir, tree).name}_{n}")
    folder.mkdir(parents=True)
    return folder


def save_paths(paths: Any, run_path: Path) -> Path:
    """Save a forecast's paths (``ForecastPaths``) beside its run."""
    ds = paths.to_dataset()
    return write_atomic(
        Path(run_path) / PATHS_FILE, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf")
    )


def load_paths(run_path: Path) -> Any:
    """A run's saved forecast paths, or ``None`` (missing or unreadable: drawn again)."""
    from nowcast.forecast import ForecastPaths

    path = Path(run_path) / PATHS_FILE
    if not path.exists():
        return None
    try:
        return ForecastPaths.from_dataset(read_group(path))
    except (OSError, ValueError, KeyError):
        return None


def _saved_log_likelihood(run_path: Path) -> xr.Dataset | None:
    from nowcast.pipeline import LOG_LIKELIHOOD_FILE

    path = Path(run_path) / LOG_LIKELIHOOD_FILE
    if not path.exists():
        return None
    try:
        return read_group(path)
    except (OSError, ValueError):
        return None  # damaged: the previous model is evaluated instead
