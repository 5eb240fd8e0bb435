"""Command line: a thin layer over the Python API (``nowcast --help``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from nowcast.errors import NowcastError
from nowcast.files import write_csv


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


def _latest_run(root: Path) -> Path:
    """The newest run folder in a store."""
    runs = sorted((root / "runs").glob("*/posterior.nc"))
    if not runs:
        raise NowcastError(f"no fitted runs in {root / 'runs'}: run `nowcast fit` first")
    return runs[-1].parent


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


SamplerOpt = Annotated[
    str | None, typer.Option("--sampler", help="nutpie (default), pymc or numpyro")
]


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


def _fit(
    store: Path | None,
    as_of: str | None,
    spec_name: str,
    overrides: dict[str, object],
    strict: bool,
) -> tuple[object, Path]:
    from nowcast.fit import fit as run_fit
    from nowcast.fit import save_run
    from nowcast.model.spec import load_spec
    from nowcast.panel import build_panel
    from nowcast.store import Store, default_store_dir

    try:
        spec = load_spec(spec_name)
        sampler = spec.sampler.model_copy(
            update={k: v for k, v in overrides.items() if v is not None}
        )
        with Store(store, read_only=True) as st:
            simulated = not st.as_of(as_of).shape[0] and bool(
                st.as_of(as_of, simulated=True).shape[0]
            )
            panel = build_panel(st, as_of=as_of, start=spec.start, simulated=simulated)
        kind = panel.attrs["data_kind"]
        console.print(
            f"Fitting [bold]{spec.name}[/] ({spec.spec_hash()}) to {kind} data as of"
            f" {panel.attrs['as_of']}, {panel.sizes['month']} months, with {sampler.sampler}:"
            f" {sampler.chains} chains x {sampler.draws} draws (+{sampler.tune} tuning)"
        )
        with console.status("sampling ..."):
            result = run_fit(panel, spec, sampler=sampler)
        run_path = save_run(result, Path(store) if store else default_store_dir())
    except NowcastError as exc:
        _fail(exc)
    d = result.diagnostics
    console.print(_table(d.table.round(4), "Convergence diagnostics"))
    console.print(
        f"divergences: {d.divergences}; E-BFMI per chain: {[round(b, 2) for b in d.bfmi]};"
        f" times: {', '.join(f'{k} {v:.1f}' for k, v in result.timings.items())}"
    )
    if d.ok:
        console.print("[green]Diagnostics: all thresholds met.[/]")
    else:
        for p in d.problems:
            console.print(f"[bold red]Diagnostics FAILED:[/] {p}")
        console.print("[red]Treat this posterior with suspicion: rerun with more tuning.[/]")
    if kind != "real":
        console.print("[bold yellow]This fit rests on SIMULATED data.[/]")
    console.print(f"Posterior saved in {run_path}")
    if strict and not d.ok:
        raise typer.Exit(code=3)
    return result, run_path


@app.command()
def fit(
    data: DataOpt = None,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    spec: Annotated[
        str, typer.Option("--spec", help="Model spec in models/ or a path")
    ] = "default",
    sampler: SamplerOpt = None,
    draws: Annotated[int | None, typer.Option("--draws")] = None,
    tune: Annotated[int | None, typer.Option("--tune")] = None,
    chains: Annotated[int | None, typer.Option("--chains")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit non-zero when diagnostics miss thresholds")
    ] = False,
) -> None:
    """Fit the model and save the posterior (netCDF) with diagnostics and provenance.

    With --data, the folder is ingested first (what the store lacks)."""
    if data is not None:
        _ingest_dir(data, store)
    _fit(
        store,
        as_of,
        spec,
        {"sampler": sampler, "draws": draws, "tune": tune, "chains": chains, "seed": seed},
        strict,
    )


@app.command()
def identify(
    run_path: Annotated[
        Path | None, typer.Option("--run", help="A run folder (default: the latest in the store)")
    ] = None,
    store: StoreOpt = None,
    ablation: Annotated[
        bool, typer.Option("--ablation", help="Also refit leaving out each kind of evidence")
    ] = False,
    draws: Annotated[int | None, typer.Option("--draws", help="Draws per ablation fit")] = None,
) -> None:
    """What the data identify: posterior narrowing against the prior, power-scaling
    sensitivity to the prior and to each kind of evidence, and (with --ablation) the annual
    hidden inflow's interval when each kind of evidence is left out."""
    from nowcast import identify as ident
    from nowcast.fit import load_run
    from nowcast.store import default_store_dir

    root = Path(store) if store else default_store_dir()
    try:
        run_path = run_path or _latest_run(root)
        tree = load_run(run_path)
    except NowcastError as exc:
        _fail(exc)
    if tree.attrs.get("data_kind") != "real":
        console.print("[bold yellow]This posterior rests on SIMULATED data.[/]")
    narrow = ident.narrowing(tree)
    console.print(_table(narrow.round(3), "Narrowing: 1 - posterior variance / prior variance"))
    with console.status("power-scaling sensitivity ..."):
        sens = ident.sensitivity(ident.add_log_densities(tree))
    console.print(_table(sens.round(3), "Power-scaling sensitivity (above 0.05: sensitive)"))
    write_csv(narrow, Path(run_path) / "narrowing.csv")
    write_csv(sens, Path(run_path) / "sensitivity.csv")
    if ablation:
        spec = ident.spec_of(tree)
        sampler = spec.sampler
        if draws is not None:
            sampler = sampler.model_copy(update={"draws": draws})
        with console.status("refitting without each kind of evidence ..."):
            abl = ident.ablation(tree["panel"].to_dataset(), sampler=sampler, full=tree)
        console.print(
            _table(abl.round(3), "Annual hidden inflow, USD bn, 90% interval, by evidence used")
        )
        write_csv(abl, Path(run_path) / "ablation.csv")
    console.print(f"Tables saved in {run_path}")


