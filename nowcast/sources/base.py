"""Shared parsing machinery: every source module turns a publisher's file into a tidy table,
then into canonical *observations* (one row per published figure) that the store keeps.

Canonical observation columns (see ``OBSERVATIONS``):

``series``        what is measured, units in the name (``btc_hashrate_th_s``)
``region``        region code (``nowcast.regions``), ``WORLD`` for global series
``period_start``  first day the figure covers
``period_end``    last day the figure covers (inclusive): a month, a quarter, a year, a year-to-date
``value``         the figure, in ``unit``
``unit``          unit as text
``published``     the day the figure became public (from the file, a documented lag rule, or
                  ``--published``)
``observer``      who states the figure (a publisher, an office); two observers of one period are
                  two observations, not a revision
``note``          free text kept for the reader

Parsing reads every column as text first and converts with helpers that report the first bad
cell by file line (the header is line 1), so errors name the file, line and field.

Hostile input is refused before anything is stored: a row with more or fewer cells than the
header, a file cut off mid-row (no final newline), a column named twice, NUL bytes and other
invisible characters, another separator than the comma, dates nowcast cannot hold, and figures
dated after the ingest day
(``Source.load`` checks each figure's period and publication date against ``today``).

This module holds the observations' schema, ``Source`` and the helpers for periods and
observations; its parts live beside it: ``nowcast.sources.base_reading`` (reading a file, or
the first few KB of it that recognise its format) and ``nowcast.sources.base_checks``
(converting and checking cells, validation, dates against the ingest day).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from nowcast.errors import NowcastError
from nowcast.sources.base_checks import (
    EARLIEST_DATE,
    LATEST_DATE,
    check_dates,
    check_period_order,
    check_unique,
    fail_first_row,
    to_date,
    to_number,
    validate,
)
from nowcast.sources.base_reading import (
    LINE,
    SNIFF_BYTES,
    SNIFF_ROWS,
    column_cells,
    csv_recogniser,
    decode_text,
    head_rows,
    read_input,
    read_table,
    sniff,
)

# ``NOWCAST_TODAY=YYYY-MM-DD`` fixes the ingest day (tests, replaying an old ingest).
TODAY_ENV = "NOWCAST_TODAY"


def ingest_day() -> pd.Timestamp:
    """The ingest day: ``$NOWCAST_TODAY`` when set, else today's UTC date."""
    text = os.environ.get(TODAY_ENV, "").strip()
    if not text:
        return pd.Timestamp(datetime.now(UTC).date())
    try:
        day = pd.Timestamp(datetime.strptime(text, "%Y-%m-%d"))
    except ValueError:
        raise NowcastError(f"${TODAY_ENV}: expected a date as YYYY-MM-DD, got {text!r}") from None
    return day


OBSERVATION_COLUMNS = [
    "series",
    "region",
    "period_start",
    "period_end",
    "value",
    "unit",
    "published",
    "observer",
    "note",
]

OBSERVATIONS = pa.DataFrameSchema(
    {
        "series": pa.Column(str, pa.Check.str_matches(r"^[a-z][a-z0-9_]*$")),
        "region": pa.Column(str, pa.Check.str_length(min_value=1)),
        "period_start": pa.Column("datetime64[ns]"),
        "period_end": pa.Column("datetime64[ns]"),
        "value": pa.Column(float, pa.Check(np.isfinite, element_wise=False)),
        "unit": pa.Column(str, pa.Check.str_length(min_value=1)),
        "published": pa.Column("datetime64[ns]"),
        "observer": pa.Column(str),
        "note": pa.Column(str),
    },
    checks=[
        pa.Check(
            lambda df: df["period_end"] >= df["period_start"],
            error="period_end before period_start",
        ),
    ],
    unique=["series", "region", "period_start", "period_end", "observer", "published"],
    strict=True,
    ordered=False,
)


