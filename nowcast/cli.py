"""Command line: a thin layer over the Python API (``nowcast --help``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from nowcast.errors import NowcastError

if TYPE_CHECKING:  # the pipeline is imported when a command runs: `nowcast --help` stays fast
    from nowcast.pipeline import DataOverview, FitPlan, FittedRun, RunResult
    from nowcast.update import UpdateResult


class _Commands(TyperGroup):
    """Every user error ends in a plain message and exit code 2, never a traceback, whichever
    command raised it: ``NowcastError`` (files, store, specs, runs) and ``OSError`` (the
    environment: a folder where a file was expected, permissions, a full disk)."""

    def invoke(self, ctx: typer.Context) -> object:
        try:
            return super().invoke(ctx)
        except (NowcastError, OSError) as exc:
            _fail(exc)


app = typer.Typer(
    cls=_Commands,
    help="Bayesian nowcasts of Russia's hidden crypto-mining export inflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, files) gets a wide console so tables are not squeezed.
console = Console(width=None if sys.stdout.isatty() else 200)

StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Store folder (default: $NOWCAST_STORE or ./store)"),
]
DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Data folder with a MANIFEST.toml (default: data/)")
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Use only what was published by this date")
]

WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="Local worker processes (default: one per core)")
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Address of an existing dask scheduler (tcp://host:8786); its workers must see the"
        " store at the same path",
    ),
]


def _fail(exc: Exception) -> None:
    """Print ``exc`` as a plain error (its text is not markup) and exit with code 2."""
    if isinstance(exc, OSError) and not isinstance(exc, NowcastError):
        where = f"{exc.filename}: " if exc.filename else ""
        text = f"{where}{exc.strerror or exc}"
    else:
        text = str(exc)
    console.print(f"[bold red]error:[/] {escape(text)}")
    raise typer.Exit(code=2)


def _waiting(message: str) -> None:
    """What a writer waits for (another process writing to the store)."""
    console.print(f"[yellow]{escape(message)}[/]")


def _table(df: pd.DataFrame, title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for col in df.columns:
        table.add_column(str(col))
    for row in df.itertuples(index=False):
        table.add_row(*["" if pd.isna(v) else _fmt(v) for v in row])
    return table


def _fmt(v: object) -> str:
    if isinstance(v, pd.Timestamp):
        return f"{v:%Y-%m-%d}"
    if isinstance(v, float):
        return f"{v:,.4g}"
    return str(v)


@app.command()
def sources() -> None:
    """List every source: publisher, format, units, licence, how its publication date is set."""
    from nowcast.sources import SOURCES

    for s in SOURCES.values():
        table = Table(
            title=f"[bold]{s.name}[/]: {s.title}", show_header=False, title_justify="left"
        )
        table.add_column(style="dim")
        table.add_column()
        table.add_row("publisher", s.publisher)
        table.add_row("format", s.file_format)
        table.add_row("units", s.units)
        table.add_row("licence", s.licence)
        table.add_row(
            "published date",
            s.published_rule,
        )
        if s.url:
            table.add_row("url", s.url)
        console.print(table)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="The publisher's file")],
    source: Annotated[str, typer.Option("--source", help="Source name (see `nowcast sources`)")],
    published: Annotated[
        str | None, typer.Option("--published", help="Publication date for every figure")
    ] = None,
    simulated: Annotated[
        bool | None,
        typer.Option(
            "--simulated/--real",
            help="Mark as simulated or real (default: simulated if the folder has SIMULATED.txt)",
        ),
    ] = None,
    store: StoreOpt = None,
) -> None:
    """Validate one file and add its figures to the vintage store (all or nothing).

    Figures dated after today (UTC, or $NOWCAST_TODAY) are refused. While another process
    writes to the store this one waits for it, up to $NOWCAST_LOCK_TIMEOUT seconds (300)."""
    from nowcast.sources import get_source
    from nowcast.store import Store

    try:
        get_source(source)  # before the store is opened
        with Store(store, on_wait=_waiting) as st:
            res = st.ingest(file, source, published=published, simulated=simulated)
    except (NowcastError, KeyError) as exc:
        _fail(exc)
    kind = "SIMULATED" if res.simulated else "real"
    if res.already_ingested:
        console.print(f"{file}: already ingested ({res.file_sha256[:12]}); nothing changed")
    else:
        console.print(
            f"{file}: {res.rows_in_file} figures read, {res.rows_added} new ({kind}) in {st.path}"
        )


@app.command()
def data(store: StoreOpt = None) -> None:
    """What the store holds: each series, real or simulated, its frequency, first and last
    period, how many vintages, when last published."""
    from nowcast.store import Store

    try:
        with Store(store, read_only=True) as st:
            summary = st.summary()
    except NowcastError as exc:
        _fail(exc)
    _print_summary(summary)


def _print_summary(summary: pd.DataFrame) -> None:
    cols = [
        "series",
        "region",
        "source",
        "kind",
        "frequency",
        "first_period",
        "last_period",
        "periods",
        "revised_periods",
        "max_vintages",
        "last_published",
    ]
    console.print(_table(summary[cols], "What the store holds"))
    n_sim = int((summary["kind"] == "SIMULATED").sum())
    if n_sim:
        console.print(f"[bold yellow]{n_sim} SIMULATED series in this store[/]")


@app.command("ingest-dir")
def ingest_dir_cmd(data: DataOpt = None, store: StoreOpt = None) -> None:
    """Ingest every file listed in a data folder's MANIFEST.toml."""
    _ingest_dir(data, store)


