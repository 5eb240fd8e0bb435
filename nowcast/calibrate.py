"""Simulation-based calibration (Talts et al. 2018) of the hidden inflow, Russia's hashrate
share and mining power: ``nowcast calibrate``.

Each dataset is one joint draw from the prior of the spec (``nowcast.simulate``: parameters,
latent paths and every observation, with the real data's availability), ingested into a store
of its own and fitted as real data would be. If the model's inference is calibrated, the rank of
the true value among the posterior draws is uniform over datasets, and a central interval of
probability p covers the truth in a share p of datasets. Checked here, for each quantity:

* rank histograms over ``RANK_BINS`` bins of ranks among ``rank_draws`` thinned posterior draws,
  with a chi-square test of uniformity (scipy);
* coverage of the 50/80/90/95% central intervals against their nominal levels, with a binomial
  99% band.

Quantities: the window's total hidden inflow, the last month's hidden inflow (the ragged edge),
and the last month's hashrate share and mining power.

Datasets are independent: they run in parallel on dask.distributed (``nowcast.cluster``), each
dataset's ranks are written to the store as it finishes, and a stopped calibration run again
does not redo finished datasets (seeds are fixed per dataset: ``base seed + index``). Simulated
data never reach the store's figures: each dataset lives in a temporary store of its own; only
its ranks are kept, marked as a calibration on SIMULATED data.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nowcast.errors import NowcastError
from nowcast.intervals import percent
from nowcast.model.spec import Sampler, load_spec
from nowcast.scores import COVERAGE_PROBS
from nowcast.store import Store

RANK_BINS = 10
# quantity -> (model variable, how the truth and the draws are reduced over months)
QUANTITIES = {
    "hidden_inflow_usd, window total": ("hidden_inflow_usd", "sum"),
    "hidden_inflow_usd, last month": ("hidden_inflow_usd", "last"),
    "hashrate_share, last month": ("hashrate_share", "last"),
    "mining_power_gw, last month": ("mining_power_gw", "last"),
}
CALIBRATION_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS calibrations (
    calibration_id VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    spec_name      VARCHAR NOT NULL,
    spec_hash      VARCHAR NOT NULL,
    settings       VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS calibration_ranks (
    calibration_id VARCHAR NOT NULL,
    dataset        INTEGER NOT NULL,
    seed           BIGINT NOT NULL,
    quantity       VARCHAR NOT NULL,
    truth          DOUBLE NOT NULL,
    posterior_mean DOUBLE NOT NULL,
    rank           INTEGER NOT NULL,
    rank_draws     INTEGER NOT NULL,
    {", ".join(f"covered_{percent(p)} BOOLEAN NOT NULL" for p in COVERAGE_PROBS)},
    divergences    INTEGER NOT NULL,
    max_rhat       DOUBLE NOT NULL,
    diagnostics_ok BOOLEAN NOT NULL,
    seconds        DOUBLE NOT NULL,
    compile_s      DOUBLE,
    finished_at    TIMESTAMP NOT NULL
);
-- columns added after the first calibrations were stored
ALTER TABLE calibration_ranks ADD COLUMN IF NOT EXISTS compile_s DOUBLE;
"""
TABLES = {"calibrations", "calibration_ranks"}


@dataclass(frozen=True)
class CalibrationPlan:
    """``n`` simulated datasets of ``months`` months from ``start``, each fitted with
    ``sampler``; ranks among ``rank_draws`` thinned draws. Results go to ``store_dir``."""

    store_dir: str
    n: int = 100
    months: int = 36
    start: str = "2019-06-01"
    sampler: Sampler = field(default_factory=lambda: Sampler(draws=250, tune=400, chains=2))
    rank_draws: int = 99
    base_seed: int = 1000
    spec_name: str = "default"

    def __post_init__(self) -> None:
        if self.n < 1:
            raise NowcastError(f"--n: expected at least 1 dataset, got {self.n}")
        if self.months < 6:
            raise NowcastError(f"--months: expected at least 6, got {self.months}")
        if self.rank_draws >= self.sampler.draws * self.sampler.chains:
            raise NowcastError(
                f"rank draws ({self.rank_draws}) must be fewer than the fit's draws"
                f" ({self.sampler.draws * self.sampler.chains})"
            )

    def settings(self) -> dict[str, object]:
        return {
            "months": self.months,
            "start": self.start,
            "sampler": self.sampler.model_dump(mode="json"),
            "rank_draws": self.rank_draws,
            "base_seed": self.base_seed,
        }

    def calibration_id(self) -> str:
        """Identity: the spec and every setting but ``n`` (a larger calibration reuses the
        datasets a smaller one finished)."""
        spec = load_spec(self.spec_name)
        key = json.dumps({"spec": spec.spec_hash(), **self.settings()}, sort_keys=True)
        return f"sbc-{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class DatasetJob:
    """One dataset to draw and fit (plain values: it travels to a worker)."""

    index: int
    seed: int
    months: int
    start: str
    sampler: dict
    rank_draws: int
    spec_name: str
    cores: int = 1


