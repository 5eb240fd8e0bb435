"""Pseudo-real-time backtest: the nowcast's track record against what was published later.

For each origin month the model is fitted on exactly what the store's as-of view held at the
origin's last day (every source with its own publication lag), its forecasts of the monthly
mean USD/RUB are made h months ahead, and both are scored against the figures the store holds
now:

* USD/RUB at each horizon, against a random walk in log USD/RUB from the same as-of data
  (``nowcast.scores.RandomWalk``): CRPS, log score, PIT, interval coverage and width;
* every published figure the model predicts that was published after the origin and is about
  months inside the origin's fitted window (electricity totals, errors and omissions, share,
  power and BTC-mined estimates): its PIT under the posterior predictive the nowcast made
  before it came out, and whether it fell inside the central intervals. Figures about months
  after the window are not scored (they would be forecasts of evidence, not nowcasts).

Horizons count from the origin month: h = 1 is the month after the origin. Drivers the as-of
view already knew for months after the fitted window (USD/RUB's own monthly mean for the
origin month, say, when Brent for that month was not yet out) enter the forecast as known, as
they enter the random walk.

Every origin is an independent fit with its own seed (``origin_seed``), so origins run in
parallel (``nowcast.cluster``) in any order, and a result is the same whichever worker made
it; the latest origins start first (``origin_priority``). Results go to the store as each
origin finishes (``record_origin``); an origin already recorded for the same backtest with the
same as-of data is not run again.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import CHAIN, DRAW, MONTH
from nowcast.errors import NowcastError
from nowcast.forecast import SAMPLE, draw_paths, forecast_from_paths
from nowcast.intervals import percent
from nowcast.model.evidence import REGISTRY
from nowcast.model.frame import Frame
from nowcast.model.spec import ModelSpec, Sampler, load_spec
from nowcast.scores import COVERAGE_PROBS, RandomWalk, ensemble_scores
from nowcast.store import Store, parse_day

MODEL = "nowcast"
RANDOM_WALK = "random_walk"
USD_RUB = "usd_rub"
# periods users compare: before the 2022 sanctions, the grey years, after legalisation
PERIODS = (
    ("before 2022", None, "2021-12"),
    ("2022 to 2024-10", "2022-01", "2024-10"),
    ("from 2024-11 (legal mining)", "2024-11", None),
)
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

BACKTEST_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS backtests (
    backtest_id   VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    spec_name     VARCHAR NOT NULL,
    spec_hash     VARCHAR NOT NULL,
    sampler       VARCHAR NOT NULL,
    horizons      VARCHAR NOT NULL,
    data_kind     VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS backtest_origins (
    backtest_id    VARCHAR NOT NULL,
    origin         DATE NOT NULL,
    as_of          DATE NOT NULL,
    fitted_through DATE NOT NULL,
    fingerprint    VARCHAR NOT NULL,
    scored_through_ingest INTEGER NOT NULL,
    seed           BIGINT NOT NULL,
    seconds        DOUBLE NOT NULL,
    compile_s      DOUBLE,
    sampling_s     DOUBLE,
    divergences    INTEGER NOT NULL,
    max_rhat       DOUBLE,
    min_ess_bulk   DOUBLE,
    diagnostics_ok BOOLEAN NOT NULL,
    problems       VARCHAR NOT NULL,
    peak_rss_mb    DOUBLE,
    compile_reused BOOLEAN,
    worker         VARCHAR NOT NULL,
    finished_at    TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS backtest_scores (
    backtest_id   VARCHAR NOT NULL,
    origin        DATE NOT NULL,
    model         VARCHAR NOT NULL,
    target        VARCHAR NOT NULL,
    quantity      VARCHAR NOT NULL,
    unit          VARCHAR NOT NULL,
    region        VARCHAR NOT NULL,
    observer      VARCHAR NOT NULL,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    published     DATE,
    horizon       INTEGER,
    period        VARCHAR NOT NULL,
    observed      DOUBLE NOT NULL,
    median        DOUBLE NOT NULL,
    draws         INTEGER,
    pit           DOUBLE NOT NULL,
    crps          DOUBLE NOT NULL,
    log_score     DOUBLE NOT NULL,
    {
    ", ".join(
        f"lower_{percent(p)} DOUBLE NOT NULL, upper_{percent(p)} DOUBLE NOT NULL,"
        f" covered_{percent(p)} BOOLEAN NOT NULL, width_{percent(p)} DOUBLE NOT NULL"
        for p in COVERAGE_PROBS
    )
}
);
-- columns added after the first backtests were stored
ALTER TABLE backtest_origins ADD COLUMN IF NOT EXISTS peak_rss_mb DOUBLE;
ALTER TABLE backtest_origins ADD COLUMN IF NOT EXISTS compile_reused BOOLEAN;
ALTER TABLE backtest_scores ADD COLUMN IF NOT EXISTS draws INTEGER;
"""
ORIGIN_TABLES = {"backtests", "backtest_origins", "backtest_scores"}


