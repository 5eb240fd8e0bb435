"""The data commands: ``sources``, ``ingest``, ``data``, ``ingest-dir`` and ``simulate``
(the vintage store's contents and the simulator).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from nowcast.cli_common import DataOpt, StoreOpt, _fail, _table, _waiting, app, console
from nowcast.errors import NowcastError


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
