"""The commands that fit many times on dask.distributed: ``backtest`` and ``calibrate``,
with the progress and verdict printing they share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape

from nowcast.cli_common import SchedulerOpt, StoreOpt, WorkersOpt, _fail, _table, app, console
from nowcast.errors import NowcastError


def _on_cluster(
    label: str, job: Any, plan: Any, workers: int | None, scheduler: str | None, **kwargs: Any
):
    """Run a backtest or calibration, printing what each finished fit says as it lands."""
    if workers is not None and workers < 1:
        _fail(NowcastError(f"option --workers: expected at least 1, got {workers}"))
    with console.status(f"{label} ...") as status:

        def notify(message: str) -> None:
            console.print(escape(message))
            status.update(escape(message))

        return job(plan, workers=workers, scheduler=scheduler, notify=notify, **kwargs)


def _finish_cluster_run(verdict: list[str], done: str, failed: dict[str, str]) -> None:
    """The verdict, what ran, and every failed job; exit code 1 when any failed."""
    for sentence in verdict:
        console.print(escape(sentence))
    console.print(done)
    for what, why in failed.items():
        console.print(f"[bold red]{what} failed[/]: {escape(why)}")
    if failed:
        raise typer.Exit(code=1)


@app.command()
def backtest(
    start: Annotated[str, typer.Option("--start", help="First origin month (2022-01)")],
    end: Annotated[str, typer.Option("--end", help="Last origin month (2025-11)")],
    horizons: Annotated[
        str, typer.Option("--horizons", help="Months ahead to score, after the origin month")
    ] = "1,3,6",
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    spec: Annotated[str, typer.Option("--spec", help="Model spec (name or TOML path)")] = "default",
    baselines: Annotated[
        str,
        typer.Option(
            "--baselines",
            help="Baseline specs scored on the same origins, comma-separated: no_ruble_inflow"
            " (the inflow switched off in the ruble equation), no_<evidence> ablations;"
            " 'none' for the random walk only",
        ),
    ] = "no_ruble_inflow",
    draws: Annotated[int | None, typer.Option("--draws", help="Draws per chain")] = None,
    tune: Annotated[int | None, typer.Option("--tune", help="Tuning steps per chain")] = None,
    chains: Annotated[int | None, typer.Option("--chains", help="Chains per fit")] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Base seed (each origin's seed adds its year and month)"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Report folder (default: <store>/backtests/<backtest id>)"),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Pseudo-real-time backtest: for each origin month, fit what the store's as-of view held
    on its last day, forecast USD/RUB h months ahead and score it (CRPS, log score, PIT,
    coverage) against the published monthly mean and against a random walk; and score every
    figure published after the origin about months the nowcast covered (its PIT under the
    posterior predictive made before it came out). Baseline specs (by default the model with
    the inflow switched off in the ruble equation) are backtested on the same origins and set
    side by side with it. Fits run in parallel on dask.distributed;
    each origin is written to the store as it finishes, so a stopped backtest resumes where it
    stopped. Writes backtest.html and CSVs."""
    from nowcast.backtest import (
        BacktestPlan,
        parse_horizons,
        parse_month,
        run_backtest,
        write_report,
    )
    from nowcast.model.spec import load_spec
    from nowcast.pipeline import sampler_settings
    from nowcast.report.backtest_summary import (
        baseline_sentences,
        baseline_summary,
        horizon_summary,
        verdict_sentences,
    )
    from nowcast.store import default_store_dir

    model_spec = load_spec(spec)
    plan = BacktestPlan(
        str(store or default_store_dir()),
        parse_month(start, "--start"),
        parse_month(end, "--end"),
        parse_horizons(horizons),
        spec_name=spec,
        sampler=sampler_settings(model_spec, draws=draws, tune=tune, chains=chains, seed=seed),
    )
    names = (
        []
        if baselines.strip().lower() == "none"
        else [n.strip() for n in baselines.split(",") if n.strip()]
    )
    for name in names:
        load_spec(name)  # an unknown spec is refused before anything runs
    run = _on_cluster("backtest", run_backtest, plan, workers, scheduler, baselines=names)
    paths = write_report(run, out)
    summary = horizon_summary(run.scores)
    if len(summary):
        cols = ["horizon", "origins", "crps_model", "crps_rw", "ratio", "ratio_lower"]
        cols += ["ratio_upper", "coverage_80_model", "coverage_80_rw"]
        console.print(_table(summary[[c for c in cols if c in summary]], "USD/RUB by horizon"))
    versus = baseline_summary(run.scores, {k: b.scores for k, b in run.baselines.items()})
    if len(versus):
        cols = ["baseline", "horizon", "origins", "ratio", "ratio_lower", "ratio_upper"]
        console.print(_table(versus[cols], "USD/RUB: the model / each baseline (mean CRPS)"))
    labels = {k: b.plan.spec.description for k, b in run.baselines.items()}
    failed = {f"origin {o:%Y-%m}": why for o, why in run.failed.items()}
    for name, b in run.baselines.items():
        failed.update({f"{name} origin {o:%Y-%m}": why for o, why in b.failed.items()})
    extra = "".join(
        f"; {name}: {len(b.ran)} run, {len(b.reused)} reused" for name, b in run.baselines.items()
    )
    _finish_cluster_run(
        verdict_sentences(summary, run.scores, run.origins, plan.horizons)
        + baseline_sentences(versus, labels),
        f"Backtest {run.backtest_id}: {len(run.ran)} origin(s) run, {len(run.reused)} reused"
        f"{extra}, {run.seconds:.0f} s; report {paths.html}",
        failed,
    )