@dataclass(frozen=True)
class Source:
    """A publisher's data product and how to read it.

    ``parse(path)`` returns the tidy, schema-checked table (units in column names, the file
    line of each row in ``_line``); ``observe(tidy)`` turns it into canonical observations with
    a ``published`` date set by the file or by the documented lag rule ``published_rule``.

    ``period_fields`` names the file's columns that date each figure's period (first and last
    day; the same column twice when one date gives the period), so a figure dated after the
    ingest day is refused naming the file's own field. A parser may override them for one
    file layout through ``tidy.attrs["period_fields"]`` (the CBR's XML says ``Date``).

    Dates are checked against the ingest day ``today`` (``Source.load``): every figure must be
    published by then (by the file or the rule), and its period must have ended by then, unless
    ``partial_periods`` says the source states figures for periods still running (a rate set in
    advance, a point-in-time figure that covers its month); ``ahead_days`` is how many days
    after the ingest day such a period may begin (1 for a rate set the day before it applies).

    ``recognise(path)`` says whether a file is in this source's format, from its first few KB
    only (header columns, XML root, the first rows' dates), so ``nowcast update FILE`` can do
    without ``--source``; it never raises (``csv_recogniser`` builds one from a header).
    """

    name: str
    publisher: str
    title: str
    file_format: str
    units: str
    licence: str
    published_rule: str
    parse: Callable[[Path], pd.DataFrame]
    observe: Callable[[pd.DataFrame], pd.DataFrame]
    period_fields: tuple[str, str]
    url: str = ""
    # True when the file itself states each figure's publication date (release tables,
    # published estimates); False when ``published_rule`` derives it from the period.
    published_in_file: bool = False
    partial_periods: bool = False
    ahead_days: int = 0
    recognise: Callable[[Path], bool] | None = None

    def load(
        self,
        path: str | Path,
        published: pd.Timestamp | None = None,
        *,
        today: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Parse ``path`` into validated canonical observations.

        ``published`` overrides the publication date of every row (``--published``);
        ``today`` is the ingest day (default ``ingest_day()``): later figures are refused.
        """
        path = Path(path)
        tidy = self.parse(path)
        return self.finish(path, tidy, self.observe(tidy), published, today)

    def finish(
        self,
        path: Path,
        tidy: pd.DataFrame,
        obs: pd.DataFrame,
        published: pd.Timestamp | None,
        today: pd.Timestamp | None,
    ) -> pd.DataFrame:
        """Apply ``--published``, refuse figures dated after ``today`` and validate."""
        if published is not None:
            obs = obs.assign(published=pd.Timestamp(published).normalize())
        fields = tidy.attrs.get("period_fields", self.period_fields)
        check_dates(
            path,
            obs,
            self,
            today=ingest_day() if today is None else pd.Timestamp(today).normalize(),
            fields=fields,
            overridden=published is not None,
        )
        return validate_observations(obs, path)


# --------------------------------------------------------------------------- periods


def month_end(ts: pd.Series) -> pd.Series:
    """Last day of each timestamp's month."""
    return (ts + pd.offsets.MonthEnd(0)).astype("datetime64[ns]")


def month_start(ts: pd.Series) -> pd.Series:
    """First day of each timestamp's month."""
    return ts.dt.to_period("M").dt.start_time.astype("datetime64[ns]")


def lag(ts: pd.Series, days: int) -> pd.Series:
    """A documented publication lag: ``days`` after ``ts``."""
    return (ts + pd.Timedelta(days=days)).astype("datetime64[ns]")


# --------------------------------------------------------------------------- observations


def observation_columns(df: pd.DataFrame) -> list[str]:
    """``OBSERVATION_COLUMNS``, plus the file line ``_line`` when ``df`` carries it (so date
    and validation errors on observations can still name the line)."""
    return [*OBSERVATION_COLUMNS, LINE] if LINE in df.columns else list(OBSERVATION_COLUMNS)


def melt_wide(
    tidy: pd.DataFrame,
    value_columns: dict[str, str],
    *,
    region: str,
    observer: str,
    published: pd.Series,
    note: str = "",
) -> pd.DataFrame:
    """Turn a wide tidy table (``period_start``, ``period_end``, one column per series, named
    with its unit) into canonical observations; ``value_columns`` maps column -> unit text.
    Empty cells are not observations and are dropped.
    """
    keep = [c for c in ("period_start", "period_end", LINE) if c in tidy.columns]
    base = tidy[keep].assign(published=published.to_numpy())
    parts = []
    for col, unit in value_columns.items():
        part = base.assign(series=col, value=tidy[col].to_numpy(dtype=float), unit=unit)
        parts.append(part[part["value"].notna()])
    obs = pd.concat(parts, ignore_index=True)
    obs = obs.assign(region=region, observer=observer, note=note)
    return obs[observation_columns(obs)]


def validate_observations(obs: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Check canonical observations (types, period order, one figure per key and vintage);
    the file line ``_line``, when present, names the row of an error and is then dropped."""
    lines = obs[LINE].reset_index(drop=True) if LINE in obs.columns else None
    obs = obs.copy()
    for col in ("series", "region", "unit", "observer", "note"):
        obs[col] = obs[col].fillna("").astype(str)
    for col in ("period_start", "period_end", "published"):
        obs[col] = pd.to_datetime(obs[col]).astype("datetime64[ns]")
    obs["value"] = obs["value"].astype(float)
    obs = obs[OBSERVATION_COLUMNS].reset_index(drop=True)
    return validate(path, obs, OBSERVATIONS, lines=lines)


__all__ = [
    "EARLIEST_DATE",
    "LATEST_DATE",
    "LINE",
    "OBSERVATIONS",
    "OBSERVATION_COLUMNS",
    "SNIFF_BYTES",
    "SNIFF_ROWS",
    "TODAY_ENV",
    "Source",
    "check_dates",
    "check_period_order",
    "check_unique",
    "column_cells",
    "csv_recogniser",
    "decode_text",
    "fail_first_row",
    "head_rows",
    "ingest_day",
    "lag",
    "melt_wide",
    "month_end",
    "month_start",
    "observation_columns",
    "read_input",
    "read_table",
    "sniff",
    "to_date",
    "to_number",
    "validate",
    "validate_observations",
]
