"""The panel: "what did we know on date D?" as the one thing the model reads.

``build_panel`` turns the store's as-of observations into an xarray Dataset:

* monthly grid variables (dim ``month``, and ``region`` for regional monthly tables), daily
  series aggregated by the rules in ``GRID`` (sums for revenue and issuance, means for
  hashrate, prices and the key rate, monthly average and end-of-month for USD/RUB); a month
  counts only when every day of it was published by D;
* every other figure (a year's electricity, a quarter's balance of payments, a published share
  estimate, a year-to-date total) as one *period observation* along dim ``period_obs``: its
  value, series, region, observer and a row of ``period_weight`` (period_obs x month) giving the
  fraction of each month it covers. A period total is a sum over months, never interpolated;
* ``published_mask`` (series x month): what had been published by D, so the ragged edge is
  explicit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import xarray as xr

from nowcast import __version__
from nowcast.constants import MONTH, PERIOD_OBS, REGION, SERIES
from nowcast.errors import NowcastError


@dataclass(frozen=True)
class GridRule:
    """How a series becomes a monthly grid variable: ``how`` is ``sum``, ``mean``, ``last``
    (for daily series) or ``value`` (already monthly); ``scale`` converts units."""

    series: str
    how: str
    scale: float = 1.0
    regional: bool = False


# Grid variable name -> rule. Names carry their units.
GRID: dict[str, GridRule] = {
    "btc_hashrate_eh_s": GridRule("btc_hashrate_th_s", "mean", 1e-6),
    "btc_miner_revenue_usd": GridRule("btc_miner_revenue_usd", "sum"),
    "btc_issuance_btc": GridRule("btc_issuance_btc", "sum"),
    "btc_fees_btc": GridRule("btc_fees_btc", "sum"),
    "btc_price_usd": GridRule("btc_price_usd", "mean"),
    "usd_rub_mean": GridRule("usd_rub_rub_per_usd", "mean"),
    "usd_rub_end": GridRule("usd_rub_rub_per_usd", "last"),
    "key_rate_pct": GridRule("key_rate_pct", "mean"),
    "brent_usd_per_bbl": GridRule("brent_usd_per_bbl", "value"),
    "goods_exports_usd_bn": GridRule("goods_exports_usd_bn", "value"),
    "goods_imports_usd_bn": GridRule("goods_imports_usd_bn", "value"),
    "electricity_production_mln_kwh": GridRule(
        "electricity_production_mln_kwh", "value", regional=True
    ),
}
# A working-day series' month is complete when its last figure is this close to month end.
WORKDAY_SLACK_DAYS = 4
# Series that feed grid variables only, never period observations.
_GRID_SERIES = {r.series for r in GRID.values()}


def months_between(start: str | pd.Timestamp, end: str | pd.Timestamp) -> pd.DatetimeIndex:
    """Month starts from ``start``'s month to ``end``'s month inclusive."""
    return pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M").to_timestamp()


def _month_index(months: pd.DatetimeIndex) -> pd.PeriodIndex:
    return months.to_period("M")


def _daily_to_month(
    df: pd.DataFrame, months: pd.DatetimeIndex, how: str
) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate daily rows to months.

    A month counts when every calendar day is present. Series published on working days only
    (the key rate, Brent, the Bank of Russia's XML rates) count a month for means and
    end-of-month values once a later day is known or the month's last figure lies within
    ``WORKDAY_SLACK_DAYS`` of its end; sums always need every day.
    """
    out = np.full(len(months), np.nan)
    ndays = np.zeros(len(months), dtype=int)
    if df.empty:
        return out, ndays
    day = df.sort_values("period_start")
    per = day["period_start"].dt.to_period("M")
    grouped = day.groupby(per)["value"]
    agg = {"sum": grouped.sum(), "mean": grouped.mean(), "last": grouped.last()}[how]
    count = grouped.size()
    last_day = day.groupby(per)["period_start"].max()
    latest = day["period_start"].max()
    working_days_only = count.median() < 28
    for i, p in enumerate(_month_index(months)):
        if p not in count.index:
            continue
        ndays[i] = count[p]
        end = p.end_time.normalize()
        if count[p] == p.days_in_month:
            complete = True
        elif how == "sum" or not working_days_only:
            complete = False
        else:
            complete = latest > end or (end - last_day[p]).days <= WORKDAY_SLACK_DAYS
        if complete:
            out[i] = agg[p]
    return out, ndays


