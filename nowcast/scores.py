"""Scores of probabilistic forecasts against what was published later, for the backtest.

Proper scores come from ``scoringrules`` (Zanetti et al.): the CRPS of an ensemble by its
probability-weighted-moment estimator, which equals the fair estimator (unbiased for the CRPS
of the distribution the draws come from, so a 4,000-draw ensemble and a closed-form baseline
are on one footing; Zamo and Naveau 2018) in O(m log m) time and O(m) memory, where the fair
estimator's pairwise form needs m x m and the log score of an ensemble by
a Gaussian kernel density (Silverman's bandwidth). Both are negatively oriented: lower is
better. The PIT, the coverage of central intervals and their widths are plain counts and
quantiles, written here.

The baseline every user asks about is a random walk in the log of the monthly mean USD/RUB:
no drift, its volatility the standard deviation of the last 36 monthly log changes known at
the origin, so h months ahead the rate is log-normal around the last known monthly mean.
Its scores are in closed form (``scoringrules.crps_lognormal``, ``logs_lognormal``).

Whether the model beats the random walk is a ratio of mean CRPS over origins; its interval is
a moving-block bootstrap over origins (forecast errors of neighbouring origins overlap when
h > 1, so origins are resampled in blocks of ``max(h, 3)``; Kuensch 1989).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
import scoringrules as sr

from nowcast.intervals import percent

# central intervals whose coverage the backtest reports
COVERAGE_PROBS: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95)
# the predictive interval published figures are checked against (as in the nowcast report)
FIGURE_PROB = 0.9
RW_HISTORY_MONTHS = 36
_N01 = NormalDist()


def _interval_columns(lower: np.ndarray, upper: np.ndarray, observed: np.ndarray, p: float):
    k = percent(p)
    return {
        f"lower_{k}": lower,
        f"upper_{k}": upper,
        f"covered_{k}": (observed >= lower) & (observed <= upper),
        f"width_{k}": upper - lower,
    }


def ensemble_scores(
    observed: np.ndarray, draws: np.ndarray, probs: tuple[float, ...] = COVERAGE_PROBS
) -> dict[str, np.ndarray]:
    """Scores of ensemble forecasts ``draws`` (target, draw) against ``observed`` (target,):
    ``crps`` (fair, by probability-weighted moments), ``log_score`` (kernel density; minus
    the log density), ``pit`` (share of draws at or below the observation), ``median`` and,
    for each central interval
    ``p``, ``lower_k``, ``upper_k``, ``covered_k``, ``width_k`` (k = 100 p), and ``draws``
    (how many draws were scored: those finite for every target)."""
    observed = np.asarray(observed, dtype=float)
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 2 or draws.shape[0] != observed.shape[0]:
        raise ValueError(f"draws must be (target, draw) for {observed.shape[0]} targets")
    # a path that left the floating-point range (a far-tail draw pushed through the ruble
    # equation) says nothing about the others: score the draws that are finite everywhere
    finite = np.isfinite(draws).all(axis=0)
    if not finite.any():
        raise ValueError("no draw of the forecast is finite")
    draws = draws[:, finite]
    out: dict[str, np.ndarray] = {
        "crps": np.asarray(
            sr.crps_ensemble(observed, draws, estimator="pwm", backend="numpy"), dtype=float
        ),
        "log_score": np.asarray(sr.logs_ensemble(observed, draws, backend="numpy"), dtype=float),
        "pit": (draws <= observed[:, None]).mean(axis=1),
        "median": np.median(draws, axis=1),
        "draws": np.full(len(observed), draws.shape[1]),
    }
    for p in probs:
        lo, hi = np.quantile(draws, [(1 - p) / 2, (1 + p) / 2], axis=1)
        out.update(_interval_columns(lo, hi, observed, p))
    return out


@dataclass(frozen=True)
class RandomWalk:
    """A driftless random walk in log USD/RUB from the last known monthly mean ``last``
    (RUB per USD, month ``anchor``), with monthly log volatility ``sigma``."""

    anchor: pd.Timestamp
    last: float
    sigma: float

    @classmethod
    def fit(cls, monthly_mean: pd.Series, months: int = RW_HISTORY_MONTHS) -> RandomWalk:
        """The walk from a monthly series known at the origin (index: month starts; NaN for
        months not known yet): volatility of its last ``months`` monthly log changes."""
        known = monthly_mean.dropna().sort_index()
        if len(known) < 3:
            raise ValueError("a random walk needs at least three known months of USD/RUB")
        d = np.diff(np.log(known.to_numpy(dtype=float)))[-months:]
        return cls(pd.Timestamp(known.index[-1]), float(known.iloc[-1]), float(d.std(ddof=1)))

    def steps_to(self, month: pd.Timestamp) -> int:
        """Months from the anchor to ``month``."""
        return (month.year - self.anchor.year) * 12 + month.month - self.anchor.month

    def scores(
        self,
        months: list[pd.Timestamp],
        observed: np.ndarray,
        probs: tuple[float, ...] = COVERAGE_PROBS,
    ) -> dict[str, np.ndarray]:
        """``ensemble_scores``' columns for the walk's log-normal forecasts of ``months``."""
        observed = np.asarray(observed, dtype=float)
        steps = np.array([self.steps_to(m) for m in months], dtype=float)
        if (steps < 1).any():
            raise ValueError("the random walk forecasts months after its anchor only")
        mulog = np.full(len(months), np.log(self.last))
        sigmalog = self.sigma * np.sqrt(steps)
        z = (np.log(observed) - mulog) / sigmalog
        out: dict[str, np.ndarray] = {
            "crps": np.asarray(sr.crps_lognormal(observed, mulog, sigmalog, backend="numpy")),
            "log_score": np.asarray(sr.logs_lognormal(observed, mulog, sigmalog, backend="numpy")),
            "pit": np.array([_N01.cdf(v) for v in z]),
            "median": np.exp(mulog),
        }
        for p in probs:
            q = _N01.inv_cdf((1 + p) / 2)
            lo, hi = np.exp(mulog - q * sigmalog), np.exp(mulog + q * sigmalog)
            out.update(_interval_columns(lo, hi, observed, p))
        return out


def block_bootstrap_ratio(
    model: np.ndarray,
    baseline: np.ndarray,
    block: int,
    n_boot: int = 2000,
    prob: float = 0.9,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Ratio of mean scores ``model`` / ``baseline`` (paired, in origin order) and its central
    ``prob`` interval by a moving-block bootstrap over origins (blocks of ``block``)."""
    model = np.asarray(model, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    n = len(model)
    ratio = float(model.mean() / baseline.mean())
    if n < 2:
        return ratio, float("nan"), float("nan")
    block = max(1, min(block, n))
    rng = np.random.default_rng(seed)
    n_blocks = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)).reshape(n_boot, -1)[:, :n]
    ratios = model[idx].mean(axis=1) / baseline[idx].mean(axis=1)
    lo, hi = np.quantile(ratios, [(1 - prob) / 2, (1 + prob) / 2])
    return ratio, float(lo), float(hi)


def pit_histogram(pit: np.ndarray, bins: int = 10) -> np.ndarray:
    """Counts of PIT values in ``bins`` equal bins of [0, 1] (uniform when calibrated)."""
    return np.histogram(np.clip(pit, 0.0, 1.0), bins=bins, range=(0.0, 1.0))[0]
