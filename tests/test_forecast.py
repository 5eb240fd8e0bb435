"""Forecasts: scenario validation before any fitting, and paths pushed through the model's
equations. Draws come from the prior (no MCMC needed to test the forward pass)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from nowcast.datasets import bundled_data_dir, ingest_dir
from nowcast.errors import NowcastError
from nowcast.fit import FORWARD_COMPILE
from nowcast.forecast import Scenario, forecast, load_scenario, summarise
from nowcast.model.build import build_model
from nowcast.model.data import prepare
from nowcast.model.spec import load_spec
from nowcast.panel import build_panel
from nowcast.store import Store


@pytest.fixture(scope="module")
def prior_tree(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("store")) as st:
        ingest_dir(st, bundled_data_dir())
        panel = build_panel(st, start="2024-01-01")
    spec = load_spec()
    model = build_model(spec, prepare(panel, spec))
    draws = pm.sample_prior_predictive(
        draws=400, model=model, random_seed=3, compile_kwargs=FORWARD_COMPILE
    )
    tree = xr.DataTree.from_dict({"/posterior": draws["prior"].to_dataset(), "/panel": panel})
    tree.attrs["spec_json"] = spec.model_dump_json()
    return tree


def _write(tmp_path, text):
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


def test_scenario_is_read(tmp_path):
    sc = load_scenario(_write(tmp_path, 'name = "btc crash"\n[btc_price_usd]\n"2026-01" = 40000\n'))
    assert sc.name == "btc crash"
    assert sc.paths["btc_price_usd"] == {pd.Timestamp("2026-01-01"): 40000.0}


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ('[gold_usd]\n"2026-01" = 1\n', r"field 'gold_usd': unknown driver; expected one of"),
        ('[btc_price_usd]\n"2026-13" = 1\n', r"field 'btc_price_usd.2026-13': expected a month"),
        ('[btc_price_usd]\n"2026-01" = "high"\n', "expected a positive number, got 'high'"),
        ('[brent_usd_per_bbl]\n"2026-01" = -5\n', "expected a positive number, got -5"),
        ("[btc_price_usd\n", "malformed TOML"),
    ],
)
def test_bad_scenarios_are_refused_with_the_field(tmp_path, text, expect):
    with pytest.raises(NowcastError, match=expect) as err:
        load_scenario(_write(tmp_path, text))
    assert "scenario.toml" in str(err.value)


def test_forecast_shapes_and_units(prior_tree):
    fc = forecast(prior_tree, 6, seed=1)
    assert fc.sizes["month"] == 6
    last = pd.Timestamp(prior_tree["posterior"]["month"].values[-1])
    assert pd.Timestamp(fc.month.values[0]) == last + pd.offsets.MonthBegin(1)
    assert (fc["hidden_inflow_usd"] > 0).all()
    assert ((fc["hashrate_share"] > 0) & (fc["hashrate_share"] < 1)).all()
    s = summarise(fc, "usd_rub")
    assert (s["lower_95"] <= s["lower_80"]).all() and (s["lower_80"] <= s["lower_50"]).all()
    assert (s["upper_50"] <= s["upper_80"]).all() and (s["upper_80"] <= s["upper_95"]).all()
    # uncertainty grows with the horizon
    width = s["upper_80"] - s["lower_80"]
    assert width.iloc[-1] > width.iloc[0]


def test_scenario_fixes_the_price_path_and_moves_the_inflow(prior_tree):
    last = pd.Timestamp(prior_tree["posterior"]["month"].values[-1])
    months = pd.date_range(last + pd.offsets.MonthBegin(1), periods=3, freq="MS")
    low = Scenario("low", {"btc_price_usd": dict.fromkeys(months, 20000.0)})
    high = Scenario("high", {"btc_price_usd": dict.fromkeys(months, 200000.0)})
    f_low, f_high = forecast(prior_tree, 3, low, seed=2), forecast(prior_tree, 3, high, seed=2)
    assert np.allclose(f_low["btc_price_usd"].values, 20000.0)
    assert f_low.attrs["scenario"] == "low"
    # same random numbers, ten times the price: more revenue, more inflow (psi > 0)
    assert (f_high["hidden_inflow_usd"] > f_low["hidden_inflow_usd"]).all()


def test_forecast_is_reproducible(prior_tree):
    a, b = forecast(prior_tree, 2, seed=5), forecast(prior_tree, 2, seed=5)
    xr.testing.assert_equal(a, b)


def test_zero_horizon_is_refused(prior_tree):
    with pytest.raises(NowcastError, match="horizon"):
        forecast(prior_tree, 0)
