"""Updating a nowcast as data lands: the previous posterior carried into the new data by
importance weights, and the revision of the headline explained release by release.

**Carrying forward** (``carry_forward``). The last run's draws are draws of the same model on
fewer months. Each draw is pushed through the model's own transitions for the months the new
data add (the share's AR(1) with the innovations its forecast used, a new year's effect from
its prior), so the carried draws come from the prior of the extended model given the old data.
The new model (built by the same code on the new panel) then gives every derived quantity and
the log likelihood of every observation at those draws, and the old model the same at the old
draws. Their difference, summed, is each draw's log importance weight: it adds the new
figures, swaps revised figures for their new values and takes out figures that left the
model. The weights are Pareto-smoothed (arviz's PSIS); with k at most ``PARETO_K_MAX`` the
reweighted draws are the new posterior, saved as a systematic resample so every downstream
tool reads it like a fit. A change of the model's structure (another spec, a new region, a
share run split by a new CBECI month) is detected, never guessed: the update then refits.

**News** (``explain``). The revision of each headline target (the latest month's inflow and
the current quarter's) is split between the releases of the batch by their exact Shapley
values: for any subset of releases the target is computed from the drivers of the releases in
the subset (forecast paths for the others) and the draws weighted by the likelihood of the
subset's observations, each release's log likelihood computed once per draw. The parts add up
to the total whatever the order. What reweighting cannot assign (resampling noise; after a
refit, the difference between two MCMC runs) is a row of its own, so the rows still add up to
the change between the two recorded nowcasts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from nowcast.constants import CHAIN, DRAW, MONTH
from nowcast.fit import DrawValues, flat_draws
from nowcast.forecast import ForecastPaths, push_forward, stacked_posterior
from nowcast.model.data import DRIVERS, FIGURE_KEY, ModelData
from nowcast.model.evidence import REGISTRY

PARETO_K_MAX = 0.7
# log importance ratios varying less than this are equal (floating-point rounding)
FLAT_LOG_RATIO = 1e-9
# Exact Shapley values need every subset of releases; beyond this many, releases of one file
# are merged into one (2^12 subsets is about a second).
MAX_PLAYERS = 12
SHARE_INNOVATIONS = "share_logit_step_z"
# model driver (``ModelData.drivers``) -> forecast driver (``ForecastPaths.drivers``)
FORECAST_DRIVER = {
    "hashrate_eh_s": "btc_hashrate_eh_s",
    "network_revenue_usd": "network_revenue_usd",
    "issuance_btc": "issuance_btc",
    "usd_rub": "usd_rub",
    "brent_usd_per_bbl": "brent_usd_per_bbl",
    "key_rate_pct": "key_rate_pct",
}


class RefitNeeded(Exception):
    """The previous draws cannot be carried into the new model; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- draws


def posterior_draws(
    tree: xr.DataTree, names: Sequence[str] | None = None, group: str = "posterior"
) -> dict[str, np.ndarray]:
    """Posterior (or ``group``) variables with (chain, draw) flattened into one leading
    axis, chain-major (the order of ``forecast.stacked_posterior``)."""
    return flat_draws(tree[group].to_dataset(), names)


def _is_standard_normal(rv: object) -> bool:
    """True for a ``Normal(0, 1)`` free variable: an innovation or a standardised effect,
    whose new elements are drawn from their prior when the model grows."""
    from pytensor.tensor.basic import NotScalarConstantError, get_underlying_scalar_constant_value
    from pytensor.tensor.random.basic import NormalRV

    node = rv.owner  # type: ignore[attr-defined]
    if node is None or not isinstance(node.op, NormalRV):
        return False
    try:
        mu, sigma = (float(get_underlying_scalar_constant_value(x)) for x in node.inputs[-2:])
    except NotScalarConstantError:  # a parameter that is not a constant
        return False
    return mu == 0.0 and sigma == 1.0


def free_shapes(model: pm.Model) -> dict[str, tuple[int, ...]]:
    """Each free variable's shape, from one compiled function (dims may be data)."""
    import pytensor

    free = list(model.free_RVs)
    shapes = pytensor.function([], [rv.shape for rv in free], on_unused_input="ignore")()
    return {rv.name: tuple(int(x) for x in sh) for rv, sh in zip(free, shapes, strict=True)}


