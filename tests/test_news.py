"""The news of an update checked by hand: exact Shapley values over releases, on a conjugate
normal model whose posterior after any subset of releases is known in closed form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nowcast.reweight import (
    NewsInputs,
    Release,
    Target,
    explain,
    psis,
    shapley,
    systematic_resample,
    weighted_quantile,
)

MONTH = pd.Timestamp("2025-07-01")
Z90 = stats.norm.ppf(0.9)


def _posterior(prior_sd: float, figures: list[tuple[float, float]]) -> tuple[float, float]:
    """Median and 80% width of theta ~ N(0, prior_sd^2) after figures y ~ N(theta, sd^2)."""
    precision = 1.0 / prior_sd**2 + sum(1.0 / sd**2 for _, sd in figures)
    mean = sum(y / sd**2 for y, sd in figures) / precision
    return mean, 2.0 * Z90 / np.sqrt(precision)


def test_shapley_of_an_additive_game_is_each_players_own_part():
    parts = np.array([1.0, -2.0, 0.5])
    phi = shapley(3, lambda mask: np.array([sum(parts[i] for i in range(3) if mask >> i & 1)]))
    np.testing.assert_allclose(phi[:, 0], parts)


def test_shapley_splits_an_interaction_equally_and_adds_up():
    # v = 1 only when both play: each gets half, whatever the order
    phi = shapley(2, lambda mask: np.array([1.0 if mask == 3 else 0.0]))
    np.testing.assert_allclose(phi[:, 0], [0.5, 0.5])


def test_news_of_two_releases_matches_the_conjugate_posterior(rng):
    prior_sd = 1.0
    y1, sd1 = 1.2, 0.8  # release 1: a figure
    y2, sd2 = -0.4, 1.5  # release 2: another
    theta = rng.normal(0.0, prior_sd, size=200_000)  # draws of the previous nowcast (the prior)
    players = [
        Release("release_1.csv", "new", "evidence", log_lik=stats.norm.logpdf(y1, theta, sd1)),
        Release("release_2.csv", "new", "evidence", log_lik=stats.norm.logpdf(y2, theta, sd2)),
    ]
    news = NewsInputs(players=players, month_draws=lambda members: {MONTH: theta})
    target = Target("2025-07", pd.DatetimeIndex([MONTH]))
    v = {
        0: _posterior(prior_sd, []),
        1: _posterior(prior_sd, [(y1, sd1)]),
        2: _posterior(prior_sd, [(y2, sd2)]),
        3: _posterior(prior_sd, [(y1, sd1), (y2, sd2)]),
    }
    exact = {  # Shapley by hand: the mean of the two orders' marginal contributions
        "release_1.csv": [((v[1][k] - v[0][k]) + (v[3][k] - v[2][k])) / 2 for k in (0, 1)],
        "release_2.csv": [((v[2][k] - v[0][k]) + (v[3][k] - v[1][k])) / 2 for k in (0, 1)],
    }
    table = explain(news, [target], {"2025-07": v[0]}, {"2025-07": v[3]}, "rest")
    rows = table.set_index("release")
    for name, (d_median, d_width) in exact.items():
        got = rows.loc[f"{name} [evidence, new]"]
        assert got["d_median_usd"] == pytest.approx(d_median, abs=0.02)
        assert got["d_width80_usd"] == pytest.approx(d_width, abs=0.02)
    # the parts, the rest included, add up to the total, which is the exact revision
    parts = table[table["release"] != "total"]
    total = rows.loc["total"]
    assert total["d_median_usd"] == pytest.approx(parts["d_median_usd"].sum(), abs=1e-12)
    assert total["d_width80_usd"] == pytest.approx(parts["d_width80_usd"].sum(), abs=1e-12)
    assert total["d_median_usd"] == pytest.approx(v[3][0] - v[0][0], abs=1e-12)
    # the rest is only Monte Carlo error here
    assert abs(rows.loc["rest", "d_median_usd"]) < 0.02


def test_a_driver_release_shifts_the_target_by_exactly_its_own_effect(rng):
    theta = rng.normal(0.0, 1.0, size=100_000)
    driver = Release("coinmetrics_2025-07.csv", "new", "drivers", drivers={"x": pd.Series([1.0])})
    driver.log_lik = np.zeros_like(theta)
    evidence = Release("figure.csv", "new", "evidence", log_lik=stats.norm.logpdf(0.9, theta, 0.7))

    def month_draws(members: frozenset[int]) -> dict[pd.Timestamp, np.ndarray]:
        return {MONTH: theta + (3.0 if 0 in members else 0.0)}

    news = NewsInputs(players=[driver, evidence], month_draws=month_draws)
    target = Target("2025-07", pd.DatetimeIndex([MONTH]))
    table = explain(news, [target], {"2025-07": (0.0, 0.0)}, {"2025-07": (0.0, 0.0)}, "rest")
    rows = table.set_index("release")
    # a shift moves every quantile by itself, whatever the weights: exactly 3, width unchanged
    assert rows.loc[driver.name, "d_median_usd"] == pytest.approx(3.0, abs=1e-9)
    assert rows.loc[driver.name, "d_width80_usd"] == pytest.approx(0.0, abs=1e-9)
    exact_shift, _ = _posterior(1.0, [(0.9, 0.7)])
    assert rows.loc[evidence.name, "d_median_usd"] == pytest.approx(exact_shift, abs=0.02)


def test_weighted_quantile_with_equal_weights_is_numpys(rng):
    x = rng.normal(size=501)
    q = (0.05, 0.1, 0.5, 0.9, 0.95)
    np.testing.assert_allclose(weighted_quantile(x, q, np.full(501, 1 / 501)), np.quantile(x, q))


def test_psis_k_flags_weights_that_cannot_stand_for_a_fit(rng):
    theta = rng.normal(size=4000)
    _, k_mild = psis(stats.norm.logpdf(0.5, theta, 1.0))
    _, k_wild = psis(stats.norm.logpdf(4.0, theta, 0.05))  # a figure far in the tail
    assert k_mild < 0.5 < 0.7 < k_wild


def test_systematic_resample_copies_each_draw_in_proportion(rng):
    w = np.array([0.5, 0.25, 0.125, 0.125])
    idx = systematic_resample(np.repeat(w, 250) / 250, rng)
    counts = np.bincount(idx // 250, minlength=4)
    np.testing.assert_array_equal(counts, [500, 250, 125, 125])
