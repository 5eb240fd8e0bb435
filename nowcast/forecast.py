"""Probabilistic forecasts: posterior draws -> paths of the hidden inflow and USD/RUB,
h months ahead, under the baseline or a user's scenario.

Each posterior draw is pushed through the model's own transitions and equations
(``nowcast.model.equations``, the functions the PyMC model is built from): the share's logit
AR(1), efficiency and power, psi by date, the electricity bill, the hidden inflow and the ruble
equation. Drivers go forward by simple stochastic processes fitted to the panel's recent
history (BTC price and network hashrate: log random walks with drift over the last 36 months;
Brent: a driftless log random walk; the key rate held at its last value), the block subsidy by
the halving schedule, fees at their last-12-month mean in BTC. A scenario file fixes the BTC
price, Brent and/or key-rate path instead. Forecasts read the posterior only (the panel and the
spec it carries are part of it).
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
from nowcast.model.spec import spec_of

HORIZON = "horizon"
SAMPLE = "sample"
SCENARIO_DRIVERS = {
    "btc_price_usd": "BTC price, monthly mean, USD",
    "brent_usd_per_bbl": "Brent, monthly mean, USD per barrel",
    "key_rate_pct": "Bank of Russia key rate, monthly mean, %",
}
SCENARIO_DRIVERS_OUT = ["btc_price_usd", "brent_usd_per_bbl", "btc_hashrate_eh_s", "key_rate_pct"]
HISTORY_MONTHS = 36
# drivers a forecast holds at their last value (the rest move as log random walks or by rule)
HELD_DRIVERS = {"key_rate_pct", "issuance_btc"}
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
            # prices must be positive; a policy rate may be zero
            number = not isinstance(value, bool) and isinstance(value, int | float)
            floor_ok = number and ((value >= 0) if driver == "key_rate_pct" else (value > 0))
            if not floor_ok:
                kind = "a non-negative" if driver == "key_rate_pct" else "a positive"
                raise NowcastError(
                    f"{path}: field '{driver}.{month}': expected {kind} number, got {value!r}"
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
    walks = (("btc_price_usd", True), ("brent_usd_per_bbl", False), ("btc_hashrate_eh_s", True))
    for (name, drift), stream in zip(walks, rng.spawn(len(walks)), strict=True):
        hist = panel[name].values.astype(float)
        hist = hist[np.isfinite(hist)]
        mu, sd = _log_rw(hist, drift)
        steps = mu + sd * _by_month(stream.standard_normal((h, n)))
        path = hist[-1] * np.exp(np.cumsum(steps, axis=1))
        fixed = scenario.paths.get(name, {})
        for j, m in enumerate(months):
            if m in fixed:
                path[:, j] = fixed[m]
        out[name] = path
    # the key rate is a policy decision, not a random walk: held at its last value unless the
    # scenario sets a path
    rate = np.full((n, h), _last(panel["key_rate_pct"]))
    for j, m in enumerate(months):
        if m in scenario.paths.get("key_rate_pct", {}):
            rate[:, j] = scenario.paths["key_rate_pct"][m]
    out["key_rate_pct"] = rate
    subsidy = 3.125 * np.where(months >= NEXT_HALVING, 0.5, 1.0)
    days = months.days_in_month.to_numpy()
    issuance = subsidy * 144.0 * days  # ~144 blocks a day
    fees = np.nanmean(panel["btc_fees_btc"].values[-12:]) * days / 30.4
    out["issuance_btc"] = np.broadcast_to(issuance, (n, h)).copy()
    out["network_revenue_usd"] = (issuance + fees)[None, :] * out["btc_price_usd"]
    return out


def _by_month(draws: np.ndarray) -> np.ndarray:
    """(month, sample) draws as (sample, month)."""
    return np.ascontiguousarray(draws.T)


def _last(series: xr.DataArray) -> float:
    values = series.values.astype(float)
    return float(values[np.isfinite(values)][-1])


@dataclass(frozen=True)
class ForecastPaths:
    """The random and fixed inputs of a forecast, one row per posterior draw (``sample``) and
    one column per month ahead: driver paths (``btc_price_usd``, ``brent_usd_per_bbl``,
    ``btc_hashrate_eh_s``, ``key_rate_pct``, ``issuance_btc``, ``network_revenue_usd``,
    and ``usd_rub``, NaN where the ruble equation moves it), the share's standard normal AR(1)
    innovations and the ruble's Student-t shocks (RUB-per-USD log change).

    Kept apart from ``push_forward`` so an update can replace some drivers by the figures a
    release brought and push the same draws through the same innovations (``with_drivers``)."""

    months: pd.DatetimeIndex
    drivers: dict[str, np.ndarray]
    share_innovations: np.ndarray
    ruble_shocks: np.ndarray

    def with_drivers(self, known: dict[str, pd.Series]) -> ForecastPaths:
        """These paths with ``known`` monthly values (driver -> values by month) in place of
        the simulated ones; months outside the paths are ignored. Later simulated months start
        from the last known value, as a forecast made with it would: random walks are scaled
        by known / simulated at that month, the key rate is held at it (the ruble follows a
        known rate by itself, in ``push_forward``)."""
        drivers = {k: v.copy() for k, v in self.drivers.items()}
        for name, values in known.items():
            if name not in drivers:
                raise KeyError(f"{name}: not a forecast driver ({sorted(drivers)})")
            path = drivers[name]
            last = -1
            for j, month in enumerate(self.months):
                if month in values.index and np.isfinite(values[month]):
                    path[:, j] = values[month]
                    last = j
            if last < 0 or last == len(self.months) - 1 or name == "usd_rub":
                continue
            later = slice(last + 1, None)
            if name in HELD_DRIVERS:
                path[:, later] = path[:, [last]]
            else:
                path[:, later] *= (path[:, last] / self.drivers[name][:, last])[:, None]
        return ForecastPaths(self.months, drivers, self.share_innovations, self.ruble_shocks)

    def months_after(self, n_months: int, rows: np.ndarray | None = None) -> ForecastPaths:
        """These paths without their first ``n_months`` months (and only the draws ``rows``,
        in that order, when given): what remains to forecast once those months are known."""
        take = slice(n_months, None)
        pick = (lambda a: a[rows]) if rows is not None else (lambda a: a)
        return ForecastPaths(
            self.months[take],
            {k: pick(v[:, take]) for k, v in self.drivers.items()},
            pick(self.share_innovations[:, take]),
            pick(self.ruble_shocks[:, take]),
        )

    def extended_by(self, longer: ForecastPaths) -> ForecastPaths:
        """These paths continued by the later months of ``longer`` (paths over more of the
        same months, one row per draw too): random walks carry on from these paths' last
        values, held drivers keep them."""
        n = len(self.months)
        if len(longer.months) <= n:
            return self
        if not longer.months[:n].equals(self.months):
            raise ValueError("paths to extend must start in the same month")
        drivers = {}
        for name, path in self.drivers.items():
            tail = longer.drivers[name][:, n:].copy()
            if name in HELD_DRIVERS:
                tail[:] = path[:, [-1]]
            elif name != "usd_rub":
                tail *= (path[:, -1] / longer.drivers[name][:, n - 1])[:, None]
            drivers[name] = np.concatenate([path, tail], axis=1)
        return ForecastPaths(
            longer.months,
            drivers,
            np.concatenate([self.share_innovations, longer.share_innovations[:, n:]], axis=1),
            np.concatenate([self.ruble_shocks, longer.ruble_shocks[:, n:]], axis=1),
        )

    def to_dataset(self) -> xr.Dataset:
        """The paths as a Dataset on (sample, month), for saving beside a run."""
        coords = {SAMPLE: np.arange(self.share_innovations.shape[0]), MONTH: self.months}
        data = {f"driver_{k}": ((SAMPLE, MONTH), v) for k, v in self.drivers.items()}
        data["share_innovations"] = ((SAMPLE, MONTH), self.share_innovations)
        data["ruble_shocks"] = ((SAMPLE, MONTH), self.ruble_shocks)
        return xr.Dataset(data, coords=coords)

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> ForecastPaths:
        """Paths saved by ``to_dataset``."""
        drivers = {
            str(k).removeprefix("driver_"): ds[k].transpose(SAMPLE, MONTH).values
            for k in ds.data_vars
            if str(k).startswith("driver_")
        }
        return cls(
            pd.DatetimeIndex(ds[MONTH].values),
            drivers,
            ds["share_innovations"].transpose(SAMPLE, MONTH).values,
            ds["ruble_shocks"].transpose(SAMPLE, MONTH).values,
        )

    def head(self, n_months: int) -> ForecastPaths:
        """The first ``n_months`` months of these paths."""
        return ForecastPaths(
            self.months[:n_months],
            {k: v[:, :n_months] for k, v in self.drivers.items()},
            self.share_innovations[:, :n_months],
            self.ruble_shocks[:, :n_months],
        )


def stacked_posterior(tree: xr.DataTree) -> xr.Dataset:
    """The posterior with (chain, draw) stacked into ``sample``: the draws forecasts push."""
    return tree["posterior"].to_dataset().stack({SAMPLE: (CHAIN, DRAW)})


def forecast_months(tree: xr.DataTree, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` months after a run's last fitted month."""
    fitted = pd.DatetimeIndex(tree["posterior"][MONTH].values)
    return pd.date_range(fitted[-1] + pd.offsets.MonthBegin(1), periods=horizon, freq="MS")


