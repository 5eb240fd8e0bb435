"""A fitted run on disk: its folder, ``posterior.nc`` and ``diagnostics.csv`` written
atomically, the posterior read back whole or by group, and the free variables it recorded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import MONTH
from nowcast.errors import NowcastError
from nowcast.files import Pending, write_atomic, write_csv
from nowcast.model.spec import ModelSpec

if TYPE_CHECKING:
    from nowcast.fit import FitResult

# run attribute: JSON list of the model's free variables (the ones NUTS sampled)
FREE_VARIABLES = "free_variables"


POSTERIOR_FILE = "posterior.nc"


def save_posterior(tree: xr.DataTree, folder: Path) -> Path:
    """Write a run's ``posterior.nc`` atomically (temporary file, then rename)."""
    return write_atomic(
        Path(folder) / POSTERIOR_FILE, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf")
    )


DIAGNOSTICS_FILE = "diagnostics.csv"


def run_dir(store_dir: Path, tree: xr.DataTree) -> Path:
    """Folder of one fitted run: ``<store>/runs/<timestamp>_<model>_<spec hash>``."""
    stamp = tree.attrs["created_at"].replace(":", "").replace("-", "")[:15]
    return store_dir / "runs" / f"{stamp}_{tree.attrs['model']}_{tree.attrs['spec_hash'][:8]}"


def save_run(result: FitResult, store_dir: Path, pending: list[Pending] | None = None) -> Path:
    """Write ``posterior.nc`` and ``diagnostics.csv`` atomically (temporary file, then rename)
    into a new run folder; returns the folder. With ``pending``, the posterior (hundreds of
    MB, seconds to write) is written in the background and its ``Pending`` appended: the
    caller goes on with the forecasts and the report and waits before recording the run."""
    out = run_dir(store_dir, result.tree)
    out.mkdir(parents=True, exist_ok=True)
    if pending is None:
        save_posterior(result.tree, out)
    else:
        pending.append(Pending(lambda: save_posterior(result.tree, out)))
    diag = result.diagnostics.table.assign(
        divergences=result.diagnostics.divergences,
        min_bfmi=min(result.diagnostics.bfmi) if result.diagnostics.bfmi else np.nan,
    )
    write_csv(diag, out / DIAGNOSTICS_FILE)
    return out


def load_run(path: str | Path, spec: ModelSpec | None = None) -> xr.DataTree:
    """Open a saved posterior; with ``spec``, refuse one that another spec produced."""
    path = Path(path)
    if path.is_dir():
        path = path / "posterior.nc"
    if not path.exists():
        raise NowcastError(f"{path}: no posterior file")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except (OSError, ValueError) as exc:  # truncated or damaged by a killed or full-disk save
        raise NowcastError(
            f"{path}: cannot read the posterior ({exc}): refit with `nowcast fit`"
        ) from None
    if spec is not None and tree.attrs.get("spec_hash") != spec.spec_hash():
        raise NowcastError(
            f"{path} was fitted with spec {tree.attrs.get('model')}"
            f" ({tree.attrs.get('spec_hash')}), not {spec.name} ({spec.spec_hash()})"
        )
    return tree


def load_run_groups(
    path: str | Path, groups: Sequence[str], skip: Sequence[str] = ()
) -> xr.DataTree:
    """Only ``groups`` of a saved run (and its attributes), without the variables ``skip``:
    opening a netCDF group costs in proportion to its variables, an update needs four of the
    run's seven groups, and reading the largest variable a caller rebuilds anyway is time
    lost."""
    from nowcast.netcdf_read import read_groups

    path = Path(path)
    if path.is_dir():
        path = path / "posterior.nc"
    try:
        attrs, read = read_groups(path, groups, skip)
    except (OSError, ValueError) as exc:
        raise NowcastError(
            f"{path}: cannot read the posterior ({exc}): refit with `nowcast fit`"
        ) from None
    tree = xr.DataTree.from_dict({f"/{g}": ds for g, ds in read.items()})
    tree.attrs.update(attrs)
    return tree


def run_first_month(path: str | Path) -> pd.Timestamp:
    """The first month of a saved run's window, read without opening its posterior group
    (which costs 0.6 s for its variables' metadata: measured)."""
    import h5py
    from xarray.coding.times import decode_cf_datetime

    path = Path(path)
    if path.is_dir():
        path = path / "posterior.nc"

    def text(value: object) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    try:
        with h5py.File(path, "r") as fh:
            months = fh[f"posterior/{MONTH}"]
            first = months[0:1]
            units = text(months.attrs["units"])
            calendar = text(months.attrs.get("calendar", "standard"))
        return pd.Timestamp(decode_cf_datetime(first, units, calendar)[0])
    except (OSError, KeyError, ValueError) as exc:
        raise NowcastError(
            f"{path}: cannot read the posterior ({exc}): refit with `nowcast fit`"
        ) from None


def free_variables(tree: xr.DataTree) -> list[str] | None:
    """The free variables a run's fit recorded (``None`` for runs saved before that record,
    or when the record is unreadable: then every posterior variable is checked)."""
    raw = tree.attrs.get(FREE_VARIABLES)
    if raw is None:
        return None
    try:
        names = json.loads(str(raw))
    except json.JSONDecodeError:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return names
