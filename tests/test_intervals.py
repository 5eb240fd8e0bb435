"""One interval summariser: the same columns and numbers from ``interval_summary``, the fit's
``inflow_summary`` and the forecast's ``summarise``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nowcast.errors import NowcastError
from nowcast.fit import inflow_summary
from nowcast.forecast import summarise
from nowcast.intervals import interval_columns, interval_summary

COLUMNS = [
    "mean",
    "median",
    "lower_50",
    "upper_50",
    "lower_80",
    "upper_80",
    "lower_90",
    "upper_90",
    "lower_95",
    "upper_95",
]
MONTHS = pd.date_range("2024-01-01", periods=5, freq="MS")


@pytest.fixture
def draws(rng) -> xr.DataArray:
    """Posterior-shaped draws (chain, draw, month), a different scale each month."""
    x = rng.lognormal(mean=np.arange(5), sigma=0.5, size=(2, 300, 5))
    return xr.DataArray(x, dims=("chain", "draw", "month"), coords={"month": MONTHS})


def test_columns_and_values(draws):
    out = interval_summary(draws, ("chain", "draw"))
    assert list(out.columns) == COLUMNS == interval_columns()
    assert isinstance(out.index, pd.DatetimeIndex) and out.index.name == "month"
    assert list(out.index) == list(MONTHS)
    flat = draws.values.reshape(-1, 5)
    np.testing.assert_allclose(out["mean"], flat.mean(axis=0))
    for k, lo, hi in [(50, 0.25, 0.75), (80, 0.1, 0.9), (90, 0.05, 0.95), (95, 0.025, 0.975)]:
        np.testing.assert_allclose(out[f"lower_{k}"], np.quantile(flat, lo, axis=0))
        np.testing.assert_allclose(out[f"upper_{k}"], np.quantile(flat, hi, axis=0))
    np.testing.assert_allclose(out["median"], np.median(flat, axis=0))


def test_matches_xarray_quantile(draws):
    """The report's summary.csv is checked against xarray's quantiles: the same method."""
    out = interval_summary(draws, ("chain", "draw"))
    expected = draws.quantile(0.9, dim=("chain", "draw")).values
    np.testing.assert_allclose(out["upper_80"], expected, rtol=1e-12)


def test_scalar_and_chosen_probs(rng):
    x = xr.DataArray(rng.normal(size=(2, 100)), dims=("chain", "draw"))
    out = interval_summary(x, ("chain", "draw"), probs=(0.5, 0.99))
    assert len(out) == 1
    assert list(out.columns) == ["mean", "median", "lower_50", "upper_50", "lower_99", "upper_99"]


def test_two_remaining_dims_are_a_multiindex(rng):
    x = xr.DataArray(
        rng.normal(size=(50, 2, 3)),
        dims=("sample", "region", "month"),
        coords={"region": ["RU-IRK", "RU-REST"], "month": MONTHS[:3]},
    )
    out = interval_summary(x, "sample")
    assert out.index.names == ["region", "month"] and len(out) == 6
    np.testing.assert_allclose(
        out.loc[("RU-REST", MONTHS[1]), "mean"], x.sel(region="RU-REST").values[:, 1].mean()
    )


@pytest.mark.parametrize(
    ("dims", "probs", "match"),
    [(("chain", "nope"), (0.9,), "no dim"), (("chain", "draw"), (0.9, 1.0), "between 0 and 1")],
)
def test_bad_arguments_are_clear_errors(draws, dims, probs, match):
    with pytest.raises(NowcastError, match=match):
        interval_summary(draws, dims, probs)


def test_fit_and_forecast_summaries_share_the_columns(draws):
    tree = xr.DataTree.from_dict({"/posterior": xr.Dataset({"hidden_inflow_usd": draws})})
    fitted = inflow_summary(tree)
    assert list(fitted.columns) == COLUMNS
    pd.testing.assert_frame_equal(fitted, interval_summary(draws, ("chain", "draw")))

    paths = xr.Dataset({"usd_rub": draws.stack(sample=("chain", "draw")).transpose("sample", ...)})
    paths = paths.drop_vars(["chain", "draw", "sample"]).assign_coords(sample=np.arange(600))
    fc = summarise(paths, "usd_rub")
    assert list(fc.columns) == COLUMNS
    np.testing.assert_allclose(fc.to_numpy(), fitted.to_numpy())
