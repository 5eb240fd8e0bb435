"""Forecasts follow the fitted model's own transitions.

Draws of the model (prior draws stand in for posterior draws: the check is draw by draw, so any
parameter draws will do) are pushed one month on by ``forecast`` and by the PyMC model itself,
built on a window one month longer. A spec whose ``share_ar_rho`` prior sits near 0.5 makes a
random walk and the AR(1) disagree plainly, so a forecast that drifts from the model fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import pytest
import xarray as xr
from hypothesis import given, settings, strategies
from scipy import stats

from nowcast.constants import MONTH
from nowcast.datasets import bundled_data_dir, ingest_dir
from nowcast.fit import FORWARD_COMPILE, quiet_pymc
from nowcast.forecast import Scenario, forecast
from nowcast.model import equations as eq
from nowcast.model.build import build_model
from nowcast.model.data import prepare
from nowcast.model.spec import Prior, load_spec
from nowcast.panel import build_panel
from nowcast.store import Store

# one xdist worker runs this file, and its fits are session fixtures: built once, although
# xdist interleaves other files' tests with this one's (a module fixture would be rebuilt)
pytestmark = pytest.mark.xdist_group("test_transitions")

START = "2024-01-01"
DRAWS = 1000


def _spec():
    spec = load_spec()
    priors = dict(spec.priors)
    priors["share_ar_rho"] = Prior(
        dist="Beta", alpha=200.0, beta=200.0, source="test: persistence near 0.5"
    )
    return spec.model_copy(update={"priors": priors})


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def panels(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("store")) as st:
        ingest_dir(st, bundled_data_dir())
        full = build_panel(st, start=START)
        last = pd.Timestamp(full[MONTH].values[-1])
        short = build_panel(st, start=START, end=last - pd.offsets.MonthBegin(1))
    return short, full


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def draws(panels):
    """A run-like tree of ``DRAWS`` parameter draws on the short window."""
    short, _ = panels
    spec = _spec()
    model = build_model(spec, prepare(short, spec))
    with quiet_pymc():
        prior = pm.sample_prior_predictive(
            draws=DRAWS, model=model, random_seed=11, compile_kwargs=FORWARD_COMPILE
        )
    tree = xr.DataTree.from_dict({"/posterior": prior["prior"].to_dataset(), "/panel": short})
    tree.attrs["spec_json"] = spec.model_dump_json()
    return tree, model


def _model_next_logit(tree, model, full, innovation: float) -> np.ndarray:
    """The model's own share logit in the month after the window, for each draw, with that
    month's standardised innovation fixed: the extended model's last non-centred run is one
    month longer."""
    spec = _spec()
    longer = build_model(spec, prepare(full, spec))
    post = tree["posterior"].to_dataset()
    point = longer.initial_point()
    free = {}
    for rv in longer.free_RVs:
        name = rv.name
        if post[name].shape[2:] == point[longer.rvs_to_values[rv].name].shape:
            free[name] = post[name]
            continue
        # the run that grows: the draws' innovations, then the fixed one
        old = post[name]
        extra = xr.full_like(old.isel({old.dims[-1]: slice(0, 1)}), innovation)
        free[name] = xr.concat([old, extra], dim=old.dims[-1])
    ds = xr.Dataset(free)
    out = pm.compute_deterministics(
        ds,
        var_names=["share_logit"],
        model=longer,
        progressbar=False,
        compile_kwargs=FORWARD_COMPILE,
    )
    return out["share_logit"].isel({MONTH: -1}).stack(sample=("chain", "draw")).values


def test_one_step_forecast_is_the_models_own_transition(draws, panels):
    tree, model = draws
    _, full = panels
    mean = _model_next_logit(tree, model, full, 0.0)
    sd = _model_next_logit(tree, model, full, 1.0) - mean
    step = tree["posterior"]["share_step_sd"].stack(sample=("chain", "draw")).values
    np.testing.assert_allclose(sd, step, rtol=1e-8)  # the model's step is the step sd

    fc = forecast(tree, 1, seed=3)
    z = (fc["share_logit"].isel({MONTH: 0}).values - mean) / sd
    # the forecast's standardised step is N(0, 1) around the model's conditional mean; a
    # random walk would add (1 - rho)(x_T - mean) / sd, several sd here
    assert abs(z.mean()) < 4 / np.sqrt(DRAWS)
    assert 0.93 < z.std() < 1.07
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_long_horizon_reverts_to_the_long_run_level(draws):
    # prior draws of the ruble's tails can run the rate to 0 within 24 months; the share's
    # path does not depend on them, so tame them
    tree = _with(draws[0], ruble_nu=30.0, ruble_scale=0.02)
    post = tree["posterior"].to_dataset().stack(sample=("chain", "draw"))
    mean = post["share_logit_mean"].values
    rho = post["share_ar_rho"].values
    step = post["share_step_sd"].values
    last = post["share_logit"].isel({MONTH: -1}).values
    fc = forecast(tree, 24, seed=4)
    dev24 = fc["share_logit"].isel({MONTH: -1}).values - mean
    dev1 = fc["share_logit"].isel({MONTH: 0}).values - mean
    # reverted: the start no longer matters (rho^24 ~ 6e-8) and the spread is stationary
    assert abs(np.corrcoef(dev24, last - mean)[0, 1]) < 0.1
    assert np.corrcoef(dev1, last - mean)[0, 1] > 0.3
    standard = dev24 / (step / np.sqrt(1 - rho**2))
    assert abs(standard.mean()) < 4 / np.sqrt(DRAWS)
    assert 0.93 < standard.std() < 1.07


def _with(tree: xr.DataTree, **values: float) -> xr.DataTree:
    post = tree["posterior"].to_dataset().copy()
    for k, v in values.items():
        post[k] = xr.full_like(post[k], v)
    out = tree.copy()
    out["posterior"] = xr.DataTree(post)
    return out


def test_psi_follows_the_forecast_months_date(draws):
    tree, _ = draws
    # a window ending before legalisation: forecasts cross 2024-11
    spec = _spec().model_copy(update={"legalisation": "2026-03-01"})
    tree = tree.copy()
    tree.attrs["spec_json"] = spec.model_dump_json()
    fc_months = forecast(tree, 6, seed=1)["hidden_inflow_usd"][MONTH].values
    after = pd.DatetimeIndex(fc_months) >= pd.Timestamp(spec.legalisation)
    assert after.any() and (~after).any()
    base = forecast(tree, 6, seed=1)["hidden_inflow_usd"].values
    before_moved = forecast(_with(tree, psi_before=0.99), 6, seed=1)["hidden_inflow_usd"].values
    after_moved = forecast(_with(tree, psi_after=0.99), 6, seed=1)["hidden_inflow_usd"].values
    # psi_before moves only the months before the date, psi_after only those from it on
    assert np.array_equal(after_moved[:, ~after], base[:, ~after])
    assert not np.allclose(after_moved[:, after], base[:, after])
    assert not np.allclose(before_moved[:, ~after], base[:, ~after])
    # the months after see psi_before only through the ruble path (the bill's exchange rate)
    assert np.allclose(before_moved[:, after], base[:, after], rtol=0.05)


def test_key_rate_scenario_enters_the_ruble_equation(draws):
    tree, _ = draws
    tree = _with(tree, ruble_gamma=0.0, ruble_rate_beta=0.01)
    months = pd.DatetimeIndex(forecast(tree, 3, seed=2)[MONTH].values)
    last_rate = float(tree["panel"]["key_rate_pct"].dropna(MONTH).values[-1])
    sc = Scenario("hike", {"key_rate_pct": {months[0]: last_rate + 5.0}})
    base = forecast(tree, 3, seed=2)
    hike = forecast(tree, 3, scenario=sc, seed=2)
    ratio = hike["usd_rub"].values / base["usd_rub"].values
    # +5 pp in month 1 (and back to the last rate in month 2): exp(0.01 x 5), then undone
    np.testing.assert_allclose(ratio[:, 0], np.exp(0.05), rtol=1e-9)
    np.testing.assert_allclose(ratio[:, 1], 1.0, rtol=1e-9)
    assert np.all(hike["key_rate_pct"].values[:, 0] == last_rate + 5.0)


@settings(max_examples=60, deadline=None)
@given(
    rho=strategies.floats(0.3, 0.999),
    n=strategies.integers(1, 120),
    start=strategies.floats(-3.0, 3.0),
    seed=strategies.integers(0, 2**31 - 1),
)
def test_ar1_closed_form_is_the_recursion(rho, n, start, seed):
    """The share walk's unrolled AR(1) (a cumulative sum) equals the month-by-month recursion
    d_t = rho d_{t-1} + scale_t e_t, for one path (the model) and per draw (forecasts), in
    NumPy and in the PyTensor graph."""
    rng = np.random.default_rng(seed)
    scales, shocks = rng.uniform(0.01, 0.5, n), rng.standard_normal(n)
    expected, d = np.empty(n), start
    for t in range(n):
        d = rho * d + scales[t] * shocks[t]
        expected[t] = d
    got = eq.ar1_deviation_path(start, rho, scales, shocks, n, np)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    graph = eq.ar1_deviation_path(pt.as_tensor(start), pt.as_tensor(rho), scales, shocks, n, pt)
    np.testing.assert_allclose(graph.eval(), expected, rtol=1e-9, atol=1e-12)
    # per draw: a column of draws against months, the draws' own rho and starts
    rhos, starts = np.array([rho, 0.5 * (rho + 0.3)]), np.array([start, -start])
    both = eq.ar1_deviation_path(
        starts, rhos, np.stack([scales] * 2), np.stack([shocks] * 2), n, np
    )
    np.testing.assert_allclose(both[0], expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        both[1], eq.ar1_deviation_path(-start, rhos[1], scales, shocks, n, np), rtol=1e-12
    )