def _reduce(values: np.ndarray, how: str) -> np.ndarray:
    """Months (last axis) reduced to one value: the sum, or the last month."""
    return values.sum(axis=-1) if how == "sum" else values[..., -1]


def run_dataset(job: DatasetJob) -> pd.DataFrame:
    """Draw one dataset from the prior, fit it, and rank the truth (runs on a worker)."""
    from nowcast.datasets import ingest_dir
    from nowcast.fit import fit
    from nowcast.model.data import prepare
    from nowcast.model.frame import Frame
    from nowcast.panel import build_panel
    from nowcast.simulate import simulate

    t0 = time.perf_counter()
    spec = load_spec(job.spec_name)
    work = Path(tempfile.mkdtemp(prefix=f"nowcast-sbc-{job.seed}-"))
    try:
        sim = simulate(work / "data", seed=job.seed, months=job.months, start=job.start)
        with Store(work / "store") as st:
            ingest_dir(st, sim.out_dir)
            panel = build_panel(st, simulated=True, start=job.start)
        sampler = Sampler(**{**job.sampler, "seed": job.seed})
        # every dataset has the real data's availability, so its figures have the same shapes:
        # with the figures as data (a frame of its own), a worker compiles the model once
        frame = Frame.of([prepare(panel, spec)])
        result = fit(panel, spec, sampler=sampler, prior_draws=10, cores=job.cores, frame=frame)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    post = result.tree["posterior"]
    diag = result.diagnostics
    rows = []
    for quantity, (var, how) in QUANTITIES.items():
        draws = post[var].stack(sample=("chain", "draw")).transpose("sample", ...).values
        draws = _reduce(draws, how)
        truth = float(_reduce(sim.truth[var].to_numpy(dtype=float), how))
        # thinned evenly so that the ranks' autocorrelation matters less (Talts et al. 2018)
        keep = np.linspace(0, len(draws) - 1, job.rank_draws).astype(int)
        row = {
            "dataset": job.index,
            "seed": job.seed,
            "quantity": quantity,
            "truth": truth,
            "posterior_mean": float(draws.mean()),
            "rank": int((draws[keep] < truth).sum()),
            "rank_draws": job.rank_draws,
        }
        for p in COVERAGE_PROBS:
            lo, hi = np.quantile(draws, [(1 - p) / 2, (1 + p) / 2])
            row[f"covered_{percent(p)}"] = bool(lo <= truth <= hi)
        rows.append(row)
    return pd.DataFrame(rows).assign(
        divergences=int(diag.divergences),
        max_rhat=float(diag.table["max_rhat"].max()),
        diagnostics_ok=bool(diag.ok),
        seconds=time.perf_counter() - t0,
        compile_s=float(result.wall.get("compile_s", float("nan"))),
    )


def finished_datasets(store: Store, calibration_id: str) -> pd.DataFrame:
    """Every recorded rank of a calibration (empty when none)."""
    df = store.query(
        "SELECT * FROM calibration_ranks WHERE calibration_id = ? ORDER BY dataset, quantity",
        [calibration_id],
        needs=TABLES,
    )
    return df if df is not None else pd.DataFrame(columns=["dataset"])


def record_dataset(store: Store, calibration_id: str, ranks: pd.DataFrame) -> None:
    """Keep one dataset's ranks (replacing an earlier run of it), all or nothing."""
    dataset = int(ranks["dataset"].iloc[0])
    rows = ranks.assign(
        calibration_id=calibration_id, finished_at=pd.Timestamp.now("UTC").tz_localize(None)
    )
    store.write_tables(
        CALIBRATION_SCHEMA,
        {"calibration_ranks": rows},
        deletes=[
            (
                "DELETE FROM calibration_ranks WHERE calibration_id = ? AND dataset = ?",
                [calibration_id, dataset],
            )
        ],
    )


@dataclass
class CalibrationRun:
    """A calibration's datasets run now, reused, failed, and every recorded rank."""

    calibration_id: str
    plan: CalibrationPlan
    ran: list[int]
    reused: list[int]
    ranks: pd.DataFrame
    seconds: float
    failed: dict[int, str] = field(default_factory=dict)


