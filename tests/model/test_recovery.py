"""Recovery of a known truth: simulate from the model's own story, ingest as SIMULATED, fit
with few draws, and check the hidden inflow, the share and each region's mining load against
the truth.

One dataset with the real data's availability (seed 11, 2019-01..2022-12): the 90% interval of
the inflow covers the truth in at least 80% of months and its posterior mean beats the prior
mean; the identified share improves on the prior; each unit's mining load is covered at about
its rate, and pooling narrows a region with two figures. The converted fraction psi stays
unidentified in a typical world; in a world whose ruble or errors-and-omissions noise is drawn
from the far tail of its prior (seed 7: the ruble's monthly noise 0.1%) the inflow, and psi
with it, are measured almost exactly, so the seed's draws are checked to be typical first. With
rich evidence (monthly consumption of every modelled region, a monthly share series: slow,
``make test-slow``) the inflow's and the power's posterior means must beat the prior's.
Calibration across many datasets is the slow SBC test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nowcast.datasets import ingest_dir
from nowcast.fit import fit, inflow_summary
from nowcast.model.derived import unit_electricity, unit_electricity_twh
from nowcast.model.spec import Sampler, load_spec
from nowcast.panel import build_panel
from nowcast.simulate import simulate
from nowcast.store import Store

# one xdist worker runs this file, and its fits are session fixtures: built once, although
# xdist interleaves other files' tests with this one's (a module fixture would be rebuilt)
pytestmark = pytest.mark.xdist_group("test_recovery")

SEED = 11


def _recover(root, rich: bool):
    sim = simulate(root / "sim", seed=SEED, months=48, start="2019-01-01", rich=rich)
    with Store(root / "store") as st:
        results = ingest_dir(st, sim.out_dir)
        assert all(r.simulated for r in results)
        panel = build_panel(st, simulated=True)
    res = fit(
        panel,
        load_spec(),
        sampler=Sampler(draws=300, tune=400, chains=2, seed=SEED),
        prior_draws=300,
    )
    return sim, res


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def real_availability(tmp_path_factory):
    return _recover(tmp_path_factory.mktemp("real_availability"), rich=False)


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def rich_evidence(tmp_path_factory):  # about 3 minutes: monthly figures of 23 regions
    return _recover(tmp_path_factory.mktemp("rich"), rich=True)


def _truth(sim, name):
    s = sim.truth.set_index("month")[name]
    s.index = pd.DatetimeIndex(s.index)
    return s


def _errors(sim, res, name):
    truth = sim.truth[name].to_numpy()
    post = res.tree["posterior"][name].mean(("chain", "draw")).values
    prior = res.tree["prior"][name].mean(("chain", "draw")).values
    return np.abs(post - truth).mean(), np.abs(prior - truth).mean()


def test_the_seeds_world_is_typical_of_the_prior(real_availability):
    """The assertions below are about a typical world: the draws of what no evidence
    identifies (psi, the electricity price) and of the noise of the inflow's two channels (the
    ruble, errors and omissions) lie in their priors' central 90%."""
    from scipy import stats

    sim, res = real_availability
    spec = load_spec()
    for name in (
        "psi_before",
        "psi_after",
        "electricity_price_rub_per_kwh",
        "ruble_scale",
        "eo_sd",
    ):
        p = spec.priors[name]
        if p.dist == "Beta":
            dist = stats.beta(p.alpha, p.beta)
        elif p.dist == "LogNormal":
            dist = stats.lognorm(p.sigma, scale=np.exp(p.mu))
        else:
            dist = stats.halfnorm(scale=p.sigma)
        assert 0.05 <= dist.cdf(float(sim.parameters[name])) <= 0.95, name


def test_fit_is_marked_simulated(real_availability):
    _, res = real_availability
    assert res.tree.attrs["data_kind"] == "SIMULATED"


def test_inflow_90_interval_covers_truth(real_availability):
    sim, res = real_availability
    q = inflow_summary(res.tree)
    truth = _truth(sim, "hidden_inflow_usd")
    inside = (q["lower_90"] <= truth) & (truth <= q["upper_90"])
    assert len(q) == 48
    assert inside.mean() >= 0.8, inside.mean()


def test_inflow_posterior_mean_beats_prior_mean(real_availability):
    post_err, prior_err = _errors(*real_availability, "hidden_inflow_usd")
    assert post_err < prior_err, (post_err, prior_err)


