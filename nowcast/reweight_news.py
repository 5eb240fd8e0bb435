"""The news of an update: the releases of a batch (``releases``: what each file brought, as
drivers and evidence, new figures and revisions), exact Shapley values over them and the
revision table that splits each headline target's change between them (``explain``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nowcast.forecast import ForecastPaths
from nowcast.model.data import DRIVERS, FIGURE_KEY, ModelData
from nowcast.model.evidence import REGISTRY
from nowcast.reweight_draws import (
    FLAT_LOG_RATIO,
    normalised,
    psis,
    same_labels,
    weighted_quantile,
)

# Exact Shapley values need every subset of releases; beyond this many, releases of one file
# are merged into one (2^12 subsets is about a second).
MAX_PLAYERS = 12
# model driver (``ModelData.drivers``) -> forecast driver (``ForecastPaths.drivers``)
FORECAST_DRIVER = {
    "hashrate_eh_s": "btc_hashrate_eh_s",
    "network_revenue_usd": "network_revenue_usd",
    "issuance_btc": "issuance_btc",
    "usd_rub": "usd_rub",
    "brent_usd_per_bbl": "brent_usd_per_bbl",
    "key_rate_pct": "key_rate_pct",
}


# --------------------------------------------------------------------------- releases


@dataclass
class Release:
    """One player of the news: what one file (or the figures stored before the batch) brought,
    split into drivers and evidence and into figures new to the store and revisions."""

    label: str
    kind: str  # "new" or "revised"
    role: str  # "drivers" or "evidence"
    file: str = ""
    drivers: dict[str, pd.Series] = field(default_factory=dict)  # forecast driver -> by month
    revised_months: list[pd.Timestamp] = field(default_factory=list)  # past months re-derived
    log_lik: np.ndarray | None = None  # per draw: log likelihood this release adds

    @property
    def name(self) -> str:
        return f"{self.label} [{self.role}, {self.kind}]"


def _store_series(label_series: str) -> str:
    from nowcast.panel import GRID

    rule = GRID.get(label_series)
    return rule.series if rule is not None else label_series


def _labels(data: ModelData, kind: str) -> pd.DataFrame:
    block = data.blocks.get(kind)
    if block is None or not block.n:
        return pd.DataFrame(columns=[*FIGURE_KEY, "value"])
    lab = block.labels.copy()
    lab["value"] = np.asarray(block.values, dtype=float)
    return lab.reset_index(drop=True)


def _owner(row: pd.Series, batch_rows: pd.DataFrame) -> int | None:
    """The batch ingest that brought the figures behind an observation: a row of the same
    series, region and observer whose period lies inside the observation's (a daily rate inside
    a month's move), the latest ingest first."""
    if batch_rows.empty:
        return None
    series = _store_series(str(row["series"]))
    m = batch_rows[
        (batch_rows["series"] == series)
        & (batch_rows["region"] == row["region"])
        & (batch_rows["period_start"] >= row["period_start"])
        & (batch_rows["period_end"] <= row["period_end"])
    ]
    if m.empty:
        return None
    same_observer = m[m["observer"] == row["observer"]]
    m = same_observer if not same_observer.empty else m
    return int(m["ingest_id"].max())


