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

This module drives a backtest (``run_backtest``) and writes its report; its parts live beside
it: ``nowcast.backtest_plan`` (the plan, origins, horizons and jobs), ``nowcast.backtest_origin``
(one origin's fit and scores, run on a worker) and ``nowcast.backtest_store`` (its tables in
the store).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from nowcast.backtest_origin import origin_data, run_origin
from nowcast.backtest_plan import (
    MODEL,
    PERIODS,
    RANDOM_WALK,
    USD_RUB,
    BacktestPlan,
    OriginJob,
    OriginResult,
    as_of_day,
    origin_seed,
    parse_horizons,
    parse_month,
    period_of,
)
from nowcast.backtest_store import (
    BACKTEST_SCHEMA,
    ORIGIN_TABLES,
    backtest_scores,
    finished_origins,
    list_backtests,
    record_backtest,
    record_origin,
)
from nowcast.model.frame import Frame
from nowcast.store import Store

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
    from nowcast.pipeline_data import _use_simulated

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


__all__ = [
    "BACKTEST_SCHEMA",
    "MODEL",
    "ORIGIN_TABLES",
    "PERIODS",
    "RANDOM_WALK",
    "USD_RUB",
    "BacktestPlan",
    "BacktestRun",
    "OriginJob",
    "OriginResult",
    "as_of_day",
    "backtest_frame",
    "backtest_scores",
    "finished_origins",
    "list_backtests",
    "load_backtest",
    "origin_data",
    "origin_priority",
    "origin_seed",
    "parse_horizons",
    "parse_month",
    "period_of",
    "plan_jobs",
    "record_backtest",
    "record_origin",
    "report_dir",
    "run_backtest",
    "run_origin",
    "write_report",
]
