"""One fixed shape for many as-of views (``nowcast.model.frame``): an origin's data put in a
longer frame gives exactly the origin's own likelihood, and draws cut back hold the origin's
own months and figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from nowcast.backtest import origin_data
from nowcast.constants import MONTH
from nowcast.datasets import ingest_dir
from nowcast.errors import NowcastError
from nowcast.model.build import build_model
from nowcast.model.evidence import REGISTRY
from nowcast.model.frame import Frame
from nowcast.model.spec import load_spec
from nowcast.store import Store

pytestmark = pytest.mark.xdist_group("frame")

EARLY, LATE = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-06-01")
FAST = {"mode": "FAST_COMPILE"}  # for forward quantities (too many operands for log densities)


@pytest.fixture(scope="module")
def datas(tmp_path_factory, data_dir):
    path = tmp_path_factory.mktemp("frame") / "store"
    spec = load_spec()
    with Store(path) as st:
        ingest_dir(st, data_dir)
        return {o: origin_data(st, spec, o, simulated=False)[2] for o in (EARLY, LATE)}


@pytest.fixture(scope="module")
def frame(datas):
    return Frame.of(list(datas.values()))


def test_the_frame_holds_every_origins_figures_and_masks_the_others(datas, frame):
    spec = load_spec()
    early, late = datas[EARLY], datas[LATE]
    assert frame.months.equals(late.months) and early.n_months < late.n_months
    fixed, where = frame.embed(early, spec)
    assert fixed.months.equals(frame.months)
    grew = 0
    for name, block in early.blocks.items():
        if not late.blocks[name].n:
            continue
        framed = fixed.blocks[name]
        assert framed.n >= late.blocks[name].n >= block.n
        # the origin's own figures at their rows, nothing else unmasked
        assert framed.mask.sum() == block.n
        assert np.array_equal(framed.values[where[name]], block.values)
        assert np.array_equal(framed.weights[where[name], : early.n_months], block.weights)
        grew += framed.n > block.n
    assert grew >= 2, "the later origin holds figures the earlier did not: masked rows"
    # months after the window: drivers held, so nothing moves there but unobserved states
    for name, values in fixed.drivers.items():
        assert np.array_equal(values[: early.n_months], early.drivers[name])
        assert (values[early.n_months :] == early.drivers[name][-1]).all()


def test_an_embedded_origin_has_exactly_its_own_likelihood(datas, frame):
    """At any point of the origin's model (extended with the frame's extra states), the frame
    model's masked likelihood equals the origin model's, and the hidden inflow of every month
    of the window is the same: the frame only adds states nothing observes."""
    spec = load_spec()
    early = datas[EARLY]
    fixed, _ = frame.embed(early, spec)
    own, framed = build_model(spec, early), build_model(spec, fixed)
    rng = np.random.default_rng(5)
    point = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in own.initial_point().items()}
    longer = {}
    for name, value in framed.initial_point().items():
        if name not in point:
            longer[name] = value  # an error scale of a kind the origin has no figure of
            continue
        if value.shape == point[name].shape:
            longer[name] = point[name]
            continue
        v = value.copy()
        v[: point[name].shape[0]] = point[name]  # month-ordered: the origin's first
        longer[name] = v
    lik_own = own.compile_logp(
        vars=[own[k.observed_name] for k in REGISTRY.values() if k.observed_name in own]
    )(point)
    lik_framed = framed.compile_logp(vars=framed.potentials)(longer)
    assert np.isfinite(lik_own)
    assert lik_framed == pytest.approx(lik_own, rel=1e-10)

    def inflow(model, at):
        out = model.replace_rvs_by_values([model["hidden_inflow_usd_bn"]])[0]
        f = model.compile_fn(out, inputs=model.value_vars, on_unused_input="ignore", **FAST)
        return f(at)

    assert np.allclose(inflow(framed, longer)[: early.n_months], inflow(own, point), rtol=1e-12)
    # a figure changes the likelihood only where it is unmasked
    moved = frame.embed(early, spec)[0]
    block = moved.blocks["errors_omissions"]
    block.values = np.where(block.mask > 0, block.values, block.values + 50.0)
    shifted = build_model(spec, moved)
    assert shifted.compile_logp(vars=shifted.potentials)(longer) == pytest.approx(lik_framed)


def test_draws_cut_back_hold_the_origins_months_years_and_figures(datas, frame):
    spec = load_spec()
    early = datas[EARLY]
    fixed, where = frame.embed(early, spec)
    name = "share_estimates"
    dim = REGISTRY[name].dim
    ds = xr.Dataset(
        {
            "hidden_inflow_usd": (("draw", MONTH), np.ones((3, fixed.n_months))),
            "rest_year_z": (("draw", "year"), np.ones((3, len(fixed.years)))),
            "predicted_share_estimates": (
                ("draw", dim),
                np.arange(3 * fixed.blocks[name].n).reshape(3, -1),
            ),
        },
        coords={MONTH: fixed.months, "year": fixed.years, dim: np.arange(fixed.blocks[name].n)},
    )
    cut = Frame.cut(ds, early, where)
    assert pd.DatetimeIndex(cut[MONTH].values).equals(early.months)
    assert list(cut["year"].values) == early.years
    assert cut.sizes[dim] == early.blocks[name].n
    assert list(cut[dim].values) == list(range(early.blocks[name].n))
    taken = cut["predicted_share_estimates"].values[0]
    assert list(taken) == list(ds["predicted_share_estimates"].values[0][where[name]])


def test_a_window_that_does_not_start_the_frame_is_refused(datas, frame):
    spec = load_spec()
    early = datas[EARLY]
    from dataclasses import replace

    shifted = replace(early, months=early.months + pd.DateOffset(months=1))
    with pytest.raises(NowcastError, match="not a start of the frame"):
        frame.embed(shifted, spec)
    with pytest.raises(NowcastError, match="same month"):
        Frame.of([early, shifted])