def draw_paths(
    tree: xr.DataTree,
    horizon: int = 6,
    scenario: Scenario | None = None,
    *,
    seed: int = 0,
) -> ForecastPaths:
    """The driver paths, share innovations and ruble shocks of ``forecast`` for a run: the
    same ``seed`` gives the same paths, so a forecast can be reproduced exactly."""
    if horizon < 1:
        raise NowcastError(f"horizon must be at least 1 month, got {horizon}")
    scenario = scenario or Scenario()
    post = stacked_posterior(tree)
    panel = tree["panel"].to_dataset()
    months = forecast_months(tree, horizon)
    n = post.sizes[SAMPLE]
    # one stream per component, each drawn month by month: a longer horizon extends the same
    # paths rather than drawing new ones, so an update can reproduce any earlier forecast
    rng_drivers, rng_share, rng_ruble = np.random.default_rng(seed).spawn(3)
    drivers = _driver_paths(panel, months, n, scenario, rng_drivers)
    drivers["usd_rub"] = np.full((n, horizon), np.nan)
    innovations = _by_month(rng_share.standard_normal((horizon, n)))
    nu = post["ruble_nu"].values + 2.0
    shocks = (
        _by_month(rng_ruble.standard_t(nu, size=(horizon, n))) * post["ruble_scale"].values[:, None]
    )
    return ForecastPaths(months, drivers, innovations, shocks)


