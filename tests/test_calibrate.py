"""Simulation-based calibration: the uniformity test and coverage by hand, the page, and (slow,
``make test-slow``) a small calibration on a local dask cluster of two workers that resumes
instead of refitting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nowcast.calibrate import (
    QUANTITIES,
    CalibrationPlan,
    finished_datasets,
    run_calibration,
    uniformity,
)
from nowcast.errors import NowcastError
from nowcast.model.spec import Sampler
from nowcast.report.calibration import render_calibration_report, verdict_sentences
from nowcast.store import Store

pytestmark = pytest.mark.xdist_group("calibrate")


def _ranks(rank: np.ndarray, covered_90: np.ndarray, quantity: str = "q") -> pd.DataFrame:
    """Ranks of a quantity over datasets; intervals other than 90% cover at their nominal
    rate exactly, the 90% one as ``covered_90`` says."""
    n = len(rank)
    df = pd.DataFrame(
        {
            "dataset": np.arange(n),
            "seed": 1000 + np.arange(n),
            "quantity": quantity,
            "truth": 1.0,
            "posterior_mean": 1.0,
            "rank": rank,
            "rank_draws": 99,
            "divergences": 0,
            "max_rhat": 1.0,
            "diagnostics_ok": True,
            "seconds": 1.0,
        }
    )
    for k in (50, 80, 95):
        df[f"covered_{k}"] = np.arange(n) < round(k / 100 * n)
    df["covered_90"] = covered_90
    return df


def test_uniformity_is_the_chi_square_by_hand():
    rank = np.array([0, 5, 15, 25, 35, 45, 55, 65, 75, 85, 95, 99, 10, 20])
    u = uniformity(_ranks(rank, np.ones(len(rank), dtype=bool)))
    counts = np.histogram(rank, bins=10, range=(0, 100))[0]
    assert u.loc[0, "rank_counts"] == counts.tolist()
    expected = stats.chisquare(counts, np.full(10, len(rank) / 10))
    assert u.loc[0, "chi_square"] == pytest.approx(expected.statistic)
    assert u.loc[0, "p_value"] == pytest.approx(expected.pvalue)


def test_ranks_piled_at_one_end_and_poor_coverage_are_called_out():
    n = 40
    bad = _ranks(np.zeros(n, dtype=int), np.arange(n) < 20)  # 50% coverage of a 90% interval
    u = uniformity(bad)
    assert u.loc[0, "p_value"] < 1e-6
    assert u.loc[0, "coverage_90"] == pytest.approx(0.5) and not u.loc[0, "coverage_90_ok"]
    assert u.loc[0, "coverage_50_ok"] and u.loc[0, "coverage_80_ok"]
    sentence = verdict_sentences(u)[0]
    assert "not uniform" in sentence and "90% (50%)" in sentence
    good = _ranks(np.tile(np.arange(0, 100, 10), 4) + 3, np.arange(n) % 10 != 0)
    sentence = verdict_sentences(uniformity(good))[0]
    assert "consistent with uniform" in sentence and "every interval covers" in sentence


def test_page_is_marked_simulated_and_says_what_is_missing(tmp_path):
    rank = np.tile(np.arange(0, 100, 10), 2)
    paths = render_calibration_report(
        _ranks(rank, np.ones(20, dtype=bool)), {"calibration_id": "sbc-x"}, tmp_path
    )
    html = paths.html.read_text()
    assert "SIMULATED DATA" in html and "SIMULATED: Rank of the truth" in html
    assert html.count("<img") == 2 and "http" not in html.split("<body")[1].split("src=")[0]
    assert len(pd.read_csv(paths.ranks_csv)) == 20
    empty = render_calibration_report(pd.DataFrame(), {}, tmp_path / "empty")
    assert "No dataset has finished yet" in empty.html.read_text()


def test_plan_refuses_what_cannot_work(tmp_path):
    with pytest.raises(NowcastError, match="--n"):
        CalibrationPlan(str(tmp_path), n=0)
    with pytest.raises(NowcastError, match="rank draws"):
        CalibrationPlan(str(tmp_path), n=2, sampler=Sampler(draws=20, chains=2), rank_draws=99)


@pytest.mark.slow  # two fits of simulated data with cold compiles: about 2 minutes
def test_a_small_calibration_on_two_workers_resumes(tmp_path):
    plan = CalibrationPlan(
        str(tmp_path / "store"),
        n=2,
        months=12,
        start="2023-01-01",
        sampler=Sampler(draws=60, tune=100, chains=2),
        rank_draws=19,
    )
    events: list[str] = []
    run = run_calibration(plan, workers=2, notify=events.append)
    assert not run.failed, run.failed
    assert run.ran == [0, 1] and run.reused == []
    assert set(run.ranks["quantity"]) == set(QUANTITIES)
    assert run.ranks["rank"].between(0, 19).all()
    assert (run.ranks["seed"] == 1000 + run.ranks["dataset"]).all()
    # the truth is the simulator's: positive inflow and power, a share inside (0, 1)
    share = run.ranks[run.ranks["quantity"].str.startswith("hashrate_share")]
    assert share["truth"].between(0, 1).all()
    # nothing simulated reaches the store's figures; the ranks are kept
    with Store(plan.store_dir, read_only=True) as st:
        assert st.as_of(None).empty and st.as_of(None, simulated=True).empty
        assert len(finished_datasets(st, run.calibration_id)) == 2 * len(QUANTITIES)
    larger = CalibrationPlan(**{**plan.__dict__, "n": 2})
    again = run_calibration(larger, workers=2)
    assert again.ran == [] and again.reused == [0, 1]
    pd.testing.assert_frame_equal(
        again.ranks.drop(columns="finished_at"), run.ranks.drop(columns="finished_at")
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "0"], "--n"),
        (["--months", "2"], "--months"),
        (["--start", "2019-13-01"], "--start"),
        (["--draws", "40", "--n", "2"], "rank draws"),
        (["--workers", "0", "--n", "1"], "--workers"),
    ],
)
def test_bad_options_are_refused_plainly_and_nothing_is_stored(args, message, tmp_path):
    from typer.testing import CliRunner

    from nowcast.cli import app

    store = tmp_path / "store"
    result = CliRunner().invoke(app, ["calibrate", *args, "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not store.exists()
