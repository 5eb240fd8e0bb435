"""U.S. EIA Europe Brent spot price FOB (series RBRTE), as mirrored by the datahub.io
``oil-prices`` package: ``brent_daily_eia.csv`` (trading days) and ``brent_monthly_eia.csv``
(monthly averages, each dated on the 15th of its month). Both are ``Date,Price`` in USD/bbl,
so a file is recognised by its first rows' dates: all on the 15th, one per month, is the
monthly file; anything else the daily one (a single row on the 15th fits both).

Dates: a day's price appears the next day and a month's average 7 days after the month, so
a row for the ingest day or later, or the average of a month that has not ended a week before
the ingest day, is refused (no partial months).

Licence: EIA data is in the public domain; acknowledge the U.S. Energy Information
Administration as the source (the datapackage itself is PDDL-1.0).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from nowcast.constants import WORLD
from nowcast.sources.base import (
    LINE,
    Source,
    check_unique,
    column_cells,
    csv_recogniser,
    lag,
    melt_wide,
    month_end,
    month_start,
    read_table,
    to_date,
    to_number,
    validate,
)

SERIES = "brent_usd_per_bbl"
UNIT = "USD/bbl"
OBSERVER = "U.S. EIA"
LICENCE = "public domain (U.S. EIA data; acknowledge the EIA); datahub.io package PDDL-1.0"

FIELDS = {"period_start": "Date", SERIES: "Price"}  # tidy column -> the file's, for errors

TIDY = pa.DataFrameSchema(
    {
        "period_start": pa.Column("datetime64[ns]", unique=True),
        "period_end": pa.Column("datetime64[ns]"),
        # Brent has never traded near zero or above a few hundred dollars
        SERIES: pa.Column(float, [pa.Check.gt(0.0), pa.Check.lt(1000.0)]),
    },
    strict=False,
)


def _read(path: Path) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    raw = read_table(path, ["Date", "Price"])
    return raw, to_date(path, raw, "Date"), to_number(path, raw, "Price")


def _dates(header: list[str], rows: list[list[str]]) -> list[date] | None:
    """The first rows' dates; ``None`` when there are none or one is not an ISO date."""
    try:
        days = [datetime.strptime(c, "%Y-%m-%d").date() for c in column_cells(header, rows, "Date")]
    except ValueError:
        return None
    return days or None


def _monthly(days: list[date]) -> bool:
    """Dated like the monthly file: every date on the 15th, one per month."""
    return all(d.day == 15 for d in days) and len({(d.year, d.month) for d in days}) == len(days)


def _looks_monthly(header: list[str], rows: list[list[str]]) -> bool:
    days = _dates(header, rows)
    # Without readable dates the two files cannot be told apart: both match, and the
    # caller asks for --source.
    return days is None or _monthly(days)


def _looks_daily(header: list[str], rows: list[list[str]]) -> bool:
    days = _dates(header, rows)
    # A single date on the 15th fits both files.
    return days is None or len(days) == 1 or not _monthly(days)


def parse_daily(path: Path) -> pd.DataFrame:
    """Daily tidy table: the Brent spot price (USD/bbl) on each trading day."""
    raw, day, price = _read(path)
    tidy = pd.DataFrame({"period_start": day, "period_end": day, SERIES: price, LINE: raw[LINE]})
    check_unique(path, tidy, ["period_start"], "day")
    return validate(path, tidy, TIDY, fields=FIELDS)


def parse_monthly(path: Path) -> pd.DataFrame:
    """Monthly tidy table: the month's average price (USD/bbl). The file dates each month on
    its 15th; the figure covers the whole month, so the period is month start .. month end."""
    raw, day, price = _read(path)
    tidy = pd.DataFrame(
        {
            "period_start": month_start(day),
            "period_end": month_end(day),
            SERIES: price,
            LINE: raw[LINE],
        }
    )
    check_unique(path, tidy, ["period_start"], "month")
    return validate(path, tidy, TIDY, fields=FIELDS)


def observe_daily(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per trading day, published the next day."""
    return melt_wide(
        tidy,
        {SERIES: UNIT},
        region=WORLD,
        observer=OBSERVER,
        published=lag(tidy["period_end"], 1),
    )


def observe_monthly(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per month (average of daily prices), published 7 days after month end."""
    return melt_wide(
        tidy,
        {SERIES: UNIT},
        region=WORLD,
        observer=OBSERVER,
        published=lag(tidy["period_end"], 7),
        note="monthly average of daily spot prices",
    )


DAILY = Source(
    name="eia_brent_daily",
    publisher="U.S. Energy Information Administration (via datahub.io oil-prices)",
    title="Europe Brent spot price FOB, daily (EIA series RBRTE)",
    file_format="CSV: Date,Price (ISO date, one row per trading day; USD per barrel)",
    units="USD/bbl",
    licence=LICENCE,
    published_rule="each trading day's price is published the next day (day + 1)",
    parse=parse_daily,
    observe=observe_daily,
    period_fields=("Date", "Date"),
    recognise=csv_recogniser(["Date", "Price"], check=_looks_daily),
    url="https://www.eia.gov/dnav/pet/hist/RBRTED.htm",
)

MONTHLY = Source(
    name="eia_brent_monthly",
    publisher="U.S. Energy Information Administration (via datahub.io oil-prices)",
    title="Europe Brent spot price FOB, monthly average (EIA series RBRTE)",
    file_format=(
        "CSV: Date,Price (one row per month, dated on the 15th: 2015-01-15 = January 2015;"
        " USD per barrel)"
    ),
    units="USD/bbl (monthly average)",
    licence=LICENCE,
    published_rule="a month's average is published 7 days after the month ends (month end + 7)",
    parse=parse_monthly,
    observe=observe_monthly,
    period_fields=("Date", "Date"),
    recognise=csv_recogniser(["Date", "Price"], check=_looks_monthly),
    url="https://www.eia.gov/dnav/pet/hist/RBRTEM.htm",
)

SOURCES = [DAILY, MONTHLY]

# ``parse``/``observe`` of the module: the daily product (the monthly one is ``MONTHLY``).
parse = parse_daily
observe = observe_daily