def test_share_beats_prior(real_availability):
    # the CBECI map observes the share; mining power also hinges on fleet efficiency, which the
    # real availability barely identifies, so it is checked with rich evidence below
    post_err, prior_err = _errors(*real_availability, "hashrate_share")
    assert post_err < 0.8 * prior_err, (post_err, prior_err)


def test_share_interval_narrow_where_cbeci_observes(real_availability):
    sim, res = real_availability
    lo, hi = res.tree["posterior"]["hashrate_share"].quantile([0.05, 0.95], ("chain", "draw"))
    truth = sim.truth["hashrate_share"].to_numpy()
    cbeci = ((sim.truth.month >= "2019-09-01") & (sim.truth.month <= "2022-01-01")).to_numpy()
    inside = (lo.values <= truth) & (truth <= hi.values)
    assert inside[cbeci].mean() >= 0.8
    width = (hi.values - lo.values) / truth
    assert np.median(width[cbeci]) < 0.5


@pytest.mark.slow
def test_rich_evidence_inflow_posterior_mean_beats_prior(rich_evidence):
    post_err, prior_err = _errors(*rich_evidence, "hidden_inflow_usd")
    assert post_err < prior_err, (post_err, prior_err)
    # a monthly share series and monthly regional electricity inform the mining power too;
    # its level still rests on fleet efficiency, which no public series observes directly
    power_post, power_prior = _errors(*rich_evidence, "mining_power_gw")
    assert power_post < power_prior, (power_post, power_prior)


# --- identification on the same fit -------------------------------------------------------


def test_narrowing_separates_identified_from_unidentified(real_availability):
    from nowcast.identify import narrowing

    _, res = real_availability
    n = narrowing(res.tree).set_index("variable")["narrowing"]
    assert n["hashrate_share"] > 0.5  # the CBECI map observes it
    assert n["psi_before"] < 0.3  # nothing public measures the converted fraction


def test_sensitivity_names_the_evidence_that_informs_the_share(real_availability):
    from nowcast.identify import add_log_densities, sensitivity

    _, res = real_availability
    sens = sensitivity(
        add_log_densities(res.tree), ["hashrate_share", "psi_before", "ruble_scale"]
    ).set_index("variable")
    assert {"prior", "hashrate_share", "electricity", "ruble"} <= set(sens.columns)
    assert sens.loc["hashrate_share", "hashrate_share"] > sens.loc["hashrate_share", "ruble"]
    assert sens.loc["ruble_scale", "ruble"] > sens.loc["ruble_scale", "electricity"]


def test_ablation_without_share_widens_the_inflow_interval(real_availability):
    from nowcast.fit import diagnose
    from nowcast.identify import ablation

    _, res = real_availability
    abl = ablation(
        res.tree["panel"].to_dataset(),
        ["no_hashrate_share"],
        sampler=Sampler(draws=300, tune=400, chains=2, seed=SEED),
        full=res.tree,
        years=[2020, 2021],
    )
    wide = abl[abl.evidence == "without hashrate share"].set_index("year")["width_vs_all"]
    # wider in 2020 and over the two years (seed 11: 1.12 and 0.97 in 2021, where the regional
    # figures and national demand also place the power); an ablation that changed nothing
    # would give exactly 1 with the same seed
    assert wide[2020] > 1.05 and wide.mean() > 1.0, abl
    # every row says whether its fit converged (by the spec's thresholds) and how
    assert {"divergences", "max_rhat", "converged"} <= set(abl.columns)
    assert (abl["max_rhat"] > 0.99).all() and (abl["divergences"] >= 0).all()
    full = abl[abl.evidence == "all evidence"]
    assert (full["converged"] == diagnose(res.tree, load_spec()).ok).all()


# --- the regional hierarchy on the same dataset ---------------------------------------------
# The default model's geography (data/geography.csv): named regions, pooled within their united
# energy systems and across them, and each system's rest. The simulation draws every region's
# baseline and mining share from that hierarchy, and the real availability of regional figures
# (sparse, uneven) decides what each region's fit can learn.