def releases(
    old: ModelData,
    new: ModelData,
    ll_old: dict[str, np.ndarray],
    ll_new: dict[str, np.ndarray],
    batch_rows: pd.DataFrame,
    files: dict[int, str],
    batch: Sequence[int] | None = None,
) -> list[Release]:
    """The players of the news, from what changed between the previous and the new model
    data: driver months (new to the window, or revised) and observations (new, revised,
    gone), each given to the ingest whose figures it rests on (``batch_rows``: store rows
    with ``ingest_id``; ``files``: ingest id -> file name; ``batch``: the ingests of this
    update, default all in ``files``). Figures an earlier update stored that enter the model
    only now are named as such. Every
    observation's log likelihood change is in exactly one player, so the players' sum is
    the full log importance ratio."""
    players: dict[tuple, Release] = {}
    batch = set(batch) if batch is not None else set(files)

    def player(ingest: int | None, role: str, kind: str) -> Release:
        key = (ingest, role, kind)
        if key not in players:
            if ingest is None:
                label = "figures stored before this update, now inside the nowcast's window"
            elif ingest in batch:
                label = files.get(ingest, f"ingest {ingest}")
            else:  # stored by an earlier update, waiting for the window to reach it
                label = f"{files.get(ingest, f'ingest {ingest}')} (stored earlier)"
            players[key] = Release(label=label, kind=kind, role=role, file=label)
        return players[key]

    # --- drivers: months new to the window and revised months
    n_draws = next(iter(ll_new.values())).shape[0] if ll_new else 0
    old_months = old.months
    for name, values in new.drivers.items():
        series = _store_series(DRIVERS[name])
        rows = batch_rows[batch_rows["series"] == series] if not batch_rows.empty else batch_rows
        prev = pd.Series(old.drivers[name], index=old_months)
        for j, month in enumerate(new.months):
            value = float(values[j])
            if month in prev.index and np.isclose(prev[month], value, rtol=1e-12, atol=0.0):
                continue
            kind = "revised" if month in prev.index else "new"
            inside = (
                rows[
                    (rows["period_start"] >= month)
                    & (rows["period_end"] <= month + pd.offsets.MonthEnd(0))
                ]
                if not rows.empty
                else rows
            )
            ingest = int(inside["ingest_id"].max()) if not inside.empty else None
            rel = player(ingest, "drivers", kind)
            rel.drivers.setdefault(FORECAST_DRIVER[name], pd.Series(dtype=float))
            rel.drivers[FORECAST_DRIVER[name]][month] = value
            if kind == "revised":
                rel.revised_months.append(month)

    # --- evidence
    leftover = np.zeros(n_draws)
    for kind in REGISTRY.values():
        obs = kind.observed_name
        lo = _labels(old, kind.name) if obs in ll_old else _labels(old, "")
        ln = _labels(new, kind.name) if obs in ll_new else _labels(new, "")
        if (
            obs in ll_old
            and obs in ll_new
            and np.array_equal(ll_old[obs], ll_new[obs])
            and same_labels(lo, ln)
        ):
            continue  # the same figures, the same log likelihood at every draw: nothing moved
        lo["_i"], ln["_i"] = range(len(lo)), range(len(ln))
        both = ln.merge(lo, on=FIGURE_KEY, how="outer", suffixes=("", "_old"), indicator=True)
        for _, row in both.iterrows():
            if row["_merge"] == "right_only":  # gone from the model
                rel = player(_owner(row, batch_rows), "evidence", "revised")
                term = -ll_old[obs][:, int(row["_i_old"])]
            else:
                diff = ll_new[obs][:, int(row["_i"])]
                if row["_merge"] == "both":
                    diff = diff - ll_old[obs][:, int(row["_i_old"])]
                    if np.isclose(row["value"], row["value_old"], rtol=1e-12, atol=0.0):
                        leftover += diff  # unchanged figure: moves only with revised drivers
                        continue
                    status = "revised"
                else:
                    status = "new"
                rel = player(_owner(row, batch_rows), "evidence", status)
                term = diff
            rel.log_lik = term.copy() if rel.log_lik is None else rel.log_lik + term
    out = list(players.values())
    if np.max(np.abs(leftover), initial=0.0) > 1e-8:
        # unchanged figures whose fit moved: through revised drivers, else on their own
        target = next((r for r in out if r.role == "drivers" and r.kind == "revised"), None)
        if target is None:
            target = player(None, "evidence", "revised")
            out = list(players.values())
        target.log_lik = leftover if target.log_lik is None else target.log_lik + leftover
    elif out:
        first = out[0]
        first.log_lik = leftover if first.log_lik is None else first.log_lik + leftover
    for rel in out:
        if rel.log_lik is None:
            rel.log_lik = np.zeros(n_draws)
    return _merge_if_many(out)


def _merge_if_many(players: list[Release]) -> list[Release]:
    if len(players) <= MAX_PLAYERS:
        return players
    by_file: dict[str, Release] = {}
    for p in players:
        merged = by_file.get(p.file)
        if merged is None:
            by_file[p.file] = Release(
                p.label,
                p.kind,
                "all",
                p.file,
                dict(p.drivers),
                list(p.revised_months),
                p.log_lik.copy(),
            )
            continue
        merged.kind = "revised" if "revised" in (merged.kind, p.kind) else "new"
        for k, v in p.drivers.items():
            merged.drivers[k] = pd.concat([merged.drivers.get(k, pd.Series(dtype=float)), v])
        merged.revised_months += p.revised_months
        merged.log_lik = merged.log_lik + p.log_lik
    return list(by_file.values())


# --------------------------------------------------------------------------- news


@dataclass(frozen=True)
class Target:
    """A headline target: the inflow summed over ``months`` (one month or a quarter)."""

    label: str  # "2025-07" or "2025Q3"
    months: pd.DatetimeIndex


def headline_targets(last_month: pd.Timestamp) -> list[Target]:
    """The latest month and the quarter that holds it."""
    last = pd.Timestamp(last_month)
    q = last.to_period("Q")
    quarter = pd.period_range(q.start_time, q.end_time, freq="M").to_timestamp()
    return [Target(f"{last:%Y-%m}", pd.DatetimeIndex([last])), Target(str(q), quarter)]


def summary(draws: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float]:
    """Median and the 80% interval's width of draws (USD)."""
    lo, med, hi = weighted_quantile(draws, (0.1, 0.5, 0.9), weights)
    return float(med), float(hi - lo)