@dataclass(frozen=True)
class BacktestPlan:
    """What a backtest fits and scores. Origins are month starts; ``horizons`` count months
    after the origin month. The sampler defaults to the spec's."""

    store_dir: str
    start: pd.Timestamp
    end: pd.Timestamp
    horizons: tuple[int, ...] = (1, 3, 6)
    spec_name: str = "default"
    sampler: Sampler | None = None
    prior_draws: int = 20
    # fit every origin in one fixed shape (``nowcast.model.frame``), so that a worker compiles
    # the model once; False compiles each origin's own model (to measure what that saves)
    compile_once: bool = True

    def __post_init__(self) -> None:
        if not self.horizons or min(self.horizons) < 1:
            raise NowcastError(f"horizons must be whole months from 1 up, got {self.horizons}")
        if self.end < self.start:
            raise NowcastError(
                f"the backtest's end {self.end:%Y-%m} is before its start {self.start:%Y-%m}"
            )

    @property
    def spec(self) -> ModelSpec:
        return load_spec(self.spec_name)

    @property
    def sampler_settings(self) -> Sampler:
        return self.sampler or self.spec.sampler

    def origins(self) -> list[pd.Timestamp]:
        """The origin months, oldest first."""
        return list(pd.date_range(self.start, self.end, freq="MS"))

    def backtest_id(self, data_kind: str) -> str:
        """Identity of the backtest: the spec, sampler, horizons and kind of data (not the
        origins, so a longer backtest reuses the origins a shorter one finished)."""
        spec = self.spec
        key = json.dumps(
            {
                "spec": spec.spec_hash(),
                "sampler": self.sampler_settings.model_dump(mode="json"),
                "horizons": list(self.horizons),
                "data_kind": data_kind,
                "prior_draws": self.prior_draws,
                "compile_once": self.compile_once,
            },
            sort_keys=True,
        )
        return f"{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def parse_month(value: str, what: str) -> pd.Timestamp:
    """``2022-01`` (or a day in it) as the month's first day; a clear error otherwise."""
    try:
        return pd.Timestamp(parse_day(value if len(value) > 7 else f"{value}-01", what)).replace(
            day=1
        )
    except NowcastError:
        raise
    except (ValueError, TypeError):
        raise NowcastError(f"{what}: expected a month like 2022-01, got {value!r}") from None


def parse_horizons(value: str) -> tuple[int, ...]:
    """``1,3,6`` -> (1, 3, 6); a clear error for anything else."""
    try:
        out = tuple(sorted({int(v) for v in value.split(",") if v.strip()}))
    except ValueError:
        raise NowcastError(
            f"--horizons: expected whole months separated by commas (1,3,6), got {value!r}"
        ) from None
    if not out or out[0] < 1:
        raise NowcastError(f"--horizons: months ahead must be 1 or more, got {value!r}")
    return out


def origin_seed(origin: pd.Timestamp, base: int) -> int:
    """The seed of one origin's fit and forecast: fixed by the origin, so a resumed or
    reordered backtest gives the same results."""
    return int(base) + origin.year * 100 + origin.month


def as_of_day(origin: pd.Timestamp) -> pd.Timestamp:
    """The day the origin's data is taken as of: the origin month's last day."""
    return origin + pd.offsets.MonthEnd(0)


def period_of(month: pd.Timestamp) -> str:
    """Which of ``PERIODS`` a month (or any day in it) falls in."""
    month = pd.Timestamp(month).to_period("M").to_timestamp()
    for name, first, last in PERIODS:
        if (first is None or month >= pd.Timestamp(first)) and (
            last is None or month <= pd.Timestamp(last)
        ):
            return name
    raise AssertionError(month)