ScenarioOpt = Annotated[
    Path | None,
    typer.Option("--scenario", help="Scenario TOML: BTC price and/or Brent paths by month"),
]
HorizonOpt = Annotated[int, typer.Option("--horizon", help="Months to forecast")]


def _report(tree, run_path: Path, horizon: int, scenario, diagnostics=None) -> None:
    from nowcast import identify as ident
    from nowcast.forecast import forecast
    from nowcast.report import render_report

    with console.status("forecasting ..."):
        forecasts = {"baseline": forecast(tree, horizon, seed=int(tree.attrs.get("seed", 0)))}
        if scenario is not None:
            forecasts[scenario.name] = forecast(
                tree, horizon, scenario, seed=int(tree.attrs.get("seed", 0))
            )
    with console.status("identification: narrowing and power-scaling sensitivity ..."):
        narrow = ident.narrowing(tree)
        sens = ident.sensitivity(ident.add_log_densities(tree))
    with console.status("rendering the report ..."):
        paths = render_report(
            tree,
            forecasts,
            run_path,
            diagnostics=diagnostics,
            narrowing_table=narrow,
            sensitivity_table=sens,
        )
    summary = pd.read_csv(paths.summary_csv)
    now = summary[summary["kind"] == "nowcast"].iloc[-1]
    kind = tree.attrs.get("data_kind", "real")
    tag = "" if kind == "real" else " [bold yellow](SIMULATED data)[/]"

    def m(q: str) -> str:
        return f"{now[f'hidden_inflow_usd_{q}'] / 1e6:,.0f}"

    console.print(
        f"Hidden mining inflow, {str(now['month'])[:7]}{tag}: median USD {m('median')} m,"
        f" 80% interval {m('lower_80')}-{m('upper_80')} m,"
        f" 95% interval {m('lower_95')}-{m('upper_95')} m"
    )
    console.print(f"Report: {paths.html}\n        {paths.pdf}\nSummary: {paths.summary_csv}")


@app.command()
def report(
    run_path: Annotated[
        Path | None, typer.Option("--run", help="A run folder (default: the latest in the store)")
    ] = None,
    store: StoreOpt = None,
    horizon: HorizonOpt = 6,
    scenario: ScenarioOpt = None,
) -> None:
    """Forecast from a saved posterior and write the HTML/PDF report and summaries."""
    from nowcast.fit import load_run
    from nowcast.forecast import load_scenario
    from nowcast.store import default_store_dir

    root = Path(store) if store else default_store_dir()
    try:
        sc = load_scenario(scenario) if scenario is not None else None
        run_path = run_path or _latest_run(root)
        tree = load_run(run_path)
        _report(tree, Path(run_path), horizon, sc)
    except NowcastError as exc:
        _fail(exc)


@app.command()
def run(
    data: DataOpt = None,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    horizon: HorizonOpt = 6,
    scenario: ScenarioOpt = None,
) -> None:
    """The main job (default: the bundled real data): ingest what the store lacks, fit the
    default model, nowcast the ragged edge, forecast h months ahead, and write the report
    (HTML, PDF), the summary (CSV, JSON) and the posterior (netCDF)."""
    from nowcast.forecast import load_scenario
    from nowcast.panel import build_panel, ragged_edge
    from nowcast.store import Store

    try:  # a bad scenario is refused before any work
        sc = load_scenario(scenario) if scenario is not None else None
    except NowcastError as exc:
        _fail(exc)
    _ingest_dir(data, store)
    try:
        with Store(store, read_only=True) as st:
            _print_summary(st.summary())
            panel = build_panel(st, as_of=as_of)
    except NowcastError as exc:
        _fail(exc)
    edge = ragged_edge(panel)
    console.print(
        _table(
            edge,
            f"Ragged edge of the panel as of {panel.attrs['as_of']}"
            f" ({panel.attrs['data_kind']} data)",
        )
    )
    result, run_path = _fit(store, as_of, "default", {}, strict=False)
    try:
        _report(result.tree, run_path, horizon, sc, diagnostics=result.diagnostics)
    except NowcastError as exc:
        _fail(exc)


def main() -> None:  # pragma: no cover - console entry point
    app()
