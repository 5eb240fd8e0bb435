"""Electricity consumption figures of the System Operator (SO UPS) and regional officials, as
they were published: a hand-compiled CSV, one row per figure, each with the page that relayed it.

Columns: ``area,period_start,period_end,period_type,consumption_mln_kwh,attributed_to,
relayed_by_url,note``. ``period_type`` is ``month`` (one calendar month), ``year`` (one
calendar year) or ``ytd`` (1 January to a month end). Every row is a **sum over its period**,
not a monthly series. Area names map to region codes through ``nowcast.regions.region_code``
(``Irkutsk oblast energy system`` -> ``RU-IRK``, ``UES of Russia`` -> ``RU-UES``,
``Russia total`` -> ``RU``).

Two official figures for one area and period (Irkutsk 2024: 71,800 and 72,600 million kWh)
are two observations with different observers (``attributed_to``), not a revision.

The file carries no publication dates. Rule: period end + 20 days for months and
year-to-date totals (the System Operator's monthly release comes out in the following weeks),
period end + 30 days for years (annual totals are announced in January). The System Operator
stopped publishing monthly consumption after September 2022. A period that has not ended (or
whose rule date is after the ingest day) is refused: the figures are sums over whole periods.
The file is kept by hand, so its last line may lack a newline (its last column is a note).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from nowcast.regions import region_code
from nowcast.sources.base import (
    LINE,
    Source,
    check_period_order,
    check_unique,
    csv_recogniser,
    fail_first_row,
    month_end,
    observation_columns,
    read_table,
    to_date,
    to_number,
    validate,
)

SERIES = "electricity_consumption_mln_kwh"
UNIT = "million kWh"
COLUMNS = [
    "area",
    "period_start",
    "period_end",
    "period_type",
    "consumption_mln_kwh",
    "attributed_to",
    "relayed_by_url",
    "note",
]
LAG_DAYS = {"month": 20, "ytd": 20, "year": 30}

TIDY = pa.DataFrameSchema(
    {
        "region": pa.Column(str, pa.Check.str_length(min_value=1)),
        "period_start": pa.Column("datetime64[ns]"),
        "period_end": pa.Column("datetime64[ns]"),
        "period_type": pa.Column(str, pa.Check.isin(list(LAG_DAYS))),
        SERIES: pa.Column(float, pa.Check.gt(0)),
        "observer": pa.Column(str, pa.Check.str_length(min_value=1)),
        "note": pa.Column(str),
    },
    strict=False,
)


def _check_period_types(path: Path, tidy: pd.DataFrame) -> None:
    """A ``month`` row spans one calendar month, a ``year`` row one calendar year, a ``ytd``
    row starts on 1 January and ends on a month end within that year."""
    start, end, kind = tidy["period_start"], tidy["period_end"], tidy["period_type"]
    starts_month = start.dt.day == 1
    ends_month = end == month_end(end)
    same_year = start.dt.year == end.dt.year
    jan1 = starts_month & (start.dt.month == 1)
    ok = {
        "month": starts_month & (end == month_end(start)),
        "year": jan1 & (end.dt.month == 12) & (end.dt.day == 31) & same_year,
        "ytd": jan1 & ends_month & same_year,
    }
    expected = {
        "month": "a month row must span one calendar month (1st to last day)",
        "year": "a year row must span 1 January to 31 December of one year",
        "ytd": "a ytd row must start on 1 January and end on a month end of that year",
    }
    for name, good in ok.items():
        fail_first_row(
            path,
            tidy,
            kind.eq(name) & ~good,
            "period_type",
            "period_type {period_type!r} disagrees with the dates"
            " {period_start:%Y-%m-%d}..{period_end:%Y-%m-%d}: " + expected[name],
        )


def parse(path: Path) -> pd.DataFrame:
    """One row per published figure: region code, period, period type, consumption in
    million kWh, observer (``attributed_to``) and a note that keeps the relaying page."""
    raw = read_table(path, COLUMNS, free_text=["note"])
    area = raw["area"].astype(str).str.strip()
    codes = area.map(region_code)
    fail_first_row(
        path,
        raw.assign(area=area),
        codes.isna(),
        "area",
        "unknown area {area!r}: add its name to nowcast/regions.py",
    )
    kind = raw["period_type"].astype(str).str.strip().str.lower()
    fail_first_row(
        path,
        raw.assign(period_type=kind),
        ~kind.isin(list(LAG_DAYS)),
        "period_type",
        "expected period_type year, month or ytd, got {period_type!r}",
    )
    observer = raw["attributed_to"].astype(str).str.strip()
    fail_first_row(
        path,
        raw,
        observer.eq(""),
        "attributed_to",
        "attributed_to is empty: expected who states the figure",
    )
    note = raw["note"].astype(str).str.strip()
    url = raw["relayed_by_url"].astype(str).str.strip()
    relayed = ("relayed by " + url).where(url.ne(""), "")
    note = (note + "; " + relayed).where(note.ne("") & relayed.ne(""), note + relayed)
    tidy = pd.DataFrame(
        {
            "area": area,
            "region": codes.astype(str),
            "period_start": to_date(path, raw, "period_start"),
            "period_end": to_date(path, raw, "period_end"),
            "period_type": kind,
            SERIES: to_number(path, raw, "consumption_mln_kwh"),
            "observer": observer,
            "note": note,
            LINE: raw[LINE],
        }
    )
    check_period_order(path, tidy)
    _check_period_types(path, tidy)
    check_unique(path, tidy, ["region", "period_start", "period_end", "observer"], "figure")
    return validate(
        path,
        tidy,
        TIDY,
        fields={SERIES: "consumption_mln_kwh", "observer": "attributed_to", "region": "area"},
    )


def observe(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per row; published period end + 20 days (month, ytd) or + 30 (year)."""
    days = tidy["period_type"].map(LAG_DAYS).astype(int)
    published = (tidy["period_end"] + pd.to_timedelta(days, unit="D")).astype("datetime64[ns]")
    obs = tidy.assign(
        series=SERIES,
        value=tidy[SERIES].astype(float),
        unit=UNIT,
        published=published,
    )
    return obs[observation_columns(obs)].reset_index(drop=True)


SOURCE = Source(
    name="so_ups_points",
    publisher="System Operator of the UES of Russia (SO UPS) and regional officials",
    title="Published electricity consumption figures (regional and national, as relayed)",
    file_format=(
        "CSV: area,period_start,period_end,period_type,consumption_mln_kwh,attributed_to,"
        "relayed_by_url,note (period_type year, month or ytd)"
    ),
    units="million kWh over the period",
    licence="official figures quoted by the press; cite the relaying page",
    published_rule=(
        "not in the file: period end + 20 days for months and year-to-date totals,"
        " period end + 30 days for years"
    ),
    parse=parse,
    observe=observe,
    period_fields=("period_start", "period_end"),
    recognise=csv_recogniser(COLUMNS),
    url="https://www.so-ups.ru",
)