def _ingest_dir(data: Path | None, store: Path | None) -> Path:
    from nowcast.datasets import bundled_data_dir, ingest_dir
    from nowcast.store import Store

    data_dir = data or bundled_data_dir()
    t0 = time.perf_counter()
    try:
        with Store(store, on_wait=_waiting) as st:
            results = ingest_dir(st, data_dir)
            path = st.path
    except (NowcastError, KeyError) as exc:
        _fail(exc)
    added = sum(r.rows_added for r in results)
    console.print(
        f"Ingested {len(results)} files from {data_dir} into {path}: {added} new figures"
        f" ({time.perf_counter() - t0:.1f} s)"
    )
    return path


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the SIMULATED dataset")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed")] = 1,
    months: Annotated[int, typer.Option("--months", help="Number of months T")] = 120,
    start: Annotated[
        str | None, typer.Option("--start", help="First month (default: T months to the end)")
    ] = None,
    rich: Annotated[
        bool, typer.Option("--rich", help="Monthly regional electricity and a monthly share")
    ] = False,
) -> None:
    """Draw a SIMULATED dataset from the model's generative story, in the publishers' formats,
    with truth.csv (true monthly hidden inflow in USD, hashrate share, mining power)."""
    from nowcast.simulate import simulate as run_simulation

    try:
        sim = run_simulation(out, seed=seed, months=months, start=start, rich=rich)
    except NowcastError as exc:
        _fail(exc)
    t = sim.truth
    console.print(
        f"[bold yellow]SIMULATED[/] dataset in {sim.out_dir}: {len(t)} months"
        f" {t.month.iloc[0]:%Y-%m}..{t.month.iloc[-1]:%Y-%m};"
        f" true hidden inflow {t.hidden_inflow_usd.sum() / 1e9:.2f} bn USD in all."
        f" Ingest with: nowcast ingest-dir --data {sim.out_dir} --store DIR"
    )


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
            )
    except NowcastError as exc:
        _fail(exc)
    _show_result(result)


# --------------------------------------------------------------------------- nowcast history


def _bn(value: float) -> str:
    return "" if pd.isna(value) else f"{value / 1e9:,.2f}"


def _interval(low: float, high: float) -> str:
    return "" if pd.isna(low) or pd.isna(high) else f"{low / 1e9:,.2f}-{high / 1e9:,.2f}"


def _when(value: pd.Timestamp) -> str:
    return f"{value:%Y-%m-%d %H:%M}"


def _json_records(df: pd.DataFrame) -> str:
    """The history as JSON records: dates as YYYY-MM-DD, ``recorded_at`` as an ISO date and
    time, missing values as null."""
    import json

    def plain(key: str, value: object) -> object:
        if isinstance(value, pd.Timestamp):
            return value.isoformat() if key == "recorded_at" else value.date().isoformat()
        if pd.isna(value):  # type: ignore[arg-type]
            return None
        return value.item() if hasattr(value, "item") else value

    records = [{k: plain(k, v) for k, v in row.items()} for row in df.to_dict("records")]
    return json.dumps(records, indent=2)