def push_forward(
    post: xr.Dataset, panel: xr.Dataset, paths: ForecastPaths, legalisation: str
) -> dict[str, np.ndarray]:
    """Each posterior draw of ``post`` (stacked, ``stacked_posterior``) pushed through the
    model's own transitions and equations (``nowcast.model.equations``) over ``paths.months``,
    which follow the last month of ``post`` and ``panel``: the share's logit AR(1) around its
    long-run level, fleet efficiency and power, psi by the month's date against
    ``legalisation``, the electricity bill at the month's own rate, and the ruble equation
    with its oil and key-rate terms and Student-t shocks (where ``usd_rub`` is known, the known
    rate is used instead). Returns arrays (sample x month), money in USD bn per month."""
    months = paths.months
    n, horizon = paths.share_innovations.shape
    drv = paths.drivers

    def p(name: str) -> np.ndarray:
        return post[name].values

    def col(name: str) -> np.ndarray:  # one value per draw, as a column against months
        return p(name)[:, None]

    hours = months.days_in_month.to_numpy() * 24.0
    years_2019 = (months - pd.Timestamp("2019-01-01")).days.to_numpy() / 365.25

    # Russia's hashrate share: the fitted AR(1) carried on from each draw's last month
    mean = p("share_logit_mean")
    last = post["share_logit"].isel({MONTH: -1}).values
    scales = np.broadcast_to(col("share_step_sd"), (n, horizon))
    deviation = eq.ar1_deviation_path(
        last - mean, p("share_ar_rho"), scales, paths.share_innovations, horizon, np
    )
    share_logit = mean[:, None] + deviation
    share = eq.logistic(share_logit, np)
    eff = eq.fleet_efficiency_j_per_th(
        col("efficiency_2019_log_j_per_th"), col("efficiency_decline_per_year"), years_2019, np
    )
    power = eq.mining_power_gw(share, drv["btc_hashrate_eh_s"], eff, col("overhead_pue"))
    revenue = eq.mining_revenue_usd_bn(share, drv["network_revenue_usd"])
    after = np.asarray(months >= pd.Timestamp(legalisation))
    psi = eq.converted_fraction(after, col("psi_before"), col("psi_after"), np)

    def changes(name: str, driver: str, log: bool) -> np.ndarray:
        path = np.concatenate([np.full((n, 1), _last(panel[name])), drv[driver]], axis=1)
        return np.diff(np.log(path) if log else path, axis=1)

    dlog_oil = changes("brent_usd_per_bbl", "brent_usd_per_bbl", log=True)
    d_rate = changes("key_rate_pct", "key_rate_pct", log=False)
    known_rate = drv["usd_rub"]

    inflow = np.empty((n, horizon))
    usd_rub = np.empty((n, horizon))
    u_prev = np.full(n, _last(panel["usd_rub_mean"]))

    def inflow_at(j: int, rate: np.ndarray) -> np.ndarray:
        cost = eq.electricity_cost_usd_bn(
            power[:, j], hours[j], p("electricity_price_rub_per_kwh"), rate
        )
        return eq.hidden_inflow_usd_bn(cost, revenue[:, j], psi[:, j])

    for j in range(horizon):
        known = np.isfinite(known_rate[:, j])
        u = np.where(known, known_rate[:, j], u_prev)
        for _ in range(3):  # the bill is converted at the month's rate, which F moves
            inflow[:, j] = inflow_at(j, u)
            dlog_u = (
                eq.ruble_dlog_mean(
                    p("ruble_intercept"),
                    p("ruble_oil_beta"),
                    dlog_oil[:, j],
                    p("ruble_rate_beta"),
                    d_rate[:, j],
                    # a model without the inflow in its ruble equation has no response
                    p("ruble_gamma") if "ruble_gamma" in post else 0.0,
                    inflow[:, j],
                )
                + paths.ruble_shocks[:, j]
            )
            u = np.where(known, known_rate[:, j], u_prev * np.exp(dlog_u))
        inflow[:, j] = inflow_at(j, u)
        usd_rub[:, j] = u
        u_prev = u
    return {
        "hidden_inflow_usd_bn": inflow,
        "usd_rub": usd_rub,
        "hashrate_share": share,
        "share_logit": share_logit,
        "mining_power_gw": power,
    }