def carry_forward(
    prev: xr.DataTree,
    model: pm.Model,
    new_months: pd.DatetimeIndex,
    share_innovations: np.ndarray,
    rng: np.random.Generator,
    group: str = "posterior",
) -> dict[str, np.ndarray]:
    """The previous run's draws as draws of ``model``'s free variables: variables of the same
    shape are copied; the share walk's innovations for ``new_months`` (the months after the
    previous window) are ``share_innovations[:, :len(new_months)]`` (the forecast's, so the
    carried share path is the one the previous nowcast forecast); other standard normal
    effects that grow (a new year's) are drawn from their prior. Raises ``RefitNeeded`` when
    the model's structure changed. ``group="prior"`` carries the run's prior draws instead
    (``share_innovations`` then fresh draws): prior draws of the larger model."""
    old = posterior_draws(prev, group=group)
    n = next(iter(old.values())).shape[0]
    k = len(new_months)
    if share_innovations.shape[0] != n or share_innovations.shape[1] < k:
        raise ValueError("share_innovations must have one row per draw and a column per new month")
    values: dict[str, np.ndarray] = {}
    names = {rv.name for rv in model.free_RVs}
    previous_free = _free_names(prev)
    gone = [v for v in previous_free if v not in names]
    if gone:
        raise RefitNeeded(f"the model no longer has {gone}: its structure changed")
    shapes = free_shapes(model)
    for rv in model.free_RVs:
        shape = shapes[rv.name]
        standard = _is_standard_normal(rv)
        innovation = rv.name.startswith(SHARE_INNOVATIONS)
        if rv.name not in old:
            if standard and innovation and shape == (k,):
                values[rv.name] = share_innovations[:, :k].copy()
                continue
            raise RefitNeeded(f"new free variable {rv.name} {shape}: the model's structure changed")
        arr = old[rv.name]
        if arr.shape[1:] == shape:
            values[rv.name] = arr
            continue
        grows = (
            len(shape) == arr.ndim - 1
            and len(shape) >= 1
            and shape[0] > arr.shape[1]
            and shape[1:] == arr.shape[2:]
        )
        if not (grows and standard):
            raise RefitNeeded(
                f"{rv.name} changed shape from {arr.shape[1:]} to {shape}: the model's"
                " structure changed"
            )
        extra = shape[0] - arr.shape[1]
        if innovation:
            if extra != k:
                raise RefitNeeded(f"{rv.name} grew by {extra} months, the window by {k}")
            tail = share_innovations[:, :k]
        else:
            tail = rng.standard_normal((n, extra, *shape[1:]))
        values[rv.name] = np.concatenate([arr, tail], axis=1)
    return values


def _free_names(tree: xr.DataTree) -> list[str]:
    from nowcast.fit import free_variables

    names = free_variables(tree)
    if names is None:
        raise RefitNeeded("the previous run does not record its free variables")
    return names


def check_same_draws(
    prev: xr.DataTree, deterministics: dict[str, np.ndarray], months: pd.DatetimeIndex
) -> None:
    """The carried draws must reproduce the previous run's latent share path on the months
    both windows hold; otherwise the model's structure changed under the same names."""
    old = posterior_draws(prev, ["share_logit"])["share_logit"]
    old_months = pd.DatetimeIndex(prev["posterior"][MONTH].values)
    idx = months.get_indexer(old_months)
    if (idx < 0).any():
        raise RefitNeeded("the new window does not contain the previous one")
    new = deterministics["share_logit"][:, idx]
    gap = float(np.max(np.abs(new - old))) if old.size else 0.0
    if not gap <= 1e-6:
        raise RefitNeeded(f"carried draws move the share's past path by up to {gap:.2g} (logit)")


# --------------------------------------------------------------------------- weights


