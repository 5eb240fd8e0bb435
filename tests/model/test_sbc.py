"""Simulation-based calibration of the hidden inflow (Talts et al. 2018).

Slow: run with ``make test-slow`` (``NOWCAST_SBC_N`` datasets, default 40, each a fit of
2 chains x 250 draws; about 30-40 s each on 2 cores). For each dataset drawn from the prior
with the real data's availability, the rank of the true inflow among thinned posterior
draws must be uniform: a chi-square test over bins of ranks, for the window's total inflow and
for the last month (the ragged edge), plus 90% interval coverage near its nominal rate.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy import stats

from nowcast.datasets import ingest_dir
from nowcast.fit import fit
from nowcast.model.spec import Sampler, load_spec
from nowcast.panel import build_panel
from nowcast.simulate import simulate
from nowcast.store import Store

N_DATASETS = int(os.environ.get("NOWCAST_SBC_N", "40"))
N_RANK_DRAWS = 99  # thinned posterior draws per dataset: ranks 0..99
N_BINS = 5


def _ranks(tmp_path, seed: int) -> tuple[int, int, bool]:
    sim = simulate(tmp_path / f"sim{seed}", seed=seed, months=36, start="2019-06-01")
    with Store(tmp_path / f"store{seed}") as st:
        ingest_dir(st, sim.out_dir)
        panel = build_panel(st, simulated=True)
    res = fit(
        panel,
        load_spec(),
        sampler=Sampler(draws=250, tune=400, chains=2, seed=seed),
        prior_draws=10,
    )
    f = res.tree["posterior"]["hidden_inflow_usd"].stack(sample=("chain", "draw")).values
    keep = np.linspace(0, f.shape[1] - 1, N_RANK_DRAWS).astype(int)
    truth = sim.truth["hidden_inflow_usd"].to_numpy()
    total = int((f[:, keep].sum(axis=0) < truth.sum()).sum())
    last = int((f[-1, keep] < truth[-1]).sum())
    lo, hi = np.quantile(f[-1], [0.05, 0.95])
    return total, last, bool(lo <= truth[-1] <= hi)


@pytest.mark.slow
def test_inflow_ranks_are_uniform(tmp_path):
    results = [_ranks(tmp_path, seed) for seed in range(1000, 1000 + N_DATASETS)]
    total, last, covered = (np.array(x) for x in zip(*results, strict=True))
    expected = np.full(N_BINS, N_DATASETS / N_BINS)
    for name, ranks in (("window total", total), ("last month", last)):
        counts = np.histogram(ranks, bins=N_BINS, range=(0, N_RANK_DRAWS + 1))[0]
        p = stats.chisquare(counts, expected).pvalue
        print(f"SBC {name}: rank counts per bin {counts.tolist()}, chi-square p = {p:.3f}")
        assert p > 0.01, (name, counts)
    coverage = covered.mean()
    print(f"SBC last-month 90% interval coverage: {coverage:.2f} over {N_DATASETS} datasets")
    # binomial 99% band around 0.9
    se = np.sqrt(0.9 * 0.1 / N_DATASETS)
    assert abs(coverage - 0.9) < 2.6 * se + 1e-9
