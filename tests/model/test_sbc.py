"""Simulation-based calibration of the hidden inflow, share and power (Talts et al. 2018),
through ``nowcast calibrate``'s own code (``nowcast.calibrate.run_calibration``) on a local
dask cluster of two workers.

Slow: run with ``make test-slow`` (``NOWCAST_SBC_N`` datasets, default 40, each a fit of 2
chains x 250 draws on 36 months; about 30 to 60 s each per worker). For each dataset drawn from
the prior with the real data's availability, the rank of the truth among thinned posterior
draws must be uniform (chi-square over bins of ranks, p > 0.01) for the window's total inflow
and the last month's (the ragged edge), and the last month's 90% interval must cover the truth
at its nominal rate (within a binomial 99% band).
"""

from __future__ import annotations

import os

import pytest

from nowcast.calibrate import CalibrationPlan, run_calibration, uniformity

N_DATASETS = int(os.environ.get("NOWCAST_SBC_N", "40"))


@pytest.mark.slow
def test_inflow_ranks_are_uniform(tmp_path):
    run = run_calibration(CalibrationPlan(str(tmp_path / "store"), n=N_DATASETS), workers=2)
    assert not run.failed, run.failed
    u = uniformity(run.ranks).set_index("quantity")
    print(u[["datasets", "rank_counts", "p_value", "coverage_90"]].to_string())
    for quantity in ("hidden_inflow_usd, window total", "hidden_inflow_usd, last month"):
        assert u.loc[quantity, "p_value"] > 0.01, u.loc[quantity]
    assert u.loc["hidden_inflow_usd, last month", "coverage_90_ok"]