@pytest.fixture(scope="session")
def unpooled(real_availability):
    """The same dataset fitted without pooling: each unit's level, growth and seasonal
    amplitude on its own, with the pooled model's marginal prior width."""
    _, res = real_availability
    spec = load_spec().model_copy(update={"pooling": False})
    return fit(
        res.tree["panel"].to_dataset(),
        spec,
        sampler=Sampler(draws=300, tune=400, chains=2, seed=SEED),
        prior_draws=300,
    )


def _mining_load_gw(ds):
    """Each unit's mining load averaged over the window (GW), by draw."""
    return (ds["region_share"] * ds["mining_power_gw"]).mean("month")


def test_each_regions_mining_load_interval_covers_truth(real_availability):
    sim, res = real_availability
    units = list(res.data.regions)
    truth = (sim.parameters["region_share"] * sim.parameters["mining_power_gw"]).mean(-1)
    load = _mining_load_gw(res.tree["posterior"]).stack(sample=("chain", "draw"))
    lo, hi = load.quantile([0.05, 0.95], "sample").transpose("quantile", "region").values
    carrying = truth > 0  # comparison regions carry none, in the truth and in every draw
    assert carrying.sum() == len(res.data.units.mining) + len(res.data.units.energy_systems)
    assert not load.values[~carrying].any()
    inside = (lo <= truth) & (truth <= hi)
    # 21 units at 90%: 16 or fewer inside has probability under 3% for a calibrated model
    assert inside[carrying].mean() >= 17 / 21, dict(zip(units, inside, strict=True))
    # and the country's load is every unit's
    np.testing.assert_allclose(
        sim.parameters["region_share"].sum(0), np.ones(len(sim.truth)), rtol=1e-12
    )


def _figures_by_region(data) -> dict[str, int]:
    """How many regional figures (levels, changes, bounds) are about one region alone."""
    counts: dict[str, int] = {}
    for block in data.blocks.values():
        if not block.units.size:
            continue
        alone = block.units.sum(axis=1) == 1
        for row in block.units[alone]:
            region = data.regions[int(np.argmax(row))]
            counts[region] = counts.get(region, 0) + 1
    return counts


def test_pooling_narrows_a_region_with_two_figures_and_still_covers(real_availability, unpooled):
    sim, res = real_availability
    counts = _figures_by_region(res.data)
    named = [r for r in res.data.regions if not r.endswith("-REST")]
    two = [r for r in named if counts.get(r, 0) == 2]
    assert two, counts
    region = two[0]
    i = res.data.regions.index(region)
    truth = unit_electricity_twh(sim.parameters, res.data.months)[0][i]

    def consumption(r):
        return unit_electricity(r.tree["posterior"].to_dataset(), [region])["electricity_twh"]

    def interval(r):
        lo, hi = consumption(r).quantile([0.05, 0.95], ("chain", "draw")).values
        return lo, hi

    lo, hi = interval(res)
    ulo, uhi = interval(unpooled)
    width, unpooled_width = np.mean(hi - lo), np.mean(uhi - ulo)
    # seed 11: Karelia, 0.81 of the unpooled width
    assert width < 0.9 * unpooled_width, (region, width, unpooled_width)
    # the window's total is one number: it must lie within three posterior standard
    # deviations of the posterior mean. (A 90% interval misses one truth in ten by design, and
    # which seed misses moves with the last bits of the compiled code: it failed one clean
    # clone with the truth 1.8 sd below the mean.) A biased or mis-indexed pooling misses by
    # many more.
    total = consumption(res).sum("month")
    mean, sd = float(total.mean()), float(total.std())
    assert abs(truth.sum() - mean) <= 3 * sd, (region, truth.sum(), mean, sd)
    # month by month: the months share the region's level, growth and seasonal errors, so the
    # share covered moves in blocks (seed 11: the truth's summer trough of 2019-2021 lies just
    # below both fits' bands: its seasonal amplitude is a draw the two figures cannot see).
    # Pooling must narrow without losing the coverage the unpooled fit has, and never collapse
    inside = (lo <= truth) & (truth <= hi)
    unpooled_inside = (ulo <= truth) & (truth <= uhi)
    assert inside.mean() >= unpooled_inside.mean() - 0.1, (inside.mean(), unpooled_inside.mean())
    assert inside.mean() >= 0.6, (region, inside.mean())
    print(
        f"{region}: 90% width {width:.3f} pooled, {unpooled_width:.3f} unpooled; covers"
        f" {inside.mean():.2f} of months"
    )
