"""The report's numbers, read from the posterior and the forecasts (never refitted): the
summary table behind ``summary.csv``, the headline, the ragged edge and the run's metadata."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import CHAIN, DRAW, MONTH
from nowcast.errors import NowcastError
from nowcast.forecast import SAMPLE
from nowcast.intervals import interval_columns, interval_summary
from nowcast.panel import ragged_edge

POSTERIOR_DIMS = (CHAIN, DRAW)
INTERVAL_COLUMNS = interval_columns()


def is_simulated(tree: xr.DataTree) -> bool:
    """True unless the run's data are marked real."""
    return str(tree.attrs.get("data_kind", "real")) != "real"


def months_of(x: Any) -> pd.DatetimeIndex:
    """Month starts of a coordinate or array of dates."""
    return pd.DatetimeIndex(np.asarray(x))


def posterior_intervals(tree: xr.DataTree, name: str) -> pd.DataFrame:
    """``interval_summary`` of a posterior variable by month."""
    return interval_summary(tree["posterior"][name], POSTERIOR_DIMS)


def forecast_intervals(ds: xr.Dataset, name: str) -> pd.DataFrame:
    """``interval_summary`` of a forecast variable by month."""
    return interval_summary(ds[name], SAMPLE)


def ordered(forecasts: dict[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    """Scenarios with the baseline first, the others in the order given."""
    names = sorted(forecasts, key=lambda n: (n != "baseline", list(forecasts).index(n)))
    return {n: forecasts[n] for n in names}


def check_forecasts(tree: xr.DataTree, forecasts: dict[str, xr.Dataset]) -> None:
    """Refuse forecasts that lack the reported variables or were made from another run."""
    last = months_of(tree["posterior"][MONTH].values)[-1]
    for name, ds in forecasts.items():
        for v in ("hidden_inflow_usd", "usd_rub"):
            if v not in ds:
                raise NowcastError(f"forecast '{name}' has no {v}: pass what forecast() returns")
        first = months_of(ds[MONTH].values)[0]
        if first != last + pd.offsets.MonthBegin(1):
            raise NowcastError(
                f"forecast '{name}' starts {first:%Y-%m}, not the month after the posterior's"
                f" last fitted month {last:%Y-%m}: it was made from another run"
            )


def summary_table(tree: xr.DataTree, forecasts: dict[str, xr.Dataset]) -> pd.DataFrame:
    """One row per fitted month (``nowcast``) and per scenario and forecast month
    (``forecast``): the hidden inflow (USD per month) and USD/RUB (RUB per USD), mean, median
    and 50/80/90/95% bounds; ``usd_rub_observed`` is the panel's monthly mean for fitted months.
    Nowcast rows have no scenario (they do not depend on one) and no horizon."""
    now = posterior_intervals(tree, "hidden_inflow_usd")
    months = months_of(now.index)
    panel = tree["panel"].to_dataset()
    frames = []
    now = now.add_prefix("hidden_inflow_usd_").reset_index(drop=True)
    now.insert(0, "horizon", pd.array([pd.NA] * len(months), dtype="Int64"))
    now.insert(0, "month", months)
    now.insert(0, "scenario", "")
    now.insert(0, "kind", "nowcast")
    for c in INTERVAL_COLUMNS:
        now[f"usd_rub_{c}"] = np.nan
    now["usd_rub_observed"] = panel["usd_rub_mean"].sel({MONTH: months}).values.astype(float)
    frames.append(now)
    for name, ds in ordered(forecasts).items():
        fm = months_of(ds[MONTH].values)
        df = pd.concat(
            [
                forecast_intervals(ds, "hidden_inflow_usd").add_prefix("hidden_inflow_usd_"),
                forecast_intervals(ds, "usd_rub").add_prefix("usd_rub_"),
            ],
            axis=1,
        ).reset_index(drop=True)
        df.insert(0, "horizon", pd.array(np.arange(1, len(fm) + 1), dtype="Int64"))
        df.insert(0, "month", fm)
        df.insert(0, "scenario", name)
        df.insert(0, "kind", "forecast")
        df["usd_rub_observed"] = np.nan
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def forecast_frame(ds: xr.Dataset) -> pd.DataFrame:
    """One scenario's forecast by month: inflow, USD/RUB, share and power, with intervals."""
    months = months_of(ds[MONTH].values)
    parts = [
        forecast_intervals(ds, v).add_prefix(f"{v}_").reset_index(drop=True)
        for v in ("hidden_inflow_usd", "usd_rub", "hashrate_share", "mining_power_gw")
        if v in ds
    ]
    out = pd.concat(parts, axis=1)
    out.insert(0, "horizon", np.arange(1, len(months) + 1))
    out.insert(0, "month", months.strftime("%Y-%m-%d"))
    out.insert(0, "scenario", ds.attrs.get("scenario", ""))
    return out


def declared_exports_of(tree: xr.DataTree, declared: pd.Series | None) -> pd.Series:
    """Declared goods exports (USD bn) by month start; the panel's when none are given."""
    if declared is None:
        panel = tree["panel"]
        if "goods_exports_usd_bn" not in panel:
            return pd.Series(dtype=float)
        declared = panel["goods_exports_usd_bn"].to_series()
    s = pd.Series(declared, dtype=float).dropna()
    if s.empty:
        return s
    idx = s.index
    if isinstance(idx, pd.PeriodIndex):
        idx = idx.to_timestamp()
    s.index = pd.DatetimeIndex(pd.to_datetime(idx)).to_period("M").to_timestamp()
    return s[~s.index.duplicated(keep="last")]


def _summ(draws: np.ndarray) -> dict[str, float]:
    row = interval_summary(xr.DataArray(np.asarray(draws, dtype=float), dims=[SAMPLE]), SAMPLE)
    return {k: float(v) for k, v in row.iloc[0].items()}


def headline(tree: xr.DataTree, declared_exports: pd.Series | None = None) -> dict[str, Any]:
    """The hidden inflow of the latest fitted month and of the current quarter (its fitted
    months), in USD, with the share of declared goods exports where those are known."""
    da = tree["posterior"]["hidden_inflow_usd"].stack({SAMPLE: POSTERIOR_DIMS})
    inflow = da.transpose(SAMPLE, MONTH).values
    months = months_of(da[MONTH].values)
    exports = declared_exports_of(tree, declared_exports)
    latest = months[-1]
    quarter = latest.to_period("Q")
    in_q = np.asarray(months.to_period("Q") == quarter)
    q_months = months[in_q]
    q_draws = inflow[:, in_q].sum(axis=1)
    out: dict[str, Any] = {
        "latest_month": {"month": f"{latest:%Y-%m}", **_summ(inflow[:, -1])},
        "quarter": {
            "quarter": str(quarter),
            "months": [f"{m:%Y-%m}" for m in q_months],
            "complete": bool(len(q_months) == 3),
            **_summ(q_draws),
        },
    }

    def share(draws: np.ndarray, wanted: pd.DatetimeIndex) -> dict[str, Any] | None:
        if not all(m in exports.index for m in wanted):
            return None
        total = float(exports.loc[list(wanted)].sum()) * 1e9
        return {"declared_exports_usd": total, **_summ(draws / total)}

    out["latest_month"]["share_of_declared_exports"] = share(
        inflow[:, -1], pd.DatetimeIndex([latest])
    )
    out["quarter"]["share_of_declared_exports"] = share(q_draws, q_months)
    out["declared_exports_missing"] = [f"{m:%Y-%m}" for m in q_months if m not in exports.index]
    return out


def ragged_edge_start(panel: xr.Dataset) -> pd.Timestamp | None:
    """The first month after the last month with any published electricity or balance-of-
    payments figure (``None`` when such figures reach the panel's end or do not exist)."""
    months = months_of(panel[MONTH].values)
    edge = ragged_edge(panel)
    kinds = edge["series"].str.startswith("bop_") | (
        edge["series"].str.contains("electricity") & ~edge["series"].str.startswith("mining_")
    )
    last = edge.loc[kinds, "last_month"].dropna()
    if last.empty:
        return None
    start = pd.Timestamp(last.max()) + pd.offsets.MonthBegin(1)
    return start if start <= months[-1] else None


def plain(v: Any) -> Any:
    """NumPy scalars and arrays to Python values, for JSON."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def metadata(tree: xr.DataTree) -> dict[str, Any]:
    """The run's provenance attributes as plain values (without the spec's JSON; the list of
    free variables decoded)."""
    out = {k: plain(v) for k, v in tree.attrs.items() if k != "spec_json"}
    if isinstance(out.get("free_variables"), str):
        try:
            out["free_variables"] = json.loads(out["free_variables"])
        except json.JSONDecodeError:
            pass  # shown as stored: provenance is reported, not validated, here
    return out