def psis(log_ratio: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed normalised log weights and Pareto k of raw log importance ratios
    (arviz's PSIS over one sample axis)."""
    import arviz_stats  # noqa: F401  (registers the azstats accessor)

    lr = np.asarray(log_ratio, dtype=float)
    if not np.all(np.isfinite(lr)):
        raise RefitNeeded("some draws give the new data zero likelihood")
    if np.ptp(lr) < FLAT_LOG_RATIO:  # nothing the likelihood sees changed (rounding only)
        return np.full(len(lr), -np.log(len(lr))), 0.0
    # arviz's psislw takes the log likelihood of a left-out figure, whose importance weights
    # are its inverse (PSIS-LOO): negated here, the weights are exp(log_ratio)
    da = xr.DataArray(lr.max() - lr, dims=["sample"])
    try:
        log_w, k = da.azstats.psislw(dim="sample")
    except ValueError:  # the tail is one draw repeated: all weight on a single draw
        return lr - np.log(np.sum(np.exp(lr - lr.max()))) - lr.max(), float("inf")
    k = float(k)
    # no tail to fit (a handful of draws carry all the weight) is as bad as it gets
    return np.asarray(log_w.values, dtype=float), k if np.isfinite(k) else float("inf")


def normalised(log_w: np.ndarray) -> np.ndarray:
    """Weights summing to one from log weights."""
    w = np.exp(log_w - np.max(log_w))
    return w / w.sum()


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of normalised weights."""
    return float(1.0 / np.sum(weights**2))


def systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of a systematic resample of ``len(weights)`` draws (each draw copied
    ``floor`` or ``ceil`` of n x its weight times: the least noisy of the simple schemes)."""
    n = len(weights)
    positions = (rng.uniform() + np.arange(n)) / n
    cum = np.cumsum(weights)
    cum[-1] = 1.0
    return np.searchsorted(cum, positions, side="right").clip(0, n - 1)


def ordered_resample(weights: np.ndarray, key: np.ndarray, seed: int) -> np.ndarray:
    """Indices of a systematic resample taken along the draws sorted by ``key`` (the
    headline), then shuffled: the resample's distribution of ``key`` is then within 1/n of
    the weighted one at every quantile, the least the headline can move by resampling."""
    rng = np.random.default_rng(seed + 11)
    order = np.argsort(key, kind="stable")
    picked = order[systematic_resample(weights[order], rng)]
    return rng.permutation(picked)


def weighted_quantile(values: np.ndarray, q: Sequence[float], weights: np.ndarray | None = None):
    """Quantiles ``q`` of draws with weights; with equal weights exactly ``np.quantile``'s
    default (linear) definition, so weighted and unweighted summaries agree."""
    x = np.asarray(values, dtype=float)
    if weights is None:
        return np.quantile(x, q)
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], np.asarray(weights, dtype=float)[order]
    before = np.concatenate([[0.0], np.cumsum(ws)[:-1]])
    position = before / before[-1]
    return np.interp(q, position, xs)


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


def forward_month_draws(
    prev: xr.DataTree,
    paths: ForecastPaths,
    players: list[Release],
    legalisation: str,
    carried_inflow: dict[pd.Timestamp, np.ndarray],
    months_needed: pd.DatetimeIndex,
) -> Callable[[frozenset[int]], dict[pd.Timestamp, np.ndarray]]:
    """``NewsInputs.month_draws`` for the fast path: past months from the previous posterior
    (or, where a release in the set revised their drivers, the carried draws' new values),
    later months pushed forward from the previous draws under the set's drivers."""
    post = stacked_posterior(prev)
    panel = prev["panel"].to_dataset()
    old_inflow = posterior_draws(prev, ["hidden_inflow_usd"])["hidden_inflow_usd"]
    old_months = pd.DatetimeIndex(prev["posterior"][MONTH].values)

    def month_draws(members: frozenset[int]) -> dict[pd.Timestamp, np.ndarray]:
        revised = {m for i in members for m in players[i].revised_months}
        out: dict[pd.Timestamp, np.ndarray] = {}
        ahead = [m for m in months_needed if m not in old_months]
        if ahead:
            horizon = paths.months.get_loc(max(ahead)) + 1
            pushed = push_forward(
                post, panel, paths_for(paths, players, members).head(horizon), legalisation
            )["hidden_inflow_usd_bn"]
            for m in ahead:
                out[m] = pushed[:, paths.months.get_loc(m)] * 1e9
        for m in months_needed:
            if m in old_months:
                if m in revised and m in carried_inflow:
                    out[m] = carried_inflow[m]
                else:
                    out[m] = old_inflow[:, old_months.get_loc(m)]
        return out

    return month_draws


# --------------------------------------------------------------------------- the fast path


@dataclass
class FastUpdate:
    """The previous posterior carried into the new data and reweighted."""

    tree: xr.DataTree  # the new posterior: a systematic resample of the weighted draws
    pareto_k: float
    ess: float  # effective sample size of the smoothed weights
    players: list[Release]
    news: NewsInputs
    new_months: pd.DatetimeIndex
    # the previous forecast's paths for the months after the new window, started from the
    # new data and reordered like the resampled draws: the updated forecast continues them
    forecast_paths: ForecastPaths
    model: pm.Model  # the new model (its dims name the log likelihood's)
    values: DrawValues  # log densities at the new posterior's draws, for identification


def extended_paths(
    prev: xr.DataTree,
    months_ahead: int,
    horizon: int,
    seed: int,
    saved: ForecastPaths | None = None,
) -> ForecastPaths:
    """The paths of the previous nowcast's forecast (``saved``, the run's
    ``forecast_paths.nc``; else drawn again from its seed, which reproduces a forecast made by
    ``forecast``), continued to ``months_ahead`` months when the update needs more."""
    from nowcast.forecast import draw_paths

    n_months = max(horizon, months_ahead, 1)
    n_draws = prev["posterior"].sizes[CHAIN] * prev["posterior"].sizes[DRAW]
    fresh = draw_paths(prev, n_months, seed=seed)
    if saved is None or saved.share_innovations.shape[0] != n_draws:
        return fresh
    if not saved.months[:1].equals(fresh.months[:1]):
        return fresh
    return saved.extended_by(fresh)


def old_log_likelihood(
    prev: xr.DataTree, saved: xr.Dataset | None = None
) -> tuple[ModelData, dict[str, np.ndarray]]:
    """The previous run's model data and the log likelihood of each of its observations at
    each of its draws: ``saved`` (the run's ``log_likelihood.nc``) when given and complete,
    else the previous model rebuilt and evaluated."""
    from nowcast.fit import evaluate_draws
    from nowcast.model.build import build_model
    from nowcast.model.data import prepare
    from nowcast.model.spec import spec_of

    spec = spec_of(prev)
    data = prepare(prev["panel"].to_dataset(), spec)
    expected = {
        REGISTRY[k].observed_name
        for k, b in data.blocks.items()
        if b.n and spec.uses(REGISTRY[k].switch)
    }
    post = prev["posterior"]
    if (
        saved is not None
        and set(map(str, saved.data_vars)) == expected
        and saved.sizes.get(CHAIN) == post.sizes[CHAIN]
        and saved.sizes.get(DRAW) == post.sizes[DRAW]
    ):
        return data, flat_draws(saved)
    model = build_model(spec, data)
    _, ll_old = evaluate_draws(model, posterior_draws(prev, _free_names(prev)))
    return data, ll_old


def fast_update(
    prev: xr.DataTree,
    panel: xr.Dataset,
    batch_rows: pd.DataFrame,
    files: dict[int, str],
    *,
    horizon: int,
    seed: int,
    batch: Sequence[int] | None = None,
    saved_log_likelihood: xr.Dataset | None = None,
    saved_paths: ForecastPaths | None = None,
) -> FastUpdate:
    """Carry ``prev`` into ``panel`` (the new data, same spec) and reweight its draws by the
    likelihood of what changed. Raises ``RefitNeeded`` when that cannot stand for a fit:
    another model structure, or Pareto k above ``PARETO_K_MAX``."""
    from nowcast.fit import draws_dataset, draws_evaluator, run_tree
    from nowcast.model.build import build_model
    from nowcast.model.data import prepare
    from nowcast.model.spec import spec_of

    spec = spec_of(prev)
    data_new = prepare(panel, spec)
    old_months = pd.DatetimeIndex(prev["posterior"][MONTH].values)
    if len(data_new.months) < len(old_months) or data_new.months[0] != old_months[0]:
        raise RefitNeeded(
            f"the window moved ({data_new.months[0]:%Y-%m} to {data_new.months[-1]:%Y-%m},"
            f" was {old_months[0]:%Y-%m} to {old_months[-1]:%Y-%m})"
        )
    new_months = data_new.months[len(old_months) :]
    model = build_model(spec, data_new)
    needed = max(
        _months_after(old_months[-1], t.months[-1]) for t in headline_targets(data_new.months[-1])
    )
    paths = extended_paths(prev, max(needed, len(new_months) + horizon), horizon, seed, saved_paths)
    rng = np.random.default_rng(seed + 7)
    carried = carry_forward(prev, model, new_months, paths.share_innovations, rng)
    # the new data make this graph new: kept on disk it would never be read again
    evaluate = draws_evaluator(model, log_prior=True, cache=False)
    at_draws = evaluate(carried)
    dets, ll_new = at_draws.deterministics, at_draws.log_likelihood
    check_same_draws(prev, dets, data_new.months)
    data_old, ll_old = old_log_likelihood(prev, saved_log_likelihood)
    players = releases(data_old, data_new, ll_old, ll_new, batch_rows, files, batch)
    log_ratio = (
        np.sum([p.log_lik for p in players], axis=0)
        if players
        else np.zeros(len(next(iter(carried.values()))))
    )
    log_w, k = psis(log_ratio)
    if not k <= PARETO_K_MAX:
        raise RefitNeeded(f"Pareto k = {k:.2f} > {PARETO_K_MAX}: reweighting cannot absorb it")
    weights = normalised(log_w)
    idx = ordered_resample(weights, dets["hidden_inflow_usd"][:, -1], seed)

    post_old = prev["posterior"]
    arrays = {name: arr[idx] for name, arr in {**carried, **dets}.items()}
    posterior = draws_dataset(model, arrays, post_old[CHAIN].values, post_old[DRAW].values)
    # the prior's draws carried the same way are prior draws of the new model: one compile
    prior_free = carry_forward(
        prev,
        model,
        new_months,
        rng.standard_normal((_draws_in(prev, "prior"), len(new_months))),
        rng,
        group="prior",
    )
    prior_arrays = {**prior_free, **evaluate(prior_free).deterministics}
    prior_old = prev["prior"]
    prior = xr.DataTree.from_dict(
        {
            "/prior": draws_dataset(
                model, prior_arrays, prior_old[CHAIN].values, prior_old[DRAW].values
            )
        }
    )
    tree = run_tree(posterior, prev["sample_stats"].to_dataset(), panel, data_new, prior)
    tree.attrs.update(prev.attrs)
    carried_inflow = {m: dets["hidden_inflow_usd"][:, j] for j, m in enumerate(data_new.months)}
    months_needed = pd.DatetimeIndex(
        sorted({m for t in headline_targets(data_new.months[-1]) for m in t.months})
    )
    news = NewsInputs(
        players=players,
        month_draws=forward_month_draws(
            prev, paths, players, spec.legalisation, carried_inflow, months_needed
        ),
    )
    everything = paths_for(paths, players, frozenset(range(len(players))))
    ahead = everything.months_after(len(new_months), idx).head(horizon)
    resampled = DrawValues(
        {k: v[idx] for k, v in dets.items()},
        {k: v[idx] for k, v in ll_new.items()},
        at_draws.log_prior[idx],
    )
    return FastUpdate(
        tree, k, effective_sample_size(weights), players, news, new_months, ahead, model, resampled
    )


def _draws_in(tree: xr.DataTree, group: str) -> int:
    return int(tree[group].sizes[CHAIN] * tree[group].sizes[DRAW])


def _months_after(last: pd.Timestamp, month: pd.Timestamp) -> int:
    return (pd.Timestamp(month).to_period("M") - pd.Timestamp(last).to_period("M")).n


# --------------------------------------------------------------------------- after a refit


def _retract(values: dict[str, np.ndarray], prev: xr.DataTree) -> dict[str, np.ndarray] | None:
    """Draws of the new model's free variables as draws of the previous model's: the inverse
    of ``carry_forward`` (grown innovations and effects cut back). ``None`` when the two
    models' free variables do not correspond."""
    old = prev["posterior"].to_dataset()
    out = {}
    for name in _free_names(prev):
        if name not in values:
            return None
        arr = values[name]
        shape = old[name].shape[2:]
        if arr.shape[1:] == shape:
            out[name] = arr
        elif arr.ndim >= 2 and arr.shape[2:] == shape[1:] and arr.shape[1] > shape[0]:
            out[name] = arr[:, : shape[0]]
        else:
            return None
    return out


@dataclass
class Backward:
    """After a refit: the news (``None`` when the models do not correspond) and the new
    model's log densities at the refitted draws, which identification reuses."""

    news: NewsInputs | None
    model: pm.Model
    values: DrawValues


def backward_news(
    prev: xr.DataTree,
    tree: xr.DataTree,
    panel: xr.Dataset,
    batch_rows: pd.DataFrame,
    files: dict[int, str],
    *,
    horizon: int,
    seed: int,
    batch: Sequence[int] | None = None,
    saved_paths: ForecastPaths | None = None,
) -> Backward:
    """News after a refit: the new posterior reweighted backwards (each coalition's weights
    remove the likelihood of the releases outside it), the drivers of releases outside a
    coalition replaced by the previous forecast's paths. No news when the refitted model's
    structure no longer corresponds to the previous one's."""
    from nowcast.fit import draws_evaluator, evaluate_draws
    from nowcast.model.build import build_model
    from nowcast.model.data import prepare
    from nowcast.model.spec import spec_of

    spec = spec_of(tree)
    data_new = prepare(panel, spec)
    model_new = build_model(spec, data_new)
    free = [rv.name for rv in model_new.free_RVs]
    values = posterior_draws(tree, free)
    at_draws = draws_evaluator(model_new, deterministics=False, log_prior=True, cache=False)(values)
    ll_new = at_draws.log_likelihood
    retracted = _retract(values, prev)
    if retracted is None or spec.spec_hash() != spec_of(prev).spec_hash():
        return Backward(None, model_new, at_draws)
    data_old = prepare(prev["panel"].to_dataset(), spec)
    _, ll_old = evaluate_draws(build_model(spec, data_old), retracted)
    players = releases(data_old, data_new, ll_old, ll_new, batch_rows, files, batch)
    if not players:
        return Backward(None, model_new, at_draws)
    old_months = pd.DatetimeIndex(prev["posterior"][MONTH].values)
    new_months = data_new.months[len(old_months) :]
    targets = headline_targets(data_new.months[-1])
    needed = max(_months_after(old_months[-1], t.months[-1]) for t in targets)
    paths = extended_paths(prev, needed, horizon, seed, saved_paths)
    post = stacked_posterior(tree)
    n = post.sizes["sample"]
    rows = np.arange(n) % paths.share_innovations.shape[0]
    share = post["share_logit"].transpose("sample", MONTH).values
    mean, rho, sd = (post[v].values for v in ("share_logit_mean", "share_ar_rho", "share_step_sd"))
    innovations = paths.share_innovations[rows].copy()
    months = pd.DatetimeIndex(post[MONTH].values)
    for j, m in enumerate(new_months):
        t = months.get_loc(m)
        dev, before = share[:, t] - mean, share[:, t - 1] - mean
        innovations[:, j] = (dev - rho * before) / sd
    aligned = ForecastPaths(
        paths.months,
        {k: v[rows] for k, v in paths.drivers.items()},
        innovations,
        paths.ruble_shocks[rows],
    )
    start = post.isel({MONTH: slice(0, len(old_months))})
    new_inflow = {m: post["hidden_inflow_usd"].sel({MONTH: m}).values for m in months}
    months_needed = pd.DatetimeIndex(sorted({m for t in targets for m in t.months}))
    prev_panel = prev["panel"].to_dataset()

    def month_draws(members: frozenset[int]) -> dict[pd.Timestamp, np.ndarray]:
        out: dict[pd.Timestamp, np.ndarray] = {}
        ahead = [m for m in months_needed if m not in old_months]
        if ahead:
            h = aligned.months.get_loc(max(ahead)) + 1
            pushed = push_forward(
                start, prev_panel, paths_for(aligned, players, members).head(h), spec.legalisation
            )["hidden_inflow_usd_bn"]
            for m in ahead:
                out[m] = pushed[:, aligned.months.get_loc(m)] * 1e9
        for m in months_needed:
            if m in old_months:
                out[m] = new_inflow[m]
        return out

    offset = np.sum([p.log_lik for p in players], axis=0)
    return Backward(
        NewsInputs(players=players, month_draws=month_draws, offset=offset), model_new, at_draws
    )
