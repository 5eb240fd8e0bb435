"""What every command of the command line shares: the Typer ``app`` they register on,
the console they print to, the common options and how errors and tables are printed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from nowcast.errors import NowcastError


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