@app.command()
def history(
    month: Annotated[
        str | None,
        typer.Option("--month", help="A month, YYYY-MM: how its estimate moved across nowcasts"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON records (dates as ISO text) for scripts")
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Every nowcast recorded in the store (by `nowcast run` and `nowcast update`), oldest
    first: when, on which data and spec, how it was made (path: run, fast or refit, with the
    Pareto k), and its headline month's hidden inflow in USD bn. The latest is the current
    nowcast. With --month, how the estimate of that month moved across the nowcasts."""
    from nowcast.history import parse_month
    from nowcast.store import Store

    try:
        target = parse_month(month, "--month") if month is not None else None
        with Store(store, read_only=True) as st:
            where = st.path
            df = st.nowcasts() if target is None else st.estimates(target)
    except NowcastError as exc:
        _fail(exc)
    if as_json:
        typer.echo(_json_records(df))
        return
    if df.empty:
        if target is None:
            console.print(f"No nowcast recorded in {where} yet: `nowcast run` records one.")
        else:
            console.print(f"No nowcast recorded in {where} has an estimate of {target}.")
        return
    sim = (df["data_kind"] != "real").any()
    if target is None:
        shown = pd.DataFrame(
            {
                "#": df["nowcast_id"],
                "recorded (UTC)": df["recorded_at"].map(_when),
                "data as of": df["data_as_of"],
                "data": df["data_kind"],
                "spec": df["spec_name"] + " " + df["spec_hash"].str[:8],
                "path": df["path"],
                "k": df["pareto_k"].map(lambda k: "" if pd.isna(k) else f"{k:.2f}"),
                "month": df["headline_month"],
                "median": df["median"].map(_bn),
                "80% interval": [
                    _interval(lo, hi) for lo, hi in zip(df["lower_80"], df["upper_80"], strict=True)
                ],
            }
        )
        title = "Recorded nowcasts: hidden inflow of the latest fitted month, USD bn"
    else:
        shown = pd.DataFrame(
            {
                "#": df["nowcast_id"],
                "recorded (UTC)": df["recorded_at"].map(_when),
                "data as of": df["data_as_of"],
                "path": df["path"],
                "status": df["status"],
                "median": df["median"].map(_bn),
                "80% interval": [
                    _interval(lo, hi) for lo, hi in zip(df["lower_80"], df["upper_80"], strict=True)
                ],
            }
        )
        title = f"Hidden inflow of {target} across nowcasts, USD bn per month"
    console.print(_table(shown.astype(str), title))
    if target is None:
        last = df.iloc[-1]
        console.print(
            f"Current nowcast: #{last['nowcast_id']}, recorded {_when(last['recorded_at'])}"
            f" UTC, run folder {escape(str(last['run_path']))}"
        )
    if sim:
        console.print("[bold yellow]Some of these nowcasts rest on SIMULATED data.[/]")


# --------------------------------------------------------------------------- nowcast update


@app.command()
def update(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Release files (default: every file in the incoming folder)"),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source", help="Source of every FILE (default: recognised from each file's format)"
        ),
    ] = None,
    published: Annotated[
        str | None, typer.Option("--published", help="Publication date for every figure")
    ] = None,
    incoming: Annotated[
        Path | None,
        typer.Option(
            "--incoming", help="Incoming folder (default: $NOWCAST_INCOMING or data/incoming)"
        ),
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option("--horizon", help="Months to forecast (default: the previous nowcast's)"),
    ] = None,
    refit: Annotated[
        bool, typer.Option("--refit", help="Refit even when reweighting could stand for it")
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Store new releases and update the current nowcast: each file is validated and stored as
    a new vintage (all files are checked before any is stored), then the last run's draws are
    reweighted by what changed (the fast path) or the model is refitted when reweighting
    cannot stand for a fit (Pareto k above 0.7, another model structure). Writes the run
    folder with the report and revision.csv (the news: what each release moved) and records
    the nowcast in the history (`nowcast history`). Without FILE, takes every file in the
    incoming folder and moves each to done/ or refused/ with a note. Nothing new: nothing
    changes."""
    from nowcast.update import update as run_update

    if horizon is not None and horizon < 1:
        _fail(NowcastError(f"option --horizon: expected at least 1 month, got {horizon}"))
    with console.status("updating ...") as status:
        result = run_update(
            list(files or []),
            source=source,
            published=published,
            store_dir=store,
            incoming_dir=incoming,
            horizon=horizon,
            refit=refit,
            notify=lambda m: status.update(str(m)),
        )
    for name, why in result.refused.items():
        console.print(f"[bold red]refused[/] {escape(name)}: {escape(why)}")
    _report_update(result)
    if result.refused:  # the others were used; the exit code still says input was refused
        raise typer.Exit(code=2)


def _report_update(result: UpdateResult) -> None:
    """What an update stored, how it updated the nowcast and what moved it."""
    for name in result.stored:
        console.print(f"stored {escape(name)}")
    for name in result.unchanged:
        console.print(f"{escape(name)}: already stored; nothing new in it")
    if result.status == "nothing new":
        console.print("Nothing new: the store already holds every figure; the nowcast stands.")
        return
    for what in result.waiting:
        console.print(f"[yellow]waiting for {escape(what)}[/]: the nowcast ends before it")
    how = (
        f"fast path (importance reweighting, Pareto k {result.pareto_k:.2f},"
        f" effective sample size {result.ess:,.0f})"
        if result.path == "fast"
        else f"refit ({escape(result.reason)})"
    )
    console.print(f"Updated by {how}; run saved in {result.run_path}")
    if result.revision is not None and len(result.revision):
        shown = result.revision.assign(
            d_median_usd_m=result.revision["d_median_usd"] / 1e6,
            d_width80_usd_m=result.revision["d_width80_usd"] / 1e6,
        )[["target", "release", "kind", "d_median_usd_m", "d_width80_usd_m"]]
        console.print(_table(shown, "What moved the nowcast (USD m; revision.csv)"))
    lm = result.headline.get("latest_month")
    if lm:
        console.print(
            f"Hidden mining inflow, {lm['month']}: median USD {lm['median'] / 1e6:,.0f} m,"
            f" 80% interval {lm['lower_80'] / 1e6:,.0f}-{lm['upper_80'] / 1e6:,.0f} m"
        )


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


def main() -> None:  # pragma: no cover - console entry point
    app()