@app.command()
def calibrate(
    n: Annotated[int, typer.Option("--n", help="Simulated datasets")] = 100,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    months: Annotated[int, typer.Option("--months", help="Months in each dataset")] = 36,
    start: Annotated[
        str, typer.Option("--start", help="First month of each dataset (YYYY-MM-DD)")
    ] = "2019-06-01",
    spec: Annotated[str, typer.Option("--spec", help="Model spec (name or TOML path)")] = "default",
    draws: Annotated[int, typer.Option("--draws", help="Draws per chain")] = 250,
    tune: Annotated[int, typer.Option("--tune", help="Tuning steps per chain")] = 400,
    chains: Annotated[int, typer.Option("--chains", help="Chains per fit")] = 2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of dataset 0 (then +1 each)")] = 1000,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Page folder (default: <store>/calibrations/<id>)"),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Simulation-based calibration: draw N datasets from the model's prior with the real
    data's availability (SIMULATED, each in a store of its own), fit each, and check that the
    rank of the true hidden inflow, share and power among the posterior draws is uniform and
    that intervals cover the truth as often as they say. Fits run in parallel on
    dask.distributed; each dataset's ranks are kept in the store as it finishes, so a stopped
    calibration resumes. Writes calibration.html and CSVs."""
    from nowcast.calibrate import CalibrationPlan, run_calibration, write_report
    from nowcast.model.spec import load_spec
    from nowcast.pipeline import sampler_settings
    from nowcast.report.calibration import verdict_sentences
    from nowcast.store import default_store_dir, parse_day

    first = parse_day(start, "--start")
    plan = CalibrationPlan(
        str(store or default_store_dir()),
        n=n,
        months=months,
        start=f"{first:%Y-%m}-01",
        sampler=sampler_settings(load_spec(spec), draws=draws, tune=tune, chains=chains),
        base_seed=seed,
        spec_name=spec,
    )
    run = _on_cluster("calibrating", run_calibration, plan, workers, scheduler)
    paths = write_report(run, out)
    from nowcast.calibrate import uniformity

    _finish_cluster_run(
        verdict_sentences(uniformity(run.ranks) if len(run.ranks) else pd.DataFrame()),
        f"Calibration {run.calibration_id} (SIMULATED data): {len(run.ran)} dataset(s) run,"
        f" {len(run.reused)} reused, {run.seconds:.0f} s; page {paths.html}",
        {f"dataset {i}": why for i, why in run.failed.items()},
    )
