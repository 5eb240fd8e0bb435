"""A nowcast in the history: its estimates of every month and quarter it covers
(``nowcast_estimates``), what the previous nowcast said of the same targets, and the record
the store keeps of it (``nowcast_record``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import MONTH
from nowcast.fit_draws import flat_draws
from nowcast.forecast import SAMPLE
from nowcast.intervals import interval_summary

HEADLINE_QUANTITY = "hidden_inflow_usd"


def month_draws(tree: xr.DataTree, baseline: xr.Dataset | None) -> dict[pd.Timestamp, tuple]:
    """Each month's hidden inflow draws (USD) and status: fitted months from the posterior,
    later months from the baseline forecast (same draw order)."""
    post = tree["posterior"][HEADLINE_QUANTITY]
    months = pd.DatetimeIndex(post[MONTH].values)
    draws = flat_draws(tree["posterior"].to_dataset(), [HEADLINE_QUANTITY])[HEADLINE_QUANTITY]
    out = {m: (draws[:, j], "fitted") for j, m in enumerate(months)}
    if baseline is not None:
        fc = baseline[HEADLINE_QUANTITY].transpose(SAMPLE, MONTH)
        for j, m in enumerate(pd.DatetimeIndex(fc[MONTH].values)):
            out[m] = (fc.values[:, j], "forecast")
    return out


def nowcast_estimates(tree: xr.DataTree, baseline: xr.Dataset | None) -> pd.DataFrame:
    """The history's estimates of one nowcast: the hidden inflow (USD per month) of every
    month (fitted or forecast) and of every quarter whose months it all covers, with mean,
    median and 80% and 95% intervals (``interval_summary``, so the report agrees)."""
    draws = month_draws(tree, baseline)
    months = sorted(draws)
    rows = []
    targets: list[tuple[str, str, list[pd.Timestamp]]] = [
        (f"{m:%Y-%m}", "month", [m]) for m in months
    ]
    for q in sorted({m.to_period("Q") for m in months}):
        qm = list(pd.period_range(q.start_time, q.end_time, freq="M").to_timestamp())
        if all(m in draws for m in qm):
            targets.append((str(q), "quarter", qm))
    # every target's draws summarised at once (a call per target took 0.25-0.32 s of an update)
    totals = np.stack([np.sum([draws[m][0] for m in ms], axis=0) for _, _, ms in targets])
    summary = interval_summary(xr.DataArray(totals, dims=["target", SAMPLE]), SAMPLE)
    for (label, freq, ms), (_, s) in zip(targets, summary.iterrows(), strict=True):
        status = "forecast" if any(draws[m][1] == "forecast" for m in ms) else "fitted"
        rows.append(
            {
                "target": label,
                "freq": freq,
                "period_start": ms[0],
                "period_end": ms[-1] + pd.offsets.MonthEnd(0),
                "status": status,
                "quantity": HEADLINE_QUANTITY,
                "mean": float(s["mean"]),
                "median": float(s["median"]),
                "lower_80": float(s["lower_80"]),
                "upper_80": float(s["upper_80"]),
                "lower_95": float(s["lower_95"]),
                "upper_95": float(s["upper_95"]),
            }
        )
    return pd.DataFrame(rows)


def target_values(estimates: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Target label -> (median, 80% interval width) of a nowcast's estimates."""
    return {
        str(r.target): (float(r.median), float(r.upper_80 - r.lower_80))
        for r in estimates.itertuples()
    }


def _previous_targets(
    st: Any, nowcast_id: int, labels: list[str]
) -> dict[str, tuple[float, float]]:
    """What the previous nowcast said about each target (its forecast if it lay ahead)."""
    out = {}
    for label in labels:
        rows = st.estimates(label)
        rows = rows[rows["nowcast_id"] == nowcast_id]
        if len(rows):
            r = rows.iloc[-1]
            out[label] = (float(r["median"]), float(r["upper_80"] - r["lower_80"]))
    return out


def history_with(st: Any, estimates: pd.DataFrame, tree: xr.DataTree, path: str) -> pd.DataFrame:
    """The recorded estimates of this nowcast's latest month, and this nowcast's own (not
    recorded yet: it is recorded once its report is written) as the last row."""
    from datetime import UTC, datetime

    month = f"{pd.Timestamp(tree['posterior'][MONTH].values[-1]):%Y-%m}"
    past = st.estimates(month)
    mine = estimates[estimates["target"] == month].assign(
        nowcast_id=int(past["nowcast_id"].max()) + 1 if len(past) else 1,
        recorded_at=pd.Timestamp(datetime.now(UTC).replace(tzinfo=None)),
        data_as_of=str(tree.attrs.get("data_as_of", "") or "latest"),
        data_kind=str(tree.attrs.get("data_kind", "real")),
        spec_name=str(tree.attrs.get("model", "")),
        path=path,
    )
    return pd.concat([past, mine[past.columns]] if len(past) else [mine], ignore_index=True)


def nowcast_record(
    tree: xr.DataTree,
    run_path: Path,
    estimates: pd.DataFrame,
    path: str,
    last_ingest_id: int,
    *,
    pareto_k: float | None = None,
    ess: float | None = None,
    note: str = "",
) -> Any:
    """The history's record of a nowcast."""
    from datetime import UTC, datetime

    from nowcast.store import NowcastRecord

    return NowcastRecord(
        recorded_at=datetime.now(UTC).replace(tzinfo=None),
        run_path=str(run_path),
        data_as_of=str(tree.attrs.get("data_as_of", "") or "latest"),
        last_ingest_id=int(last_ingest_id),
        fitted_through=pd.Timestamp(tree["posterior"][MONTH].values[-1]),
        spec_name=str(tree.attrs.get("model", "")),
        spec_hash=str(tree.attrs.get("spec_hash", "")),
        data_kind=str(tree.attrs.get("data_kind", "real")),
        path=path,
        pareto_k=pareto_k,
        ess=ess,
        note=note,
        estimates=estimates,
    )
