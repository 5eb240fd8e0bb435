"""The ``history`` command: the nowcasts recorded in the store, as a table or JSON."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from nowcast.cli_common import StoreOpt, _fail, _table, app, console
from nowcast.errors import NowcastError

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