def _monthly_value(df: pd.DataFrame, months: pd.DatetimeIndex) -> np.ndarray:
    """Monthly figures (one per month) onto the grid; where observers disagree, their mean."""
    out = np.full(len(months), np.nan)
    if df.empty:
        return out
    # only figures covering a whole calendar month (a daily row dated the 1st is not one)
    whole = (df["period_start"].dt.day == 1) & (
        df["period_end"] == df["period_start"] + pd.offsets.MonthEnd(0)
    )
    df = df[whole]
    by = df.groupby(df["period_start"].dt.to_period("M"))["value"].mean()
    if by.empty:
        return out
    return by.reindex(_month_index(months)).to_numpy(dtype=float)


def period_weights(starts: pd.Series, ends: pd.Series, months: pd.DatetimeIndex) -> np.ndarray:
    """Fraction of each month that each period covers (rows: periods, columns: months)."""
    m0 = months.values.astype("datetime64[D]")
    m1 = (months + pd.offsets.MonthEnd(0)).values.astype("datetime64[D]")
    s = starts.values.astype("datetime64[D]")[:, None]
    e = ends.values.astype("datetime64[D]")[:, None]
    lo = np.maximum(s, m0[None, :])
    hi = np.minimum(e, m1[None, :])
    overlap = (hi - lo).astype(int) + 1
    days = ((m1 - m0).astype(int) + 1)[None, :]
    return np.clip(overlap, 0, None) / days


