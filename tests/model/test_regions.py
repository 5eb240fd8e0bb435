"""The pooled branch: two mining regions (Irkutsk oblast, Krasnoyarsk krai) and the rest of
Russia, their allocation pooled through ``alloc_logit_sd`` and ``alloc_trend_sd``. Simulated
from the model's own story with monthly regional tables (rich evidence), fitted with few draws,
and checked against the known truth of what the pooling estimates: each mining region's share of
mining power. (The inflow's recovery is checked in test_recovery.py and calibrated by the slow
SBC test; it rests on psi, which no evidence identifies, so a single dataset's inflow coverage
says little about the pooled branch: measured 0.75 here.)"""

from __future__ import annotations

import numpy as np
import pytest

from nowcast.datasets import ingest_dir
from nowcast.fit import fit
from nowcast.model.spec import ModelSpec, Sampler, load_spec
from nowcast.panel import build_panel
from nowcast.simulate import simulate
from nowcast.store import Store

# one xdist worker runs this file, and its fits are session fixtures: built once, although
# xdist interleaves other files' tests with this one's (a module fixture would be rebuilt)
pytestmark = pytest.mark.xdist_group("test_regions")

REGIONS = ["RU-IRK", "RU-KYA"]
SEED = 5


def _two_regions() -> ModelSpec:
    raw = load_spec().model_dump(mode="json")
    raw["regions"] = REGIONS
    # SO UPS Krasnoyarsk RDU: about 45 TWh a year before mining grew
    raw["region_baseline_twh_per_year"] = {"RU-IRK": 54.0, "RU-KYA": 45.0}
    return ModelSpec.model_validate(raw)


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def pooled(tmp_path_factory):
    root = tmp_path_factory.mktemp("pooled")
    spec = _two_regions()
    sim = simulate(root / "sim", seed=SEED, months=36, start="2020-01-01", rich=True, spec=spec)
    with Store(root / "store") as st:
        ingest_dir(st, sim.out_dir)
        panel = build_panel(st, simulated=True)
    res = fit(
        panel, spec, sampler=Sampler(draws=300, tune=400, chains=2, seed=SEED), prior_draws=300
    )
    return sim, res


def test_pooled_branch_is_built(pooled):
    _, res = pooled
    post = res.tree["posterior"]
    assert {"alloc_logit_sd", "alloc_trend_sd", "baseline_growth_sd"} <= set(post.data_vars)
    assert list(post["region_share"]["region"].values) == [*REGIONS, "RU-REST"]


def test_pooled_branch_recovers_each_regions_share_of_mining(pooled):
    sim, res = pooled
    truth = sim.parameters["region_share"][: len(REGIONS)]  # (mining region, month)
    draws = res.tree["posterior"]["region_share"].stack(sample=("chain", "draw"))
    draws = draws.isel(region=slice(0, len(REGIONS))).transpose("region", "month", "sample")
    lo, hi = np.quantile(draws.values, [0.05, 0.95], axis=-1)
    covered = (lo <= truth) & (truth <= hi)
    assert covered.mean() >= 0.8, covered.mean(axis=1)
    # and the monthly tables teach it: narrower than the prior by far
    prior = res.tree["prior"]["region_share"].stack(sample=("chain", "draw"))
    prior = prior.isel(region=slice(0, len(REGIONS))).transpose("region", "month", "sample")
    assert (draws.values.std(-1) < 0.5 * prior.values.std(-1)).mean() > 0.8
