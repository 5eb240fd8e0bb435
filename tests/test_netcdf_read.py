"""The direct netCDF-4 reader gives what xarray's own reading gives, for every feature a run's
files use, and falls back to xarray where its layout is missing."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nowcast.errors import NowcastError
from nowcast.fit_runs import load_run_groups
from nowcast.netcdf_read import read_group, read_groups


def _tree() -> xr.DataTree:
    rng = np.random.default_rng(3)
    months = pd.date_range("2024-01-01", periods=5, freq="MS")
    post = xr.Dataset(
        {
            "hidden_inflow_usd": (("chain", "draw", "month"), rng.normal(size=(2, 4, 5))),
            "region_share": (
                ("chain", "draw", "region", "month"),
                rng.uniform(size=(2, 4, 3, 5)),
            ),
            "sigma": (("chain", "draw"), rng.uniform(size=(2, 4))),
            # a dimension without a coordinate variable
            "step_z": (("chain", "draw", "step_z_dim_0"), rng.normal(size=(2, 4, 6))),
        },
        coords={
            "chain": [0, 1],
            "draw": np.arange(4),
            "month": months,
            "region": ["RU-IRK", "RU-KEM", "RU-BU"],
            "region_name": ("region", ["Irkutsk", "Kemerovo", "Buryatia"]),
        },
        attrs={"created_at": "2026-11-27", "sample_dims": ["chain", "draw"], "seed": 7},
    )
    post["hidden_inflow_usd"].attrs["units"] = "USD"
    post["hidden_inflow_usd"][0, 0, 2] = np.nan
    panel = xr.Dataset(
        {
            "usd_rub_mean": ("month", [90.1, np.nan, 92.3, 95.0, 97.5]),
            "obs_series": ("obs", np.array(["usd_rub_mean", "brent_usd"], dtype=object)),
            "obs_count": ("obs", np.array([3, 1], dtype=np.int64)),
            "simulated": ((), False),
        },
        coords={"month": months},
    )
    tree = xr.DataTree.from_dict({"/posterior": post, "/panel": panel})
    tree.attrs.update(model="default", draws=np.int64(1000), target_accept=0.9, flags=[1, 2])
    return tree


def _same_attrs(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert type(a[key]) is type(b[key]), key
        np.testing.assert_equal(a[key], b[key])


def _same(mine: xr.Dataset, ref: xr.Dataset) -> None:
    assert mine.identical(ref)
    assert list(mine.variables) == list(ref.variables) and list(mine.coords) == list(ref.coords)
    _same_attrs(mine.attrs, ref.attrs)
    for name in ref.variables:
        assert mine[name].dtype == ref[name].dtype, name
        _same_attrs(mine[name].attrs, ref[name].attrs)


@pytest.fixture
def written(tmp_path):
    path = tmp_path / "posterior.nc"
    _tree().to_netcdf(path, engine="h5netcdf")
    return path


def test_each_group_reads_as_xarray_reads_it(written):
    _same_attrs(
        read_groups(written, [])[0], dict(xr.open_dataset(written, engine="h5netcdf").attrs)
    )
    for group in (None, "posterior", "panel"):
        with xr.open_dataset(written, group=group, engine="h5netcdf") as ref:
            _same(read_group(written, group), ref.load())
    attrs, groups = read_groups(written, ["posterior"], skip=["region_share"])
    assert "region_share" not in groups["posterior"] and "sigma" in groups["posterior"]
    assert attrs["model"] == "default"
    # text decoded as xarray decodes it; times as datetimes; the missing value kept
    post = groups["posterior"]
    assert post["region"].dtype.kind == "U" and post["month"].dtype.kind == "M"
    assert np.isnan(post["hidden_inflow_usd"].values[0, 0, 2])


def test_a_file_without_dimension_ids_is_read_through_its_references(written, tmp_path):
    with xr.open_dataset(written, group="posterior", engine="h5netcdf") as ref:
        expected = ref.load()
    with h5py.File(written, "r+") as fh:
        for item in fh["posterior"].values():
            if "_Netcdf4Coordinates" in item.attrs and item.ndim > 1:
                del item.attrs["_Netcdf4Coordinates"]
    _same(read_group(written, "posterior"), expected)


def test_a_damaged_run_is_refused_with_its_name(written):
    data = written.read_bytes()
    written.write_bytes(data[: len(data) // 3])
    with pytest.raises(NowcastError, match="posterior.nc: cannot read the posterior"):
        load_run_groups(written, ("posterior",))
