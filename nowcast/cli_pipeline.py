"""The pipeline commands: ``fit``, ``identify``, ``report`` and ``run`` (over
``nowcast.pipeline``), with how they show its progress and results.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nowcast.cli_common import AsOfOpt, DataOpt, StoreOpt, _fail, _table, app, console
from nowcast.errors import NowcastError

if TYPE_CHECKING:  # the pipeline is imported when a command runs: `nowcast --help` stays fast
    from nowcast.pipeline import DataOverview, FitPlan, FittedRun, RunResult


# --------------------------------------------------------------------------- the pipeline
# fit, identify, report and run parse their options, call nowcast.pipeline and print.


class _Progress:
    """Shows what the pipeline tells it: a spinner for the step under way, short summaries of
    what each step produced."""

    def __init__(self) -> None:
        self.status = console.status("")

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.status.stop()

    def __call__(self, event: object) -> None:
        from nowcast import pipeline

        if isinstance(event, pipeline.Step):
            self.status.update(event.message)
            self.status.start()
            return
        self.status.stop()
        if isinstance(event, pipeline.IngestSummary):
            console.print(str(event))
        elif isinstance(event, pipeline.DataOverview):
            _show_overview(event)
        elif isinstance(event, pipeline.FitPlan):
            _show_plan(event)
        elif isinstance(event, pipeline.FittedRun):
            _show_fit(event, full=False)


def _show_overview(ov: DataOverview) -> None:
    console.print(_table(ov.sources, "The store by source (every series: `nowcast data`)"))
    console.print(
        _table(
            ov.evidence,
            f"Ragged edge: the last month each kind of evidence reaches in the panel"
            f" {ov.first_month:%Y-%m}..{ov.last_month:%Y-%m} as of {ov.as_of}"
            f" ({ov.data_kind} data)",
        )
    )


def _show_plan(plan: FitPlan) -> None:
    s = plan.sampler
    console.print(
        f"Fitting [bold]{plan.spec.name}[/] ({plan.spec.spec_hash()}) to {plan.data_kind} data"
        f" as of {plan.as_of}, {plan.months} months, with {s.sampler}:"
        f" {s.chains} chains x {s.draws} draws (+{s.tune} tuning)"
    )
    if plan.data_kind != "real":
        console.print("[bold yellow]This fit rests on SIMULATED data.[/]")


def _show_fit(fitted: FittedRun, full: bool) -> None:
    """Diagnostics of a fit: the table by variable and every variable behind a problem when
    ``full``, else the problems with their variables counted."""
    d = fitted.diagnostics
    if full:
        console.print(_table(d.table.round(4), "Convergence diagnostics"))
        console.print(
            f"divergences: {d.divergences}; E-BFMI per chain: {[round(b, 2) for b in d.bfmi]};"
            f" times: {', '.join(f'{k} {v:.1f}' for k, v in fitted.result.timings.items())}"
        )
    if d.ok:
        console.print("[green]Diagnostics: all thresholds met.[/]")
    else:
        from nowcast.report.text import short_problems

        for p in d.problems if full else short_problems(d):
            console.print(f"[bold red]Diagnostics FAILED:[/] {p}")
        console.print("[red]Treat this posterior with suspicion: rerun with more tuning.[/]")
    if fitted.tree.attrs.get("data_kind", "real") != "real":
        console.print("[bold yellow]This posterior rests on SIMULATED data.[/]")
    console.print(f"Posterior saved in {fitted.path}")


def _show_result(result: RunResult) -> None:
    lm = result.headline["latest_month"]
    tag = " [bold yellow](SIMULATED data)[/]" if result.simulated else ""

    def m(q: str) -> str:
        return f"{lm[q] / 1e6:,.0f}"

    console.print(
        f"Hidden mining inflow, {lm['month']}{tag}: median USD {m('median')} m,"
        f" 80% interval {m('lower_80')}-{m('upper_80')} m,"
        f" 95% interval {m('lower_95')}-{m('upper_95')} m"
    )
    paths = result.report
    console.print(f"Report: {paths.html}\n        {paths.pdf}\nSummary: {paths.summary_csv}")


SamplerOpt = Annotated[
    str | None, typer.Option("--sampler", help="nutpie (default), pymc or numpyro")
]
DrawsOpt = Annotated[int | None, typer.Option("--draws", help="Draws per chain")]
TuneOpt = Annotated[int | None, typer.Option("--tune", help="Tuning draws per chain")]
ChainsOpt = Annotated[int | None, typer.Option("--chains", help="Chains")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Sampler seed")]
RunOpt = Annotated[
    Path | None, typer.Option("--run", help="A run folder (default: the latest in the store)")
]
ScenarioOpt = Annotated[
    Path | None,
    typer.Option("--scenario", help="Scenario TOML: BTC price and/or Brent paths by month"),
]
HorizonOpt = Annotated[int, typer.Option("--horizon", help="Months to forecast")]


@app.command()
def fit(
    data: DataOpt = None,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    spec: Annotated[
        str, typer.Option("--spec", help="Model spec in models/ or a path")
    ] = "default",
    sampler: SamplerOpt = None,
    draws: DrawsOpt = None,
    tune: TuneOpt = None,
    chains: ChainsOpt = None,
    seed: SeedOpt = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit non-zero when diagnostics miss thresholds")
    ] = False,
) -> None:
    """Fit the model and save the posterior (netCDF) with diagnostics and provenance.

    With --data, the folder is ingested first (what the store lacks)."""
    from nowcast import pipeline
    from nowcast.model.spec import load_spec

    try:
        model = load_spec(spec)
        settings = pipeline.sampler_settings(
            model, sampler=sampler, draws=draws, tune=tune, chains=chains, seed=seed
        )
        if data is not None:
            console.print(str(pipeline.ingest(data, store)))
        panel = pipeline.load_panel(store, as_of, spec=model)
        _show_plan(pipeline.plan_fit(panel, model, settings))
        with console.status("sampling ..."):
            fitted = pipeline.fit_and_save(panel, model, sampler=settings, store_dir=store)
    except NowcastError as exc:
        _fail(exc)
    _show_fit(fitted, full=True)
    if strict and not fitted.diagnostics.ok:
        raise typer.Exit(code=3)


@app.command()
def identify(
    run_path: RunOpt = None,
    store: StoreOpt = None,
    ablation: Annotated[
        bool, typer.Option("--ablation", help="Also refit leaving out each kind of evidence")
    ] = False,
    draws: Annotated[int | None, typer.Option("--draws", help="Draws per ablation fit")] = None,
) -> None:
    """What the data identify: posterior narrowing against the prior, power-scaling
    sensitivity to the prior and to each kind of evidence, and (with --ablation) the annual
    hidden inflow's interval when each kind of evidence is left out."""
    from nowcast import pipeline

    try:
        run_path, tree = pipeline.open_run(run_path, store)
        if tree.attrs.get("data_kind", "real") != "real":
            console.print("[bold yellow]This posterior rests on SIMULATED data.[/]")
        work = "refitting without each kind of evidence" if ablation else "power-scaling"
        with console.status(f"identification: narrowing, sensitivity ({work}) ..."):
            result = pipeline.identify(tree, ablation=ablation, ablation_draws=draws)
        pipeline.save_identification(result, run_path)
    except NowcastError as exc:
        _fail(exc)
    console.print(
        _table(result.narrowing.round(3), "Narrowing: 1 - posterior variance / prior variance")
    )
    console.print(
        _table(result.sensitivity.round(3), "Power-scaling sensitivity (above 0.05: sensitive)")
    )
    if result.ablation is not None:
        console.print(
            _table(
                result.ablation.round(3),
                "Annual hidden inflow, USD bn, 90% interval, by evidence used",
            )
        )
    console.print(f"Tables saved in {run_path}")