@dataclass
class OriginResult:
    """One origin's record (a row of ``backtest_origins``) and its scores."""

    origin: dict[str, object]
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class OriginJob:
    """Everything a worker needs to run one origin (plain values: it travels to workers)."""

    store_dir: str
    origin: pd.Timestamp
    spec_name: str
    sampler: dict
    horizons: tuple[int, ...]
    simulated: bool
    prior_draws: int
    fingerprint: str
    cores: int = 1
    backtest_id: str = ""
    frame: Frame | None = None  # the backtest's fixed shape, if it compiles once


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


# ---------------------------------------------------------------------------------- store


def record_origin(store: Store, backtest_id: str, result: OriginResult) -> None:
    """Keep one origin's record and scores (replacing an earlier run of the same origin), in
    one all-or-nothing write."""
    origin = pd.Timestamp(result.origin["origin"]).date()
    row = pd.DataFrame([{**result.origin, "backtest_id": backtest_id}])
    row["finished_at"] = pd.Timestamp.now("UTC").tz_localize(None)
    scores = result.scores.assign(backtest_id=backtest_id, origin=pd.Timestamp(origin))
    if not scores.empty:
        scores["horizon"] = pd.array(scores["horizon"], dtype="Int64")
        for col in ("published", "period_start", "period_end"):
            scores[col] = pd.to_datetime(scores[col])
    store.write_tables(
        BACKTEST_SCHEMA,
        {"backtest_origins": row, "backtest_scores": scores},
        deletes=[
            (f"DELETE FROM {t} WHERE backtest_id = ? AND origin = ?", [backtest_id, origin])
            for t in ("backtest_origins", "backtest_scores")
        ],
    )


def record_backtest(store: Store, backtest_id: str, plan: BacktestPlan, data_kind: str) -> None:
    """Keep what a backtest is (once per id)."""
    known = store.query(
        "SELECT count(*) AS n FROM backtests WHERE backtest_id = ?",
        [backtest_id],
        needs={"backtests"},
    )
    if known is not None and int(known["n"].iloc[0]):
        return
    spec = plan.spec
    row = pd.DataFrame(
        [
            {
                "backtest_id": backtest_id,
                "created_at": pd.Timestamp.now("UTC").tz_localize(None),
                "spec_name": spec.name,
                "spec_hash": spec.spec_hash(),
                "sampler": json.dumps(plan.sampler_settings.model_dump(mode="json")),
                "horizons": ",".join(map(str, plan.horizons)),
                "data_kind": data_kind,
            }
        ]
    )
    store.write_tables(BACKTEST_SCHEMA, {"backtests": row})


def finished_origins(store: Store, backtest_id: str) -> pd.DataFrame:
    """The origins a backtest has recorded (origin, fingerprint, ...); empty when none."""
    df = store.query(
        "SELECT * FROM backtest_origins WHERE backtest_id = ? ORDER BY origin",
        [backtest_id],
        needs=ORIGIN_TABLES,
    )
    if df is None:
        return pd.DataFrame(columns=["origin", "fingerprint"])
    df["origin"] = pd.to_datetime(df["origin"])
    return df


def backtest_scores(store: Store, backtest_id: str, origins: list[pd.Timestamp]) -> pd.DataFrame:
    """The recorded scores of ``origins``."""
    df = store.query(
        "SELECT * FROM backtest_scores WHERE backtest_id = ? AND list_contains(?, origin)"
        " ORDER BY origin, model, target, period_start",
        [backtest_id, [o.date() for o in origins]],
        needs=ORIGIN_TABLES,
    )
    if df is None:
        return pd.DataFrame()
    for col in ("origin", "period_start", "period_end", "published"):
        df[col] = pd.to_datetime(df[col])
    return df


def list_backtests(store: Store) -> pd.DataFrame:
    """Every backtest the store holds, with how many origins each has finished."""
    df = store.query(
        "SELECT b.*, count(o.origin) AS origins, min(o.origin) AS first_origin,"
        " max(o.origin) AS last_origin FROM backtests b LEFT JOIN backtest_origins o"
        " USING (backtest_id) GROUP BY ALL ORDER BY b.created_at",
        needs=ORIGIN_TABLES,
    )
    return df if df is not None else pd.DataFrame()


# ---------------------------------------------------------------------------------- driver


