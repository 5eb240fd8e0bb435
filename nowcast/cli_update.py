"""The ``update`` command: store new releases and update the current nowcast
(``nowcast.update``), then say what was stored and what moved the nowcast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from nowcast.cli_common import StoreOpt, _fail, _table, app, console
from nowcast.errors import NowcastError

if TYPE_CHECKING:
    from nowcast.update import UpdateResult


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
    if horizon is not None and horizon < 1:
        _fail(NowcastError(f"option --horizon: expected at least 1 month, got {horizon}"))
    from nowcast.sidecar import Sidecar

    # started first: its start-up runs beside this process's imports and the releases' checks
    with Sidecar() as sidecar, console.status("updating ...") as status:
        from nowcast.update import update as run_update

        result = run_update(
            list(files or []),
            source=source,
            published=published,
            store_dir=store,
            incoming_dir=incoming,
            horizon=horizon,
            refit=refit,
            notify=lambda m: status.update(str(m)),
            sidecar=sidecar,
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