def forecast(
    tree: xr.DataTree,
    horizon: int = 6,
    scenario: Scenario | None = None,
    *,
    seed: int = 0,
) -> xr.Dataset:
    """Paths h = 1..``horizon`` months after the last fitted month, one per posterior draw.

    Each draw goes forward through the model's own transitions (``push_forward``) under the
    paths ``draw_paths`` gives for ``seed``: the same seed, the same forecast.

    Returns a Dataset on dims (``sample``, ``month``): ``hidden_inflow_usd`` (USD per month),
    ``usd_rub`` (RUB per USD, monthly mean), ``hashrate_share``, ``share_logit``,
    ``mining_power_gw`` and the driver paths; attrs name the scenario."""
    scenario = scenario or Scenario()
    paths = draw_paths(tree, horizon, scenario, seed=seed)
    return forecast_from_paths(tree, paths, scenario, seed=seed)


def forecast_from_paths(
    tree: xr.DataTree, paths: ForecastPaths, scenario: Scenario | None = None, *, seed: int = 0
) -> xr.Dataset:
    """``forecast`` under given paths (one row per posterior draw, months following the
    run's last fitted month): an update continues the previous forecast's paths this way."""
    scenario = scenario or Scenario()
    spec = spec_of(tree)
    post = stacked_posterior(tree)
    out = push_forward(post, tree["panel"].to_dataset(), paths, spec.legalisation)
    res = {
        "hidden_inflow_usd": out.pop("hidden_inflow_usd_bn") * 1e9,
        **out,
    }
    coords = {SAMPLE: np.arange(post.sizes[SAMPLE]), MONTH: paths.months}
    ds = xr.Dataset({k: ((SAMPLE, MONTH), v) for k, v in res.items()}, coords=coords)
    for k in SCENARIO_DRIVERS_OUT:
        ds[k] = ((SAMPLE, MONTH), paths.drivers[k])
    fitted = pd.DatetimeIndex(tree["posterior"][MONTH].values)
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
