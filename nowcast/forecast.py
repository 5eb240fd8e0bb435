"""Probabilistic forecasts: posterior draws -> paths of the hidden inflow and USD/RUB,
h months ahead, under the baseline or a user's scenario.

Each posterior draw is pushed through the model's own equations (``nowcast.model.equations``)
month by month. Drivers go forward by simple stochastic processes fitted to the panel's recent
history (BTC price and network hashrate: log random walks with drift over the last 36 months;
Brent: a driftless log random walk; the key rate held at its last value), the block subsidy by
the halving schedule, fees at their last-12-month mean in BTC. A scenario file fixes the BTC
price and/or Brent path instead. Forecasts read the posterior only (the panel it carries is
part of it).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import CHAIN, DRAW, MONTH
from nowcast.errors import NowcastError
from nowcast.intervals import PROBS, interval_summary
from nowcast.model import equations as eq

HORIZON = "horizon"
SAMPLE = "sample"
SCENARIO_DRIVERS = {
    "btc_price_usd": "BTC price, monthly mean, USD",
    "brent_usd_per_bbl": "Brent, monthly mean, USD per barrel",
}
HISTORY_MONTHS = 36
# Block subsidy halves every 210,000 blocks; the next after 2024-04-20 is expected in 2028.
NEXT_HALVING = pd.Timestamp("2028-04-01")


@dataclass(frozen=True)
class Scenario:
    """Fixed monthly paths for some drivers (``{driver: {month: value}}``) and a name."""

    name: str = "baseline"
    paths: dict[str, dict[pd.Timestamp, float]] = field(default_factory=dict)
    source: str = ""


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML: a ``name`` and one table per driver mapping ``"YYYY-MM"`` to a
    value, e.g. ``[btc_price_usd]`` ``"2026-01" = 80000``. Unknown drivers, bad months and
    non-positive or non-numeric values are errors naming the file and the field."""
    path = Path(path)
    if not path.exists():
        raise NowcastError(f"{path}: scenario file not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise NowcastError(f"{path}: malformed TOML: {exc}") from None
    name = raw.pop("name", path.stem)
    if not isinstance(name, str):
        raise NowcastError(f"{path}: field 'name': expected text, got {name!r}")
    paths: dict[str, dict[pd.Timestamp, float]] = {}
    for driver, table in raw.items():
        if driver not in SCENARIO_DRIVERS:
            raise NowcastError(
                f"{path}: field '{driver}': unknown driver; expected one of"
                f" {sorted(SCENARIO_DRIVERS)}"
            )
        if not isinstance(table, dict) or not table:
            raise NowcastError(f"{path}: field '{driver}': expected a table of \"YYYY-MM\" = value")
        out = {}
        for month, value in table.items():
            try:
                ts = pd.Timestamp(pd.Period(month, freq="M").to_timestamp())
            except (ValueError, TypeError):
                raise NowcastError(
                    f"{path}: field '{driver}.{month}': expected a month as YYYY-MM"
                ) from None
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise NowcastError(
                    f"{path}: field '{driver}.{month}': expected a positive number, got {value!r}"
                )
            out[ts] = float(value)
        paths[driver] = out
    return Scenario(name=name, paths=paths, source=str(path))


def _log_rw(history: np.ndarray, drift: bool) -> tuple[float, float]:
    d = np.diff(np.log(history[-(HISTORY_MONTHS + 1) :]))
    return (float(d.mean()) if drift else 0.0), float(d.std(ddof=1))


def _driver_paths(
    panel: xr.Dataset,
    months: pd.DatetimeIndex,
    n: int,
    scenario: Scenario,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Driver paths (sample x horizon) from fitted random walks or the scenario."""
    h = len(months)
    out: dict[str, np.ndarray] = {}
    for name, drift in (
        ("btc_price_usd", True),
        ("brent_usd_per_bbl", False),
        ("btc_hashrate_eh_s", True),
    ):
        hist = panel[name].values.astype(float)
        hist = hist[np.isfinite(hist)]
        mu, sd = _log_rw(hist, drift)
        steps = mu + sd * rng.standard_normal((n, h))
        path = hist[-1] * np.exp(np.cumsum(steps, axis=1))
        fixed = scenario.paths.get(name, {})
        for j, m in enumerate(months):
            if m in fixed:
                path[:, j] = fixed[m]
        out[name] = path
    subsidy = 3.125 * np.where(months >= NEXT_HALVING, 0.5, 1.0)
    days = months.days_in_month.to_numpy()
    issuance = subsidy * 144.0 * days  # ~144 blocks a day
    fees = np.nanmean(panel["btc_fees_btc"].values[-12:]) * days / 30.4
    out["issuance_btc"] = np.broadcast_to(issuance, (n, h)).copy()
    out["network_revenue_usd"] = (issuance + fees)[None, :] * out["btc_price_usd"]
    return out


def _last(series: xr.DataArray) -> float:
    values = series.values.astype(float)
    return float(values[np.isfinite(values)][-1])


def forecast(
    tree: xr.DataTree,
    horizon: int = 6,
    scenario: Scenario | None = None,
    *,
    seed: int = 0,
) -> xr.Dataset:
    """Paths h = 1..``horizon`` months after the last fitted month, one per posterior draw.

    Returns a Dataset on dims (``sample``, ``month``): ``hidden_inflow_usd`` (USD per month),
    ``usd_rub`` (RUB per USD, monthly mean), ``hashrate_share``, ``mining_power_gw`` and the
    driver paths; attrs name the scenario."""
    if horizon < 1:
        raise NowcastError(f"horizon must be at least 1 month, got {horizon}")
    scenario = scenario or Scenario()
    post = tree["posterior"].to_dataset().stack({SAMPLE: (CHAIN, DRAW)})
    panel = tree["panel"].to_dataset()
    fitted = pd.DatetimeIndex(post[MONTH].values)
    months = pd.date_range(fitted[-1] + pd.offsets.MonthBegin(1), periods=horizon, freq="MS")
    n = post.sizes[SAMPLE]
    rng = np.random.default_rng(seed)
    drv = _driver_paths(panel, months, n, scenario, rng)

    def p(name: str) -> np.ndarray:
        return post[name].values

    hours = months.days_in_month.to_numpy() * 24.0
    years_2019 = (months - pd.Timestamp("2019-01-01")).days.to_numpy() / 365.25
    logit = post["share_logit"].isel({MONTH: -1}).values
    step = p("share_step_sd")
    u_prev = np.full(n, _last(panel["usd_rub_mean"]))
    oil_prev = np.full(n, _last(panel["brent_usd_per_bbl"]))
    nu = p("ruble_nu") + 2.0
    res = {
        k: np.empty((n, horizon))
        for k in ("hidden_inflow_usd", "usd_rub", "hashrate_share", "mining_power_gw")
    }
    for j in range(horizon):
        logit = logit + step * rng.standard_normal(n)
        share = eq.logistic(logit, np)
        eff = eq.fleet_efficiency_j_per_th(
            p("efficiency_2019_log_j_per_th"), p("efficiency_decline_per_year"), years_2019[j], np
        )
        power = eq.mining_power_gw(share, drv["btc_hashrate_eh_s"][:, j], eff, p("overhead_pue"))
        revenue = eq.mining_revenue_usd_bn(share, drv["network_revenue_usd"][:, j])
        shock = rng.standard_t(nu) * p("ruble_scale")
        dlog_oil = np.log(drv["brent_usd_per_bbl"][:, j] / oil_prev)
        u = u_prev
        for _ in range(3):  # the bill is converted at the month's rate, which F moves
            cost = eq.electricity_cost_usd_bn(
                power, hours[j], p("electricity_price_rub_per_kwh"), u
            )
            inflow = eq.hidden_inflow_usd_bn(cost, revenue, p("psi_after"))
            dlog_u = (
                p("ruble_intercept")
                + p("ruble_oil_beta") * dlog_oil
                - p("ruble_gamma") * inflow
                + shock
            )
            u = u_prev * np.exp(dlog_u)
        res["hidden_inflow_usd"][:, j] = inflow * 1e9
        res["usd_rub"][:, j] = u
        res["hashrate_share"][:, j] = share
        res["mining_power_gw"][:, j] = power
        u_prev, oil_prev = u, drv["brent_usd_per_bbl"][:, j]
    coords = {SAMPLE: np.arange(n), MONTH: months}
    ds = xr.Dataset({k: ((SAMPLE, MONTH), v) for k, v in res.items()}, coords=coords)
    for k in ("btc_price_usd", "brent_usd_per_bbl", "btc_hashrate_eh_s"):
        ds[k] = ((SAMPLE, MONTH), drv[k])
    ds.attrs.update(
        scenario=scenario.name,
        scenario_file=scenario.source,
        data_kind=tree.attrs.get("data_kind", "real"),
        fitted_through=f"{fitted[-1]:%Y-%m}",
        seed=seed,
    )
    return ds


def summarise(ds: xr.Dataset, var: str, probs: tuple[float, ...] = PROBS) -> pd.DataFrame:
    """Mean, median and central intervals (``probs``) of ``var`` by month:
    ``nowcast.intervals.interval_summary``'s columns."""
    return interval_summary(ds[var], SAMPLE, probs)