def run_calibration(
    plan: CalibrationPlan,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    notify: Callable[[str], None] = lambda _: None,
) -> CalibrationRun:
    """Draw and fit every dataset of ``plan`` not yet recorded, in parallel on dask.distributed,
    writing each one's ranks to the store as it finishes; then read all of them back."""
    from nowcast.cluster import client_for, run_all

    t0 = time.perf_counter()
    cid = plan.calibration_id()
    spec = load_spec(plan.spec_name)
    with Store(plan.store_dir) as st:
        known = st.query(
            "SELECT count(*) AS n FROM calibrations WHERE calibration_id = ?",
            [cid],
            needs={"calibrations"},
        )
        if known is None or not int(known["n"].iloc[0]):
            row = {
                "calibration_id": cid,
                "created_at": pd.Timestamp.now("UTC").tz_localize(None),
                "spec_name": spec.name,
                "spec_hash": spec.spec_hash(),
                "settings": json.dumps(plan.settings(), sort_keys=True),
            }
            st.write_tables(CALIBRATION_SCHEMA, {"calibrations": pd.DataFrame([row])})
        done = set(finished_datasets(st, cid)["dataset"].astype(int))
    wanted = range(plan.n)
    reused = [i for i in wanted if i in done]
    jobs = [
        DatasetJob(
            i,
            plan.base_seed + i,
            plan.months,
            plan.start,
            plan.sampler.model_dump(mode="json"),
            plan.rank_draws,
            plan.spec_name,
        )
        for i in wanted
        if i not in done
    ]
    if reused:
        notify(f"{len(reused)} dataset(s) already recorded: not run again")
    ran: list[int] = []
    failed: dict[int, str] = {}

    def keep(job: DatasetJob, ranks: pd.DataFrame) -> None:
        with Store(plan.store_dir) as st:
            record_dataset(st, cid, ranks)
        ran.append(job.index)
        notify(f"dataset {job.index} (seed {job.seed}): {len(ran)} of {len(jobs)} run")

    def fail(job: DatasetJob, exc: BaseException) -> None:
        failed[job.index] = f"{type(exc).__name__}: {exc}"
        notify(f"dataset {job.index} failed: {exc}")

    if jobs:
        with client_for(workers, scheduler) as client:
            run_all(client, run_dataset, jobs, lambda j: f"{cid}-{j.index}", keep, fail)
    with Store(plan.store_dir, read_only=True) as st:
        ranks = finished_datasets(st, cid)
    ranks = ranks[ranks["dataset"].isin(list(wanted))].reset_index(drop=True)
    return CalibrationRun(cid, plan, sorted(ran), reused, ranks, time.perf_counter() - t0, failed)


def uniformity(ranks: pd.DataFrame, bins: int = RANK_BINS) -> pd.DataFrame:
    """Per quantity: datasets, rank counts per bin, the chi-square test of uniform ranks
    (statistic, p-value) and coverage of each central interval with its binomial 99% band."""
    from scipy import stats

    rows = []
    for quantity, g in ranks.groupby("quantity", sort=False):
        n = len(g)
        top = int(g["rank_draws"].iloc[0]) + 1  # ranks 0..rank_draws
        counts = np.histogram(g["rank"], bins=bins, range=(0, top))[0]
        chi = stats.chisquare(counts, np.full(bins, n / bins)) if n else None
        row: dict[str, object] = {
            "quantity": quantity,
            "datasets": n,
            "rank_counts": counts.tolist(),
            "chi_square": float(chi.statistic) if chi else float("nan"),
            "p_value": float(chi.pvalue) if chi else float("nan"),
        }
        for p in COVERAGE_PROBS:
            k = percent(p)
            cov = float(g[f"covered_{k}"].mean()) if n else float("nan")
            half = 2.576 * np.sqrt(p * (1 - p) / n) if n else float("nan")
            row[f"coverage_{k}"] = cov
            row[f"coverage_{k}_ok"] = bool(abs(cov - p) <= half + 1e-12) if n else False
        rows.append(row)
    return pd.DataFrame(rows)


def report_dir(store_dir: str | Path, calibration_id: str) -> Path:
    """Where a calibration's page goes by default: ``<store>/calibrations/<id>/``."""
    return Path(store_dir) / "calibrations" / calibration_id


def write_report(run: CalibrationRun, out_dir: str | Path | None = None):
    """The calibration page and CSVs (``nowcast.report.calibration``)."""
    from nowcast.report.calibration import render_calibration_report

    meta = {
        "calibration_id": run.calibration_id,
        "spec_name": run.plan.spec_name,
        "datasets": int(run.ranks["dataset"].nunique()) if len(run.ranks) else 0,
        "settings": json.dumps(run.plan.settings(), sort_keys=True),
    }
    out = (
        Path(out_dir) if out_dir is not None else report_dir(run.plan.store_dir, run.calibration_id)
    )
    return render_calibration_report(run.ranks, meta, out)
