"""One backtest origin on a worker (``run_origin``): its as-of data, its fit, and the
scores of its USD/RUB forecasts and of the figures published after it.
"""

from __future__ import annotations

import os
import resource
import socket
import time

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.backtest_plan import (
    MODEL,
    RANDOM_WALK,
    USD_RUB,
    OriginJob,
    OriginResult,
    as_of_day,
    origin_seed,
    period_of,
)
from nowcast.constants import CHAIN, DRAW, MONTH
from nowcast.errors import NowcastError
from nowcast.forecast import SAMPLE, draw_paths, forecast_from_paths
from nowcast.model.evidence import REGISTRY
from nowcast.model.spec import ModelSpec, Sampler, load_spec
from nowcast.scores import RandomWalk, ensemble_scores
from nowcast.store import Store

# model driver -> the forecast path it fixes when the as-of view knows it past the window
_KNOWN_DRIVERS = {
    "btc_hashrate_eh_s": "btc_hashrate_eh_s",
    "btc_miner_revenue_usd": "network_revenue_usd",
    "btc_issuance_btc": "issuance_btc",
    "usd_rub_mean": "usd_rub",
    "brent_usd_per_bbl": "brent_usd_per_bbl",
    "key_rate_pct": "key_rate_pct",
    "btc_price_usd": "btc_price_usd",
}


def _months_between(a: pd.Timestamp, b: pd.Timestamp) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def _known_after(panel: xr.Dataset, last: pd.Timestamp) -> dict[str, pd.Series]:
    """Driver values the as-of panel knows for months after the fitted window."""
    months = pd.DatetimeIndex(panel[MONTH].values)
    after = months > last
    out: dict[str, pd.Series] = {}
    for var, driver in _KNOWN_DRIVERS.items():
        if var not in panel or not after.any():
            continue
        values = pd.Series(panel[var].values[after].astype(float), index=months[after]).dropna()
        if len(values):
            out[driver] = values
    return out


