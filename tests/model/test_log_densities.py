"""The batched log densities that power-scaling sensitivity reads, and the batched derived
quantities of a fit, equal the per-draw ones.

``add_log_densities`` evaluates the log likelihood and the log prior for all draws at once (a
graph vectorised over draws). The references here are the per-draw computations it replaced:
PyMC's ``compute_log_likelihood`` and a compiled joint log prior called draw by draw. The draws
are prior draws of the default model on the real panel (no sampling needed: any draws of the
free parameters will do), two chains as a posterior would have.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from pymc.model.transform.conditioning import remove_value_transforms
from pytensor.compile.mode import get_mode

from nowcast.constants import CHAIN, DRAW
from nowcast.datasets import bundled_data_dir, ingest_dir
from nowcast.identify import add_log_densities, sensitivity
from nowcast.model.build import build_model
from nowcast.model.data import prepare
from nowcast.model.spec import load_spec
from nowcast.panel import build_panel
from nowcast.store import Store

# one xdist worker runs this file, and its fits are session fixtures: built once, although
# xdist interleaves other files' tests with this one's (a module fixture would be rebuilt)
pytestmark = pytest.mark.xdist_group("test_log_densities")

CHAINS, DRAWS = 2, 60


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def draws(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("log_density_store")) as st:
        ingest_dir(st, bundled_data_dir())
        panel = build_panel(st)
    spec = load_spec("default")
    model = build_model(spec, prepare(panel, spec))
    prior = pm.sample_prior_predictive(
        draws=CHAINS * DRAWS, model=model, random_seed=11, compile_kwargs={"mode": "FAST_COMPILE"}
    )["prior"].to_dataset()
    free = [v.name for v in model.free_RVs]
    keep = [*free, "hashrate_share", "hidden_inflow_usd"]  # and two derived quantities
    one = prior[keep].isel(chain=0, drop=True)  # CHAINS * DRAWS draws of one prior chain
    post = xr.Dataset(
        {
            n: (
                (CHAIN, DRAW, *one[n].dims[1:]),
                one[n].values.reshape(CHAINS, DRAWS, *one[n].shape[1:]),
            )
            for n in keep
        },
        coords={CHAIN: np.arange(CHAINS), DRAW: np.arange(DRAWS)},
    ).assign_coords({d: one[d] for d in one.coords if d != DRAW})
    tree = xr.DataTree.from_dict({"/posterior": post, "/prior": prior})
    return model, tree


def _reference_log_prior(model: pm.Model, post: xr.Dataset) -> np.ndarray:
    """The joint log prior of each draw, one compiled call per draw (the former method)."""
    plain = remove_value_transforms(model)
    terms = [t.sum() for t in plain.logp(vars=plain.free_RVs, jacobian=False, sum=False)]
    f = plain.compile_fn(
        terms, inputs=plain.value_vars, on_unused_input="ignore", mode=get_mode("FAST_COMPILE")
    )
    values = {plain.rvs_to_values[rv].name: post[rv.name].values for rv in plain.free_RVs}
    return np.array(
        [
            [float(np.sum(f({k: v[c, d] for k, v in values.items()}))) for d in range(DRAWS)]
            for c in range(CHAINS)
        ]
    )


def _with_reference_densities(model: pm.Model, tree: xr.DataTree) -> xr.DataTree:
    post = tree["posterior"].to_dataset()
    ll = pm.compute_log_likelihood(
        xr.DataTree.from_dict({"/posterior": post}),
        model=model,
        extend_inferencedata=False,
        progressbar=False,
        compile_kwargs={"mode": "FAST_COMPILE"},
    )
    out = tree.copy()
    ll = ll["log_likelihood"].to_dataset() if isinstance(ll, xr.DataTree) else ll
    out["log_likelihood"] = xr.DataTree(ll)
    lp = _reference_log_prior(model, post)
    out["log_prior"] = xr.DataTree(
        xr.Dataset({"prior": ((CHAIN, DRAW), lp)}, coords={CHAIN: post[CHAIN], DRAW: post[DRAW]})
    )
    return out


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def both(draws):
    model, tree = draws
    return add_log_densities(tree, model), _with_reference_densities(model, tree)


def test_log_prior_equals_per_draw_computation(both):
    new, ref = both
    a = new["log_prior"]["prior"].transpose(CHAIN, DRAW).values
    b = ref["log_prior"]["prior"].values
    assert a.shape == (CHAINS, DRAWS)
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-8)
    # draws differ, so must their densities (a constant would pass a shape check)
    assert np.ptp(a) > 1.0


def test_log_likelihood_equals_pymc_per_draw(both):
    new, ref = both
    a, b = new["log_likelihood"].to_dataset(), ref["log_likelihood"].to_dataset()
    assert set(a.data_vars) == set(b.data_vars) and len(a.data_vars) >= 5
    for name in b.data_vars:
        assert a[name].dims == b[name].dims, name
        np.testing.assert_allclose(
            a[name].values, b[name].transpose(*a[name].dims).values, rtol=1e-10, atol=1e-8
        )
        for d in a[name].dims[2:]:
            np.testing.assert_array_equal(a[d].values, b[d].values)


def test_sensitivity_table_unchanged(both):
    new, ref = both
    names = ["share_ar_rho", "psi_before", "ruble_scale", "hashrate_share", "hidden_inflow_usd"]
    a, b = sensitivity(new, names), sensitivity(ref, names)
    assert list(a.columns) == list(b.columns)
    assert (a["diagnosis"] == b["diagnosis"]).all()
    num = a.columns.drop(["variable", "diagnosis"])
    np.testing.assert_allclose(a[num].to_numpy(float), b[num].to_numpy(float), atol=1e-9)


def test_derived_quantities_equal_pymc_per_draw(draws):
    from nowcast.fit import compute_deterministics

    model, tree = draws
    post = tree["posterior"].to_dataset()[[v.name for v in model.free_RVs]]
    new = compute_deterministics(post, model)
    ref = pm.compute_deterministics(
        post, model=model, progressbar=False, compile_kwargs={"mode": "FAST_COMPILE"}
    )
    assert set(new.data_vars) == set(ref.data_vars) >= {"hidden_inflow_usd", "region_share"}
    for name in ref.data_vars:
        assert new[name].dims == ref[name].dims, name
        for d in new[name].dims:
            np.testing.assert_array_equal(new[d].values, ref[d].values)
        # rtol 1e-10: a change on a year earlier is a log ratio of two sums read off one running
        # sum (``evidence.area_period_sums``), so summation order moves its last digits
        np.testing.assert_allclose(new[name].values, ref[name].values, rtol=1e-10, atol=0)
    assert float(new["hidden_inflow_usd"].std()) > 0


def test_sensitivity_of_repeated_draws_says_it_is_not_computed(both):
    """An update's reweighted posterior is a resample: with few distinct draws arviz cannot
    smooth the power-scaling weights. The table then says so instead of failing the update
    (or showing a number it could not compute)."""
    from nowcast.identify import NOT_COMPUTED

    new, _ = both
    names = ["share_ar_rho", "hidden_inflow_usd"]
    # three distinct draws copied over every chain and draw, as a heavy-weighted resample
    pick = np.arange(CHAINS * DRAWS) % 3
    repeated = new.copy()
    for group in ("posterior", "log_likelihood", "log_prior"):
        ds = new[group].to_dataset().stack(sample=(CHAIN, DRAW))
        ds = (
            ds.isel(sample=pick)
            .drop_vars(["sample", CHAIN, DRAW])
            .assign_coords(sample=ds["sample"])
        )
        repeated[group] = xr.DataTree(ds.unstack("sample"))
    table = sensitivity(repeated, names).set_index("variable")
    assert table["prior"].isna().all()
    assert (table["diagnosis"] == NOT_COMPUTED).all()


@pytest.mark.parametrize("distinct", [None, 40])
def test_power_scaling_sensitivity_equals_arviz_psense(both, distinct):
    """``sensitivity`` sorts each quantity's draws once for every component (arviz's psense
    sorts them again per component and sign): per element, to the prior and to each kind of
    evidence, it must give what ``arviz.psense`` gives, also when draws repeat (a resample)."""
    import arviz as az

    from nowcast.identify import SortedDraws, _power_scaling_weights, evidence_terms

    tree = both[0].copy()  # the fixture is shared: a copy to resample
    if distinct is not None:  # a resample: 40 distinct draws, each copied three times
        pick = np.arange(CHAINS * DRAWS) % distinct
        for group in ("posterior", "log_likelihood", "log_prior"):
            ds = tree[group].to_dataset().stack(sample=(CHAIN, DRAW))
            picked = ds.isel(sample=pick).drop_vars(["sample", CHAIN, DRAW])
            tree[group] = xr.DataTree(picked.assign_coords(sample=ds["sample"]).unstack("sample"))
    names = ["share_ar_rho", "ruble_scale", "hashrate_share", "hidden_inflow_usd"]
    draws = SortedDraws.of(tree["posterior"].to_dataset(), names)
    ll = tree["log_likelihood"].to_dataset()
    components = {"prior": ({"group": "prior"}, tree["log_prior"])}
    for kind, terms in evidence_terms().items():
        use = [t for t in terms if t in ll.data_vars]
        if use:
            components[kind] = ({"group": "likelihood", "group_var_names": use}, ll[use])
    assert len(components) >= 4
    for kind, (kwargs, group) in components.items():
        ours = draws.sensitivity(_power_scaling_weights(group))
        theirs = az.psense(tree, var_names=names, **kwargs)
        for name in names:
            expected = np.asarray(theirs[name])
            assert ours[name].shape == expected.shape, (kind, name)
            np.testing.assert_allclose(ours[name], expected, rtol=1e-8, atol=1e-12)
        # a component that moves nothing would pass a comparison of zeros
        assert max(float(np.max(ours[n])) for n in names) > 1e-4, kind


def test_batched_evaluation_of_draws_in_chunks_and_of_none():
    """Draws evaluated a chunk at a time give what one call for all gives, whatever the
    chunk boundaries, and no draws give every output with no rows but its own shape (an
    output that depends on no draw is repeated, not dropped)."""
    from nowcast import fit_draws

    with pm.Model(coords={"m": range(3)}) as model:
        x = pm.Normal("x", 0.0, 1.0, dims="m")
        pm.Deterministic("y", x.cumsum() * 2.0, dims="m")
        pm.Deterministic("constant", pm.math.ones(2) * 3.0)
        pm.Normal("o", x, 1.0, observed=np.arange(3.0), dims="m")
    values = {"x": np.random.default_rng(0).normal(size=(7, 3))}
    whole = fit_draws.draws_evaluator(model, log_prior=True, cache=False)(values)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fit_draws, "BATCH_DRAWS", 3)  # chunks of 3, 3 and 1
        chunked = fit_draws.draws_evaluator(model, log_prior=True, cache=False)(values)
    for name in ("y", "constant"):
        np.testing.assert_array_equal(chunked.deterministics[name], whole.deterministics[name])
    np.testing.assert_array_equal(chunked.log_likelihood["o"], whole.log_likelihood["o"])
    np.testing.assert_array_equal(chunked.log_prior, whole.log_prior)
    np.testing.assert_allclose(whole.deterministics["y"], np.cumsum(values["x"], axis=1) * 2)
    assert whole.deterministics["constant"].shape == (7, 2)
    none = fit_draws.draws_evaluator(model, log_prior=True, cache=False)({"x": np.zeros((0, 3))})
    assert none.deterministics["y"].shape == (0, 3)
    assert none.deterministics["constant"].shape == (0, 2)
    assert none.log_likelihood["o"].shape == (0, 3)
    assert none.log_prior.shape == (0,)


def test_an_evaluator_given_its_function_builds_no_graph_and_keeps_the_models_order(draws):
    """The default model without its value transforms orders its free and observed variables
    otherwise than the model: an evaluator whose function was compiled elsewhere (as an
    update's sidecar does) builds no graph of its own and reads the draws and names the
    outputs in the same order as one compiled here, so it gives the same values."""
    from nowcast import fit_draws
    from nowcast.fit import flat_draws

    model, tree = draws
    plain = remove_value_transforms(model)
    assert [v.name for v in plain.free_RVs] != [v.name for v in model.free_RVs]
    values = flat_draws(tree["posterior"].to_dataset(), [v.name for v in model.free_RVs])
    values = {k: v[:40] for k, v in values.items()}
    here = fit_draws.draws_evaluator(model, log_prior=True, cache=False)(values)
    function = fit_draws.evaluator_function(model, log_prior=True, cache=False)
    with pytest.MonkeyPatch.context() as mp:

        def no_graphs(*args, **kwargs):
            raise AssertionError("graphs built beside a function compiled elsewhere")

        mp.setattr(fit_draws, "_evaluator_graphs", no_graphs)
        elsewhere = fit_draws.draws_evaluator(
            model, log_prior=True, cache=False, pending=lambda: function
        )(values)
    assert here.deterministics.keys() == elsewhere.deterministics.keys()
    for name, arr in here.deterministics.items():
        np.testing.assert_array_equal(elsewhere.deterministics[name], arr, err_msg=name)
    assert list(here.log_likelihood) == [v.name for v in model.observed_RVs]
    for name, arr in here.log_likelihood.items():
        np.testing.assert_array_equal(elsewhere.log_likelihood[name], arr, err_msg=name)
    np.testing.assert_array_equal(elsewhere.log_prior, here.log_prior)
    # the values are the model's: the inflow's deterministic equals the draws' own copy
    np.testing.assert_allclose(
        here.deterministics["hidden_inflow_usd"],
        flat_draws(tree["posterior"].to_dataset(), ["hidden_inflow_usd"])["hidden_inflow_usd"][:40],
    )