@app.command()
def report(
    run_path: RunOpt = None,
    store: StoreOpt = None,
    horizon: HorizonOpt = 6,
    scenario: ScenarioOpt = None,
) -> None:
    """Forecast from a saved posterior and write the HTML/PDF report and summaries."""
    from nowcast import pipeline
    from nowcast.forecast import load_scenario

    try:
        sc = load_scenario(scenario) if scenario is not None else None
        pipeline.check_scenario(sc)
        with _Progress() as progress:
            result = pipeline.report_run(
                run_path, store_dir=store, horizon=horizon, scenario=sc, notify=progress
            )
    except NowcastError as exc:
        _fail(exc)
    _show_result(result)


@app.command()
def run(
    data: DataOpt = None,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    horizon: HorizonOpt = 6,
    scenario: ScenarioOpt = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="First month of the window (default: the spec's start)"),
    ] = None,
    sampler: SamplerOpt = None,
    draws: DrawsOpt = None,
    tune: TuneOpt = None,
    chains: ChainsOpt = None,
    seed: SeedOpt = None,
) -> None:
    """The main job (default: the bundled real data): ingest what the store lacks, fit the
    default model, nowcast the ragged edge, forecast h months ahead, and write the report
    (HTML, PDF), the summary (CSV, JSON) and the posterior (netCDF)."""
    from nowcast.sidecar import Sidecar

    with Sidecar() as sidecar:  # its start-up runs beside this process's imports
        from nowcast import pipeline
        from nowcast.forecast import load_scenario
        from nowcast.model.spec import load_spec

        try:  # bad options are refused before any work
            sc = load_scenario(scenario) if scenario is not None else None
            pipeline.check_scenario(sc)
            model = load_spec()
            settings = pipeline.sampler_settings(
                model, sampler=sampler, draws=draws, tune=tune, chains=chains, seed=seed
            )
            with _Progress() as progress:
                result = pipeline.run(
                    data,
                    store,
                    as_of=as_of,
                    start=start,
                    horizon=horizon,
                    scenario=sc,
                    spec=model,
                    sampler=settings,
                    notify=progress,
                    sidecar=sidecar,
                )
        except NowcastError as exc:
            _fail(exc)
    _show_result(result)