def panel_from_observations(
    obs: pd.DataFrame,
    *,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    as_of: str | pd.Timestamp | None = None,
    simulated: bool = False,
) -> xr.Dataset:
    """Build the panel from canonical observations (already filtered to one as-of date)."""
    months = months_between(start, end)
    if len(months) < 2:
        raise NowcastError(f"panel needs at least two months, got {start} .. {end}")
    window_start = months[0]
    window_end = months[-1] + pd.offsets.MonthEnd(0)
    coords = {MONTH: months}
    ds = xr.Dataset(coords=coords)
    ds["hours_in_month"] = (MONTH, months.days_in_month.to_numpy() * 24.0)
    ds["hours_in_month"].attrs["units"] = "h"

    by_series = {s: g for s, g in obs.groupby("series")}
    empty = obs.iloc[0:0]

    masks: dict[str, np.ndarray] = {}
    for name, rule in GRID.items():
        df = by_series.get(rule.series, empty)
        if rule.regional:
            if df.empty:
                continue
            regions = sorted(df["region"].unique())
            arr = np.stack([_monthly_value(df[df["region"] == r], months) for r in regions], axis=1)
            ds[name] = ((MONTH, f"{REGION}_{name}"), arr * rule.scale)
            ds = ds.assign_coords({f"{REGION}_{name}": regions})
            masks[name] = np.isfinite(arr).any(axis=1)
        else:
            if rule.how == "value":
                arr = _monthly_value(df, months)
            else:
                arr, ndays = _daily_to_month(df, months, rule.how)
                ds[f"{name}_days_observed"] = (MONTH, ndays)
            ds[name] = (MONTH, arr * rule.scale)
            masks[name] = np.isfinite(arr)
        ds[name].attrs.update(source_series=rule.series, aggregation=rule.how)

    # Period observations: everything not on the grid and not daily.
    days = (obs["period_end"] - obs["period_start"]).dt.days + 1
    periods = obs[~obs["series"].isin(_GRID_SERIES) & (days > 1)].copy()
    inside = (periods["period_start"] >= window_start) & (periods["period_end"] <= window_end)
    dropped = int((~inside).sum())
    periods = (
        periods[inside]
        .sort_values(["series", "region", "period_start", "period_end", "observer"])
        .reset_index(drop=True)
    )
    weights = period_weights(periods["period_start"], periods["period_end"], months)
    ds = ds.assign_coords(
        {
            PERIOD_OBS: np.arange(len(periods)),
            "obs_series": (PERIOD_OBS, periods["series"].astype(str).to_numpy()),
            "obs_region": (PERIOD_OBS, periods["region"].astype(str).to_numpy()),
            "obs_observer": (PERIOD_OBS, periods["observer"].astype(str).to_numpy()),
            "obs_unit": (PERIOD_OBS, periods["unit"].astype(str).to_numpy()),
            "obs_period_start": (PERIOD_OBS, periods["period_start"].to_numpy()),
            "obs_period_end": (PERIOD_OBS, periods["period_end"].to_numpy()),
            "obs_published": (PERIOD_OBS, periods["published"].to_numpy()),
        }
    )
    ds["obs_value"] = (PERIOD_OBS, periods["value"].to_numpy(dtype=float))
    ds["period_weight"] = ((PERIOD_OBS, MONTH), weights)
    ds["period_weight"].attrs["description"] = (
        "fraction of each month a period observation covers; a period total = weights @ monthly"
    )
    for s, g in periods.groupby("series"):
        masks[s] = weights[g.index.to_numpy()].sum(axis=0) > 0

    names = sorted(masks)
    ds = ds.assign_coords({SERIES: names})
    ds["published_mask"] = (
        (SERIES, MONTH),
        np.stack([masks[n] for n in names]) if names else np.zeros((0, len(months)), bool),
    )
    ds["published_mask"].attrs["description"] = "True where a figure covering the month was public"
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(
            obs[["series", "region", "period_start", "period_end", "value", "published"]],
            index=False,
        )
        .to_numpy()
        .tobytes()
    ).hexdigest()[:16]
    ds.attrs.update(
        as_of=str(pd.Timestamp(as_of).date()) if as_of is not None else "latest",
        data_kind="SIMULATED" if simulated else "real",
        data_digest=digest,
        period_obs_outside_window=dropped,
        nowcast_version=__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return ds


def build_panel(
    store: object,
    as_of: str | pd.Timestamp | None = None,
    *,
    start: str | pd.Timestamp = "2016-01-01",
    end: str | pd.Timestamp | None = None,
    simulated: bool = False,
) -> xr.Dataset:
    """The panel of what ``store`` knew on ``as_of`` (default: everything stored).

    ``end`` defaults to the last month for which the on-chain data is complete as of that date:
    the ragged edge is then the months at the end where other series are still unpublished.
    """
    obs = store.as_of(as_of, simulated=simulated)
    if obs.empty:
        kind = "simulated" if simulated else "real"
        raise NowcastError(f"the store holds no {kind} figures published by {as_of or 'now'}")
    first_onchain = obs.loc[obs["series"] == "btc_hashrate_th_s", "period_start"].min()
    if pd.notna(first_onchain):
        # the window cannot start before the on-chain drivers do
        start = max(pd.Timestamp(start), first_onchain.to_period("M").to_timestamp())
    if end is None:
        hr = obs[obs["series"] == "btc_hashrate_th_s"]
        if hr.empty:
            raise NowcastError(
                f"no Bitcoin hashrate published by {as_of or 'now'} in the store:"
                " ingest Coin Metrics data first (or use a later --as-of)"
            )
        last_day = hr["period_end"].max()
        # the month before the day after the last published day is the last complete month
        end = ((last_day + pd.Timedelta(days=1)).to_period("M") - 1).to_timestamp()
    return panel_from_observations(obs, start=start, end=end, as_of=as_of, simulated=simulated)


def ragged_edge(panel: xr.Dataset) -> pd.DataFrame:
    """For each series, the last month covered by a published figure and how many months at
    the end of the panel it is missing."""
    months = pd.DatetimeIndex(panel[MONTH].values)
    rows = []
    for s in panel[SERIES].values:
        mask = panel["published_mask"].sel({SERIES: s}).values
        idx = np.nonzero(mask)[0]
        last = months[idx[-1]] if len(idx) else pd.NaT
        rows.append(
            {
                "series": str(s),
                "last_month": last,
                "months_missing_at_end": len(months) - 1 - idx[-1] if len(idx) else len(months),
            }
        )
    return pd.DataFrame(rows)
