"""Groups of the netCDF-4 files a run writes (``posterior.nc``, ``log_likelihood.nc``,
``forecast_paths.nc``) read straight from HDF5 with h5py, then CF-decoded by xarray.

Why by hand: ``xr.open_dataset(engine="h5netcdf")`` spent 0.8 s opening the groups an update
reads of a default run's posterior (its 226 variables), almost all of it resolving each
variable's dimensions through HDF5 object references; h5py reads the same 93 MB in 0.07 s
(measured on December's update). A netCDF-4 file says the same thing twice: every variable
lists its dimensions' ids (``_Netcdf4Coordinates``) and every dimension is a dimension scale
carrying its id (``_Netcdf4Dimid``), so the names come from one pass over the group. What
the file holds is then decoded by ``xarray.decode_cf`` exactly as ``open_dataset`` decodes it
(times, fill values, coordinates); a test holds every group of a run's files identical to
xarray's reading. A variable this layout does not describe (no dimension ids, or an id no
scale of its own group carries) has its dimensions resolved through its HDF5 references, as
h5netcdf does; a file that cannot be read this way at all is read by xarray.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

# attributes netCDF-4 and HDF5 keep for themselves: never a variable's own
_INTERNAL = frozenset(
    {
        "_Netcdf4Coordinates",
        "_Netcdf4Dimid",
        "_NCProperties",
        "DIMENSION_LIST",
        "REFERENCE_LIST",
        "CLASS",
        "NAME",
        "_nc3_strict",
    }
)
# the NAME of a dimension scale that is a dimension only, not a variable (netCDF-C's text)
_DIMENSION_ONLY = b"This is a netCDF dimension but not a netCDF variable"


def read_group(path: str | Path, group: str | None = None, skip: Iterable[str] = ()) -> xr.Dataset:
    """One group of a netCDF-4 file (``None``: the root) loaded into memory and decoded, as
    ``xr.open_dataset(path, group=group, engine="h5netcdf", drop_variables=skip).load()``
    gives it (and raises: ``OSError`` or ``ValueError`` for a file that cannot be read)."""
    return read_groups(path, [group], skip)[1][group]


def read_groups(
    path: str | Path, groups: Iterable[str | None], skip: Iterable[str] = ()
) -> tuple[dict[str, Any], dict[str | None, xr.Dataset]]:
    """The root attributes and ``groups`` of one file, opened once (see ``read_group``)."""
    import h5py

    groups, drop = list(groups), frozenset(skip)
    try:
        with h5py.File(path, "r") as fh:
            return _attrs(fh.attrs), {g: _group(fh, g, drop) for g in groups}
    except (KeyError, TypeError, IndexError, ValueError):
        # a layout this reader does not know (or a damaged file): xarray's own reading,
        # which reads it or says why not
        return _read_with_xarray(Path(path), groups, drop)


def _read_with_xarray(
    path: Path, groups: list[str | None], skip: frozenset[str]
) -> tuple[dict[str, Any], dict[str | None, xr.Dataset]]:
    with xr.open_dataset(path, engine="h5netcdf") as root:
        attrs = dict(root.attrs)
    parts = {}
    for g in groups:
        with xr.open_dataset(path, group=g, engine="h5netcdf", drop_variables=list(skip)) as ds:
            parts[g] = ds.load()
    return attrs, parts


def _group(fh: Any, name: str | None, skip: frozenset[str]) -> xr.Dataset:
    import h5py

    grp = fh if name in (None, "", "/") else fh[name]
    names = _dimension_names(grp)
    variables: dict[str, xr.Variable] = {}
    for key, item in grp.items():
        if not isinstance(item, h5py.Dataset) or key in skip:
            continue
        attrs = item.attrs
        if attrs.get("CLASS") == b"DIMENSION_SCALE" and bytes(attrs.get("NAME", b"")).startswith(
            _DIMENSION_ONLY
        ):
            continue
        dims = _dims_of(item, names)
        if h5py.check_string_dtype(item.dtype) is not None:
            # variable-length text as xarray decodes it: fixed-width unicode
            values = np.asarray(item.asstr()[()], dtype=object).astype(str)
        else:
            values = item[()]
        variables[key] = xr.Variable(dims, values, _attrs(attrs))
    raw = xr.Dataset(variables, attrs=_attrs(grp.attrs))
    # every variable that is a dimension's own scale is an index coordinate, as in xarray
    raw = raw.set_coords([k for k in raw.data_vars if raw[k].dims == (k,)])
    return xr.decode_cf(raw)


def _dimension_names(grp: Any) -> dict[int, str]:
    """Dimension id -> name for the dimension scales of ``grp`` itself (the groups a run
    writes each define their own dimensions; a variable whose ids are not all here is read
    through its references)."""
    import h5py

    names: dict[int, str] = {}
    for key, item in grp.items():
        if isinstance(item, h5py.Dataset) and item.attrs.get("CLASS") == b"DIMENSION_SCALE":
            dimid = item.attrs.get("_Netcdf4Dimid")
            if dimid is not None:
                names[int(dimid)] = key
    return names


def _dims_of(item: Any, names: dict[int, str]) -> tuple[str, ...]:
    if item.ndim == 0:
        return ()
    ids = item.attrs.get("_Netcdf4Coordinates")
    if ids is not None and len(ids) == item.ndim and all(int(i) in names for i in ids):
        return tuple(names[int(i)] for i in ids)
    if item.attrs.get("CLASS") == b"DIMENSION_SCALE" and item.ndim == 1:
        return (item.name.rsplit("/", 1)[-1],)
    # the layout above is missing: each axis's attached scale, through its reference
    return tuple(item.dims[i][0].name.rsplit("/", 1)[-1] for i in range(item.ndim))


def _attrs(attrs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key in _INTERNAL:
            continue
        out[key] = _attr_value(value)
    return out


def _attr_value(value: Any) -> Any:
    # as h5netcdf gives them: text as str, one-element arrays as their element
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in ("S", "O"):
            items = [v.decode("utf-8") if isinstance(v, bytes) else v for v in value.tolist()]
            return items[0] if len(items) == 1 else items
        if value.size == 1:
            return value.reshape(-1)[0]
        return value
    return value


__all__ = ["read_group", "read_groups"]