def _usd_rub_scores(
    job: OriginJob,
    tree: xr.DataTree,
    asof_panel: xr.Dataset,
    realised: pd.Series,
) -> pd.DataFrame:
    """The model's and the random walk's USD/RUB forecasts of each realised horizon, scored."""
    fitted = pd.DatetimeIndex(tree["posterior"][MONTH].values)
    last = fitted[-1]
    targets = [job.origin + pd.DateOffset(months=h) for h in job.horizons]
    pairs = zip(job.horizons, targets, strict=True)
    known = [(h, t) for h, t in pairs if np.isfinite(realised.get(t, np.nan))]
    if not known:
        return pd.DataFrame()
    horizon = _months_between(last, targets[-1])
    seed = origin_seed(job.origin, job.sampler["seed"])
    paths = draw_paths(tree, horizon, seed=seed).with_drivers(_known_after(asof_panel, last))
    fc = forecast_from_paths(tree, paths, seed=seed)
    months = pd.DatetimeIndex(fc[MONTH].values)
    draws = np.stack([fc["usd_rub"].values[:, months.get_loc(t)] for _, t in known])
    observed = np.array([realised[t] for _, t in known])
    asof_rate = pd.Series(
        asof_panel["usd_rub_mean"].values.astype(float),
        index=pd.DatetimeIndex(asof_panel[MONTH].values),
    )
    walk = RandomWalk.fit(asof_rate[asof_rate.index <= job.origin])
    tgt = [t for _, t in known]
    frames = []
    for model, scores in (
        (MODEL, ensemble_scores(observed, draws)),
        (RANDOM_WALK, walk.scores(tgt, observed)),
    ):
        frames.append(
            pd.DataFrame(
                {
                    "model": model,
                    "target": USD_RUB,
                    "quantity": "USD/RUB, monthly mean",
                    "unit": "RUB per USD",
                    "region": "",
                    "observer": "Bank of Russia",
                    "period_start": tgt,
                    "period_end": [t + pd.offsets.MonthEnd(0) for t in tgt],
                    "published": pd.NaT,
                    "horizon": [h for h, _ in known],
                    "period": [period_of(t) for t in tgt],
                    "observed": observed,
                    **scores,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


class _Draws(dict):
    """Posterior draws as the registry's predictions read them: (sample, month) paths,
    (sample, region, month) regional ones, (sample, 1) parameters, known drivers by month.

    A parameter the origin's model did not have (the error scale of a kind of evidence none of
    whose figures was out yet) is drawn from its prior: with no figure of that kind, its
    posterior is its prior."""

    def __init__(self, post: xr.Dataset, data: object, spec: ModelSpec, seed: int) -> None:
        super().__init__()
        for name, da in post.data_vars.items():
            values = da.transpose(SAMPLE, ...).values
            self[str(name)] = values[:, None] if values.ndim == 1 else values
        self["issuance_btc"] = np.asarray(data.drivers["issuance_btc"], dtype=float)
        self.spec, self.seed, self.n = spec, seed, post.sizes[SAMPLE]
        self.months = pd.DatetimeIndex(post[MONTH].values) if MONTH in post.coords else None

    def __missing__(self, name: str) -> np.ndarray:
        import pymc as pm

        from nowcast.fit import FORWARD_COMPILE
        from nowcast.model import derived
        from nowcast.model.build import prior

        if name == "electricity_twh":
            # not kept as draws: rebuilt from the parameters it is made of (a scalar is kept
            # here as (sample, 1); the rebuild wants it per sample)
            parts = {p: self[p] if p != derived.YEAR_SD else self[p][:, 0] for p in derived.PARTS}
            self[name] = derived.unit_electricity_twh(parts, self.months)[0]
            return self[name]
        if name not in self.spec.priors:
            raise KeyError(f"{name}: neither a posterior quantity nor a prior of the spec")
        with pm.Model():
            rv = prior(name, self.spec.priors[name])
        draws = pm.draw(rv, draws=self.n, random_seed=self.seed, **FORWARD_COMPILE)
        self[name] = np.asarray(draws).reshape(-1, 1)
        return self[name]


def _figure_scores(
    job: OriginJob, tree: xr.DataTree, latest_panel: xr.Dataset, as_of: pd.Timestamp
) -> pd.DataFrame:
    """PIT and coverage of every figure published after ``as_of`` about months inside the
    origin's fitted window, under the origin's posterior predictive."""
    from nowcast.model.data import prepare
    from nowcast.model.published import predictive_draws

    fitted = pd.DatetimeIndex(tree["posterior"][MONTH].values)
    spec = load_spec(job.spec_name)
    window = latest_panel.sel({MONTH: slice(fitted[0], fitted[-1])})
    ends = pd.to_datetime(window["obs_period_end"].values)
    published = pd.to_datetime(window["obs_published"].values)
    keep = np.nonzero((ends <= fitted[-1] + pd.offsets.MonthEnd(0)) & (published > as_of))[0]
    if not len(keep):
        return pd.DataFrame()
    window = window.isel(period_obs=keep)
    try:
        data = prepare(window, spec)
    except NowcastError:
        return pd.DataFrame()  # nothing the model reads among them
    post = tree["posterior"].to_dataset().stack({SAMPLE: (CHAIN, DRAW)})
    seed = origin_seed(job.origin, job.sampler["seed"])
    q = _Draws(post, data, spec, seed + 2)
    rng = np.random.default_rng(seed + 1)
    frames = []
    for kind in REGISTRY.values():
        block = data.blocks.get(kind.name)
        if not kind.published or block is None or not block.n or not spec.uses(kind.switch):
            continue
        predicted = np.asarray(kind.predict(q, block, data, np), dtype=float)
        draws = predictive_draws(kind, predicted, q, block, rng)
        k = kind.display_scale
        observed = block.values.astype(float) * k
        lab = block.labels.reset_index(drop=True)
        frames.append(
            pd.DataFrame(
                {
                    "model": MODEL,
                    "target": kind.name,
                    "quantity": kind.label,
                    "unit": kind.display_unit or kind.unit,
                    "region": lab["region"].astype(str),
                    "observer": lab["observer"].astype(str),
                    "period_start": pd.to_datetime(lab["period_start"]),
                    "period_end": pd.to_datetime(lab["period_end"]),
                    "published": pd.to_datetime(lab["published"]),
                    "horizon": pd.NA,
                    "period": [period_of(pd.Timestamp(m)) for m in lab["period_end"]],
                    "observed": observed,
                    **ensemble_scores(observed, draws.T * k),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_origin(job: OriginJob) -> OriginResult:
    """Fit the origin's as-of data, forecast and score it (runs on a worker)."""
    from nowcast.fit import fit
    from nowcast.panel import build_panel

    t0 = time.perf_counter()
    spec = load_spec(job.spec_name)
    as_of = as_of_day(job.origin)
    with Store(job.store_dir, read_only=True) as st:
        asof_panel, panel, _ = origin_data(st, spec, job.origin, job.simulated)
        latest_panel = build_panel(st, start=spec.start, simulated=job.simulated)
        scored_through = st.last_ingest_id()
    sampler = Sampler(**{**job.sampler, "seed": origin_seed(job.origin, job.sampler["seed"])})
    result = fit(
        panel, spec, sampler=sampler, prior_draws=job.prior_draws, cores=job.cores, frame=job.frame
    )
    tree = result.tree
    realised = pd.Series(
        latest_panel["usd_rub_mean"].values.astype(float),
        index=pd.DatetimeIndex(latest_panel[MONTH].values),
    )
    scores = pd.concat(
        [
            _usd_rub_scores(job, tree, asof_panel, realised),
            _figure_scores(job, tree, latest_panel, as_of),
        ],
        ignore_index=True,
    )
    diag = result.diagnostics
    table = diag.table
    row = {
        "origin": job.origin,
        "as_of": as_of,
        "fitted_through": pd.Timestamp(tree["posterior"][MONTH].values[-1]),
        "fingerprint": job.fingerprint,
        "scored_through_ingest": scored_through,
        "seed": sampler.seed,
        "seconds": time.perf_counter() - t0,
        "compile_s": result.wall.get("compile_s"),
        "sampling_s": result.wall.get("sampling_s"),
        "divergences": int(diag.divergences),
        "max_rhat": float(table["max_rhat"].max()),
        "min_ess_bulk": float(table["min_ess_bulk"].min()),
        "diagnostics_ok": bool(diag.ok),
        "problems": "; ".join(diag.problems),
        # the worker process's peak resident memory so far (Linux reports KiB)
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "compile_reused": bool(result.compile_info and result.compile_info.reused),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    return OriginResult(row, scores)


def origin_data(
    st: Store, spec: ModelSpec, origin: pd.Timestamp, simulated: bool, panels: dict | None = None
) -> tuple:
    """An origin's as-of panel (through the origin month), its fitted panel (cut where the
    drivers end) and the model's data of it. ``panels``: a cache of the first two by origin
    and window start."""
    from nowcast.model.data import prepare, trim_to_drivers
    from nowcast.panel import build_panel

    key = (origin, spec.start)  # the panel depends on the spec through its start only
    if panels is not None and key in panels:
        asof_panel, panel = panels[key]
        return asof_panel, panel, prepare(panel, spec)
    as_of = as_of_day(origin)
    # through the origin month itself: what the as-of view knew of it (USD/RUB's own monthly
    # mean, say) conditions the forecasts, though the fitted window ends earlier
    asof_panel = build_panel(st, as_of=as_of, start=spec.start, end=as_of, simulated=simulated)
    panel = trim_to_drivers(asof_panel)[0]
    if panels is not None:
        panels[key] = (asof_panel, panel)
    return asof_panel, panel, prepare(panel, spec)