def shapley(n: int, value: Callable[[int], np.ndarray]) -> np.ndarray:
    """Exact Shapley values of ``n`` players for a vector-valued game: ``value(mask)`` is the
    value of the coalition whose members are the set bits of ``mask``. Every coalition is
    evaluated once."""
    values = {mask: np.asarray(value(mask), dtype=float) for mask in range(1 << n)}
    phi = np.zeros((n, *values[0].shape))
    fact = [math.factorial(i) for i in range(n + 1)]
    for i in range(n):
        bit = 1 << i
        for mask, v in values.items():
            if mask & bit:
                continue
            size = bin(mask).count("1")
            weight = fact[size] * fact[n - size - 1] / fact[n]
            phi[i] += weight * (values[mask | bit] - v)
    return phi


@dataclass
class NewsInputs:
    """What ``explain`` needs: the draws to weight and how to get the targets' draws for any
    set of driver releases."""

    players: list[Release]
    # (mask over driver players) -> {month: inflow draws in USD}
    month_draws: Callable[[frozenset[int]], dict[pd.Timestamp, np.ndarray]]
    # log weight subtracted from every coalition's (the whole batch's for backward attribution)
    offset: np.ndarray | None = None
    smooth: bool = True


def explain(
    inputs: NewsInputs,
    targets: list[Target],
    previous: dict[str, tuple[float, float]],
    current: dict[str, tuple[float, float]],
    residual_label: str,
) -> pd.DataFrame:
    """The revision table: for each target, each release's exact Shapley share of the change
    in the median and in the 80% interval's width (USD), a row for what reweighting cannot
    assign (``residual_label``) and a ``total`` row equal to their sums, which is the change
    from ``previous`` to ``current`` (target label -> (median, width))."""
    players = inputs.players
    n = len(players)
    driver_players = [i for i, p in enumerate(players) if p.drivers or p.revised_months]
    ll = np.stack([p.log_lik for p in players]) if n else np.zeros((0, 0))
    cache: dict[frozenset[int], dict[pd.Timestamp, np.ndarray]] = {}

    def draws_for(mask: int) -> dict[pd.Timestamp, np.ndarray]:
        key = frozenset(i for i in driver_players if mask >> i & 1)
        if key not in cache:
            cache[key] = inputs.month_draws(key)
        return cache[key]

    def value(mask: int) -> np.ndarray:
        members = [i for i in range(n) if mask >> i & 1]
        log_w = ll[members].sum(axis=0) if members else np.zeros(ll.shape[1] if n else 0)
        if inputs.offset is not None:
            log_w = log_w - inputs.offset
        weights = None
        if log_w.size and np.ptp(log_w) >= FLAT_LOG_RATIO:
            lw = psis(log_w)[0] if inputs.smooth else log_w
            weights = normalised(lw)
        month = draws_for(mask)
        out = []
        for t in targets:
            total = np.sum([month[m] for m in t.months], axis=0)
            out.extend(summary(total, weights))
        return np.array(out)

    phi = shapley(n, value) if n else np.zeros((0, 2 * len(targets)))
    grand = value((1 << n) - 1)
    empty = value(0)
    rows = []
    for ti, t in enumerate(targets):
        cols = slice(2 * ti, 2 * ti + 2)
        # a target the previous nowcast did not estimate (a quarter it did not reach) starts
        # from what its draws and paths say, the empty coalition
        prev_med, prev_width = previous.get(t.label, (empty[2 * ti], empty[2 * ti + 1]))
        cur_med, cur_width = current.get(t.label, (grand[2 * ti], grand[2 * ti + 1]))
        for i, p in enumerate(players):
            rows.append(_row(t, p.name, p.kind, *phi[i, cols]))
        # what the subsets cannot assign: the empty coalition against the previous nowcast,
        # and the saved posterior against the grand coalition
        rest_med = (empty[2 * ti] - prev_med) + (cur_med - grand[2 * ti])
        rest_width = (empty[2 * ti + 1] - prev_width) + (cur_width - grand[2 * ti + 1])
        rows.append(_row(t, residual_label, "other", rest_med, rest_width))
        part = [r for r in rows if r["target"] == t.label]
        rows.append(
            _row(
                t,
                "total",
                "total",
                float(sum(r["d_median_usd"] for r in part)),
                float(sum(r["d_width80_usd"] for r in part)),
            )
        )
    return pd.DataFrame(rows)


def _row(t: Target, release: str, kind: str, d_median: float, d_width: float) -> dict:
    return {
        "target": t.label,
        "release": release,
        "kind": kind,
        "d_median_usd": float(d_median),
        "d_width80_usd": float(d_width),
    }


def paths_for(
    paths: ForecastPaths, players: list[Release], members: frozenset[int]
) -> ForecastPaths:
    """Forecast paths with the drivers of the releases ``members`` in place of simulated ones."""
    known: dict[str, pd.Series] = {}
    for i in sorted(members):
        for name, values in players[i].drivers.items():
            known[name] = pd.concat([known.get(name, pd.Series(dtype=float)), values])
    return paths.with_drivers(known) if known else paths