@dataclass
class BacktestRun:
    """A finished (or resumed) backtest: its id, the origins run now and those reused, and
    every origin's record and scores."""

    backtest_id: str
    plan: BacktestPlan
    data_kind: str
    ran: list[pd.Timestamp]
    reused: list[pd.Timestamp]
    origins: pd.DataFrame
    scores: pd.DataFrame
    seconds: float = 0.0
    failed: dict[pd.Timestamp, str] = field(default_factory=dict)
    # the baseline specs scored on the same origins (``run_backtest(..., baselines=...)``)
    baselines: dict[str, BacktestRun] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "backtest_id": self.backtest_id,
            "plan": {k: str(v) for k, v in asdict(self.plan).items()},
            "data_kind": self.data_kind,
            "ran": [f"{o:%Y-%m}" for o in self.ran],
            "reused": [f"{o:%Y-%m}" for o in self.reused],
            "seconds": self.seconds,
            "baselines": {k: b.backtest_id for k, b in self.baselines.items()},
        }


def plan_jobs(
    plan: BacktestPlan, cores_per_job: int = 1, panels: dict | None = None
) -> tuple[str, str, list[OriginJob], list[pd.Timestamp]]:
    """The backtest's id, kind of data, the origins still to run (as jobs) and those already
    recorded with the same as-of data (reused). ``panels``: as-of panels by origin, shared by
    the plans of one run (filled as they are built)."""
    from nowcast.pipeline import _use_simulated

    sampler = plan.sampler_settings
    with Store(plan.store_dir, read_only=True) as st:
        simulated = _use_simulated(st, None)
        data_kind = "simulated" if simulated else "real"
        bid = plan.backtest_id(data_kind)
        done = finished_origins(st, bid)
        done_prints = dict(zip(done["origin"], done["fingerprint"], strict=True))
        jobs, reused = [], []
        for origin in plan.origins():
            fp = st.fingerprint(as_of_day(origin), simulated=simulated)
            if done_prints.get(origin) == fp:
                reused.append(origin)
                continue
            jobs.append(
                OriginJob(
                    store_dir=str(plan.store_dir),
                    origin=origin,
                    spec_name=plan.spec_name,
                    sampler=sampler.model_dump(mode="json"),
                    horizons=plan.horizons,
                    simulated=simulated,
                    prior_draws=plan.prior_draws,
                    fingerprint=fp,
                    cores=cores_per_job,
                    backtest_id=bid,
                )
            )
        if jobs and plan.compile_once:
            # from every origin of the plan, not only those to run: a resumed backtest fits
            # in the same shape as an uninterrupted one, so it gives the same draws
            frame = backtest_frame(st, plan, simulated, panels)
            jobs = [replace(j, frame=frame) for j in jobs]
    return bid, data_kind, jobs, reused


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


def origin_priority(job: OriginJob) -> int:
    """Later origins start first: they hold more data and sample more slowly (measured over
    the bundled data's 47 origins, compiling once: a median origin took 50 s in 2022 and 98 s
    in 2025; docs/BACKTEST.md), so starting them first lets the workers finish together."""
    return job.origin.year * 12 + job.origin.month


def backtest_frame(
    st: Store, plan: BacktestPlan, simulated: bool, panels: dict | None = None
) -> Frame:
    """The fixed shape every origin of ``plan`` fits in: the union of their windows and
    figures (``nowcast.model.frame``)."""
    spec = plan.spec
    return Frame.of([origin_data(st, spec, o, simulated, panels)[2] for o in plan.origins()])


def load_backtest(store_dir: str | Path, backtest_id: str, origins: list[pd.Timestamp]):
    """A recorded backtest's origin records and scores for ``origins``."""
    with Store(store_dir, read_only=True) as st:
        done = finished_origins(st, backtest_id)
        scores = backtest_scores(st, backtest_id, origins)
    done = done[done["origin"].isin(origins)].reset_index(drop=True)
    return done, scores


