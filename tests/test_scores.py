"""Scores of the backtest against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nowcast.scores import RandomWalk, block_bootstrap_ratio, ensemble_scores, pit_histogram


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_ensemble_crps_is_the_fair_estimator_by_hand():
    # members 0, 1, 2 and observation 3: mean |x - y| = (3 + 2 + 1) / 3 = 2; the fair spread
    # term sums |x_i - x_j| over ordered pairs i != j (8) over 2 m (m - 1) = 12
    s = ensemble_scores(np.array([3.0]), np.array([[0.0, 1.0, 2.0]]))
    assert s["crps"][0] == pytest.approx(2.0 - 8.0 / 12.0)
    assert s["pit"][0] == 1.0
    # an observation at the middle member: 2/3 - 2/3 = 0
    s = ensemble_scores(np.array([1.0]), np.array([[0.0, 1.0, 2.0]]))
    assert s["crps"][0] == pytest.approx(0.0, abs=1e-12)
    assert s["pit"][0] == pytest.approx(2 / 3)


def test_ensemble_log_score_is_the_kernel_density_by_hand():
    draws = np.array([[-1.0, 0.0, 1.0, 2.0]])
    # Silverman's rule as scoringrules applies it: 1.06 min(sd, IQR / 1.34) n^(-1/5), sd ddof 1
    q25, q75 = np.quantile(draws, [0.25, 0.75])
    bw = 1.06 * min(draws.std(ddof=1), (q75 - q25) / 1.34) * 4 ** (-0.2)
    dens = np.mean(np.exp(-0.5 * ((0.5 - draws) / bw) ** 2) / (bw * math.sqrt(2 * math.pi)))
    s = ensemble_scores(np.array([0.5]), draws)
    assert s["log_score"][0] == pytest.approx(-math.log(dens), rel=1e-6)


def test_interval_coverage_and_width():
    draws = np.tile(np.linspace(0.0, 100.0, 1001), (3, 1))
    s = ensemble_scores(np.array([50.0, 5.0, 99.0]), draws)
    assert s["lower_80"][0] == pytest.approx(10.0) and s["upper_80"][0] == pytest.approx(90.0)
    assert s["width_80"][0] == pytest.approx(80.0)
    assert s["covered_80"].tolist() == [True, False, False]
    assert s["covered_95"].tolist() == [True, True, False]
    assert s["median"][0] == pytest.approx(50.0)


def test_random_walk_volatility_uses_the_last_36_monthly_changes():
    months = pd.date_range("2019-01-01", periods=50, freq="MS")
    rate = pd.Series(np.exp(np.cumsum(np.r_[0.0, np.tile([0.1, -0.05], 30)[:49]])) * 60, months)
    rate.iloc[-1] = np.nan  # a month not known yet is skipped
    walk = RandomWalk.fit(rate)
    d = np.diff(np.log(rate.dropna().to_numpy()))[-36:]
    assert walk.sigma == pytest.approx(d.std(ddof=1))
    assert walk.anchor == months[-2] and walk.last == pytest.approx(rate.iloc[-2])


def test_random_walk_scores_are_the_log_normal_closed_forms():
    walk = RandomWalk(pd.Timestamp("2025-01-01"), 100.0, 0.05)
    months = [pd.Timestamp("2025-02-01"), pd.Timestamp("2025-05-01")]
    y = np.array([104.0, 90.0])
    s = walk.scores(months, y)
    for i, h in enumerate((1, 4)):
        mu, sig = math.log(100.0), 0.05 * math.sqrt(h)
        z = (math.log(y[i]) - mu) / sig
        # Baran and Lerch (2015): the CRPS of a log-normal
        crps = y[i] * (2 * _phi(z) - 1) - 2 * math.exp(mu + sig**2 / 2) * (
            _phi(z - sig) + _phi(sig / math.sqrt(2)) - 1
        )
        assert s["crps"][i] == pytest.approx(crps, rel=1e-9)
        logs = math.log(y[i] * sig * math.sqrt(2 * math.pi)) + z**2 / 2
        assert s["log_score"][i] == pytest.approx(logs, rel=1e-9)
        assert s["pit"][i] == pytest.approx(_phi(z))
        q = 1.2815515655446004  # 90th percentile of N(0, 1)
        assert s["upper_80"][i] == pytest.approx(100.0 * math.exp(q * sig))
    with pytest.raises(ValueError, match="after its anchor"):
        walk.scores([pd.Timestamp("2025-01-01")], np.array([100.0]))


def test_random_walk_crps_agrees_with_a_large_ensemble():
    walk = RandomWalk(pd.Timestamp("2025-01-01"), 90.0, 0.04)
    rng = np.random.default_rng(3)
    draws = 90.0 * np.exp(0.04 * math.sqrt(3) * rng.standard_normal(200_000))
    y = np.array([95.0])
    closed = walk.scores([pd.Timestamp("2025-04-01")], y)["crps"][0]
    assert ensemble_scores(y, draws[None, :])["crps"][0] == pytest.approx(closed, rel=0.01)


def test_block_bootstrap_ratio():
    rng = np.random.default_rng(0)
    base = rng.uniform(1, 2, 40)
    ratio, lo, hi = block_bootstrap_ratio(base * 1.5, base, block=3)
    assert ratio == pytest.approx(1.5) and lo == pytest.approx(1.5) and hi == pytest.approx(1.5)
    model = base * rng.uniform(0.8, 1.0, 40)
    ratio, lo, hi = block_bootstrap_ratio(model, base, block=3)
    assert ratio == pytest.approx(model.mean() / base.mean())
    assert lo < ratio < hi < 1.0
    assert np.isnan(block_bootstrap_ratio(model[:1], base[:1], block=3)[1])


def test_pit_histogram_counts():
    assert pit_histogram(np.array([0.0, 0.05, 0.5, 1.0]), bins=2).tolist() == [2, 2]


def test_draws_that_are_not_finite_are_left_out_for_every_target():
    draws = np.array([[1.0, 2.0, np.inf, 3.0], [1.0, np.nan, 2.0, 3.0]])
    s = ensemble_scores(np.array([2.0, 2.0]), draws)
    clean = ensemble_scores(np.array([2.0, 2.0]), draws[:, [0, 3]])
    assert s["draws"].tolist() == [2, 2]
    assert np.allclose(s["crps"], clean["crps"]) and np.allclose(s["median"], [2.0, 2.0])
    with pytest.raises(ValueError, match="no draw"):
        ensemble_scores(np.array([1.0]), np.array([[np.nan, np.inf]]))