def run_backtest(
    plan: BacktestPlan,
    *,
    baselines: Sequence[str] = (),
    workers: int | None = None,
    scheduler: str | None = None,
    notify: Callable[[str], None] = lambda _: None,
) -> BacktestRun:
    """Run every origin of ``plan`` not yet recorded with the same as-of data, in parallel on
    dask.distributed (``nowcast.cluster``), writing each origin's results to the store as it
    finishes; then read the whole backtest back. An origin that fails is reported in
    ``failed`` (with its error) and not recorded, so the next run tries it again.

    ``baselines``: spec names (``no_ruble_inflow``, ``no_<switch>``) backtested on the same
    origins with the same sampler, on the same cluster; each is a backtest of its own (kept
    and reused alike) and comes back in ``run.baselines``."""
    from nowcast.cluster import client_for, run_all

    t0 = time.perf_counter()
    plans = [plan, *(replace(plan, spec_name=name) for name in baselines if name != plan.spec_name)]
    panels: dict = {}  # each origin's as-of panel is built once for every spec
    planned = [plan_jobs(p, panels=panels) for p in plans]
    with Store(plan.store_dir) as st:
        for p, (bid, data_kind, _, _) in zip(plans, planned, strict=True):
            record_backtest(st, bid, p, data_kind)
    ran: dict[str, list[pd.Timestamp]] = {bid: [] for bid, *_ in planned}
    failed: dict[str, dict[pd.Timestamp, str]] = {bid: {} for bid, *_ in planned}
    jobs = [job for _, _, js, _ in planned for job in js]
    for p, (_, _, _, reused) in zip(plans, planned, strict=True):
        if reused:
            notify(
                f"{p.spec_name}: {len(reused)} origin(s) already recorded with the same data:"
                " not run again"
            )

    def keep(job: OriginJob, result: OriginResult) -> None:
        with Store(plan.store_dir) as st:
            record_origin(st, job.backtest_id, result)
        ran[job.backtest_id].append(job.origin)
        o = result.origin
        done = sum(map(len, ran.values()))
        notify(
            f"{job.spec_name} origin {job.origin:%Y-%m}: fitted through"
            f" {pd.Timestamp(o['fitted_through']):%Y-%m} in {float(o['seconds']):.0f} s"
            f" ({done} of {len(jobs)} run)"
        )

    def fail(job: OriginJob, exc: BaseException) -> None:
        failed[job.backtest_id][job.origin] = f"{type(exc).__name__}: {exc}"
        notify(f"{job.spec_name} origin {job.origin:%Y-%m} failed: {exc}")

    if jobs:
        with client_for(workers, scheduler) as client:
            run_all(
                client,
                run_origin,
                jobs,
                lambda j: f"{j.backtest_id}-{j.origin:%Y-%m}",
                keep,
                fail,
                priority=origin_priority,
            )
    runs = []
    for p, (bid, data_kind, _, reused) in zip(plans, planned, strict=True):
        origins, scores = load_backtest(p.store_dir, bid, p.origins())
        runs.append(
            BacktestRun(
                bid,
                p,
                data_kind,
                sorted(ran[bid]),
                reused,
                origins,
                scores,
                time.perf_counter() - t0,
                failed[bid],
            )
        )
    main, *others = runs
    main.baselines = {r.plan.spec_name: r for r in others}
    return main


def report_dir(store_dir: str | Path, backtest_id: str) -> Path:
    """Where a backtest's report goes by default: ``<store>/backtests/<backtest_id>/``."""
    return Path(store_dir) / "backtests" / backtest_id


def write_report(run: BacktestRun, out_dir: str | Path | None = None):
    """The backtest's HTML page and CSVs (``nowcast.report.backtest``), in ``out_dir``
    (default ``report_dir``)."""
    from nowcast.report.backtest import Baseline, render_backtest_report

    scored = run.origins["scored_through_ingest"] if len(run.origins) else pd.Series(dtype=int)
    meta = {
        "backtest_id": run.backtest_id,
        "spec_name": run.plan.spec_name,
        "sampler": json.dumps(run.plan.sampler_settings.model_dump(mode="json")),
        "horizons": ",".join(map(str, run.plan.horizons)),
        "data_kind": run.data_kind,
        "scored_through_ingest": int(scored.max()) if len(scored) else 0,
        "start": f"{run.plan.start:%Y-%m}",
        "end": f"{run.plan.end:%Y-%m}",
    }
    out = Path(out_dir) if out_dir is not None else report_dir(run.plan.store_dir, run.backtest_id)
    baselines = {
        name: Baseline(b.plan.spec.description, b.backtest_id, b.scores)
        for name, b in run.baselines.items()
    }
    return render_backtest_report(run.origins, run.scores, meta, out, baselines)
