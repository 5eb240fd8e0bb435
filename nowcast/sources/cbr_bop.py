"""Bank of Russia balance of payments (BPM6), three files:

- ``bop_cbr_quarterly_1997_2019.csv``: quarterly 1997Q1-2019Q4, **USD millions** (ecomod.net
  repackaging of the Bank of Russia external-sector tables, vintage about spring 2020);
- ``bop_cbr_monthly_2012_2019.csv``: the same items monthly, 2012-01 to 2019-12, **USD bn** with
  one decimal, as published;
- ``bop_cbr_releases_2019_2025.csv``: a long table transcribed by hand from release pages and
  news reports (``period,freq,item,value,unit,published,source_url,note``), where several
  vintages of one period stand side by side and ``published`` is in the file.

Every figure becomes a series ``bop_<item>_usd_bn`` in USD bn. One concept keeps one name across
the three files (``ALIASES`` maps the releases table's names for the quarterly file's concepts),
so the store sees vintages of one series. Sign convention (BPM6, Bank of Russia):
CA + KA - FA - change in reserves + E&O = 0, FA = net acquisition of assets - net incurrence of
liabilities (net lending), reserve asset change positive for an increase.

Dates: the quarterly and monthly files are dated by lag rules (quarter end + 100 days, month end
+ 45 days), so a period that has not ended long enough before the ingest day is refused (no
partial periods). The releases table states each figure's publication date, which must be after
its period and not after the ingest day.

Licence: Bank of Russia data; reuse with a reference to the source.

This module parses the quarterly and monthly files and declares the three sources; the items
and their series are in ``nowcast.sources.cbr_bop_items`` and the releases table's parser in
``nowcast.sources.cbr_bop_releases``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from nowcast.constants import RUSSIA
from nowcast.errors import SourceError
from nowcast.sources.base import (
    LINE,
    Source,
    check_unique,
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
from nowcast.sources.cbr_bop_items import (
    ALIASES,
    GOODS_EXPORT_PARTS,
    IDENTITIES,
    MAX_ABS_USD_BN,
    MONTHLY_ITEMS,
    NON_NEGATIVE,
    OBSERVER,
    OPTIONAL_ITEMS,
    QUARTERLY_IDENTITIES,
    QUARTERLY_ITEMS,
    UNIT,
    series_name,
)
from nowcast.sources.cbr_bop_releases import (
    ITEM,
    PERIODS,
    RELEASE_COLUMNS,
    RELEASES_TIDY,
    SAME_URL,
    UNIT_TO_BN,
    observe_releases,
    parse_releases,
)

LICENCE = "Bank of Russia data; reuse with a reference to the source"
URL = "https://www.cbr.ru/eng/statistics/macro_itm/svs/"
QUARTER_LAG_DAYS = 100
MONTH_LAG_DAYS = 45
VINTAGE_NOTE = "vintage about spring 2020 (ecomod.net repackaging); published by lag rule"


def _value_column(item: str) -> pa.Column:
    checks = [pa.Check.in_range(-MAX_ABS_USD_BN, MAX_ABS_USD_BN)]
    if item in NON_NEGATIVE:
        checks.append(pa.Check.ge(0.0))
    return pa.Column(float, checks, nullable=item in OPTIONAL_ITEMS)


def _wide_schema(items: list[str]) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "period_start": pa.Column("datetime64[ns]", unique=True),
            "period_end": pa.Column("datetime64[ns]"),
            **{series_name(i): _value_column(i) for i in items},
        },
        checks=pa.Check(
            lambda df: df["period_end"] >= df["period_start"],
            error="period_end before period_start",
        ),
        strict=False,
    )


QUARTERLY_TIDY = _wide_schema(QUARTERLY_ITEMS)
MONTHLY_TIDY = _wide_schema(MONTHLY_ITEMS)


def _check_identities(
    path: Path,
    tidy: pd.DataFrame,
    identities: list[tuple[str, dict[str, int]]],
    half_unit: float,
    shown: str,
    scale: float,
) -> None:
    """Refuse a row where an item is not the sum of its parts: figures are rounded to a unit,
    so each of the ``n`` terms may be off by ``half_unit`` (USD bn)."""
    for total, parts in identities:
        implied = sum(sign * tidy[series_name(p)].fillna(0.0) for p, sign in parts.items())
        gap = (tidy[series_name(total)] - implied).abs()
        bad = gap > half_unit * (len(parts) + 1) + 1e-9
        if bad.any():
            i = bad.to_numpy().nonzero()[0][0]
            row = tidy.iloc[i]
            terms = " ".join(f"{'+' if sign > 0 else '-'} {p}" for p, sign in parts.items()).lstrip(
                "+ "
            )
            raise SourceError(
                path,
                f"{total} is {row[series_name(total)] * scale:g} {shown} but {terms} gives"
                f" {implied.iloc[i] * scale:g}: expected them to agree to rounding",
                line=int(row[LINE]),
                field=total,
            )


# --------------------------------------------------------------------------- quarterly

QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def parse_quarterly(path: Path) -> pd.DataFrame:
    """Quarterly tidy table, one column per item in USD bn (the file is in USD mn). The
    ``quarter`` label must name the quarter that ``quarter_start`` starts."""
    raw = read_table(path, ["quarter_start", "quarter", *QUARTERLY_ITEMS])
    start = to_date(path, raw, "quarter_start")
    label = raw["quarter"].astype(str).str.strip()
    match = label.str.fullmatch(QUARTER.pattern)
    label_start = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    label_start[match] = pd.PeriodIndex(label[match], freq="Q").start_time
    bad = label_start.isna() | (label_start != start)
    if bad.any():
        row = raw[bad].iloc[0]
        raise SourceError(
            path,
            f"expected a quarter like 1997Q1 naming the quarter that starts on"
            f" {row['quarter_start']}, got {row['quarter']!r}",
            line=int(row[LINE]),
            field="quarter",
        )
    tidy = pd.DataFrame(
        {
            "period_start": start,
            "period_end": (start + pd.offsets.QuarterEnd(0)).astype("datetime64[ns]"),
            LINE: raw[LINE],
        }
    )
    for item in QUARTERLY_ITEMS:
        usd_mn = to_number(path, raw, item, allow_missing=item in OPTIONAL_ITEMS)
        tidy[series_name(item)] = (usd_mn / 1000.0).round(8)
    check_unique(path, tidy, ["period_start"], "quarter")
    fields = {series_name(i): i for i in QUARTERLY_ITEMS} | {"period_start": "quarter_start"}
    tidy = validate(path, tidy, QUARTERLY_TIDY, fields=fields)
    # two decimals in USD mn: each term is within 0.005 mn = 5e-6 bn
    _check_identities(path, tidy, QUARTERLY_IDENTITIES, 5e-6, "USD mn", 1000.0)
    return tidy


def observe_quarterly(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per quarter and item, published quarter end + 100 days."""
    return melt_wide(
        tidy,
        {series_name(i): UNIT for i in QUARTERLY_ITEMS},
        region=RUSSIA,
        observer=OBSERVER,
        published=lag(tidy["period_end"], QUARTER_LAG_DAYS),
        note=VINTAGE_NOTE,
    )


# --------------------------------------------------------------------------- monthly


def parse_monthly(path: Path) -> pd.DataFrame:
    """Monthly tidy table, one column per item in USD bn (as in the file)."""
    raw = read_table(path, ["month", *MONTHLY_ITEMS])
    day = to_date(path, raw, "month")
    tidy = pd.DataFrame(
        {"period_start": month_start(day), "period_end": month_end(day), LINE: raw[LINE]}
    )
    for item in MONTHLY_ITEMS:
        tidy[series_name(item)] = to_number(path, raw, item)
    check_unique(path, tidy, ["period_start"], "month")
    fields = {series_name(i): i for i in MONTHLY_ITEMS} | {"period_start": "month"}
    tidy = validate(path, tidy, MONTHLY_TIDY, fields=fields)
    # one decimal in USD bn: each term is within 0.05 bn
    _check_identities(path, tidy, IDENTITIES, 0.05, "USD bn", 1.0)
    return tidy


def observe_monthly(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per month and item, published month end + 45 days."""
    return melt_wide(
        tidy,
        {series_name(i): UNIT for i in MONTHLY_ITEMS},
        region=RUSSIA,
        observer=OBSERVER,
        published=lag(tidy["period_end"], MONTH_LAG_DAYS),
        note=VINTAGE_NOTE,
    )


# --------------------------------------------------------------------------- sources

QUARTERLY = Source(
    name="cbr_bop_quarterly",
    publisher="Bank of Russia (via ecomod.net)",
    title="Balance of payments (BPM6), quarterly 1997-2019",
    file_format=(
        "CSV: quarter_start,quarter,"
        + ",".join(QUARTERLY_ITEMS)
        + " (quarter_start ISO date, quarter as 1997Q1; USD millions; goods_exports_lng empty"
        " before it is shown)"
    ),
    units="USD millions in the file, USD bn in the tidy table and observations",
    licence=LICENCE,
    published_rule=(
        "the Bank of Russia releases a quarter's full balance of payments about three months"
        f" after the quarter: published = quarter end + {QUARTER_LAG_DAYS} days (the file"
        " itself is a later vintage, about spring 2020)"
    ),
    parse=parse_quarterly,
    observe=observe_quarterly,
    period_fields=("quarter_start", "quarter_start"),
    recognise=csv_recogniser(["quarter_start", "quarter", *QUARTERLY_ITEMS]),
    url=URL,
)

MONTHLY = Source(
    name="cbr_bop_monthly",
    publisher="Bank of Russia (via ecomod.net)",
    title="Balance of payments (BPM6), monthly 2012-2019",
    file_format=(
        "CSV: month," + ",".join(MONTHLY_ITEMS) + " (month as YYYY-MM-01; USD bn with one decimal)"
    ),
    units="USD bn",
    licence=LICENCE,
    published_rule=(
        f"a month's estimate is published about six weeks after it: published = month end +"
        f" {MONTH_LAG_DAYS} days (the file itself is a later vintage, about spring 2020)"
    ),
    parse=parse_monthly,
    observe=observe_monthly,
    period_fields=("month", "month"),
    recognise=csv_recogniser(["month", *MONTHLY_ITEMS]),
    url=URL,
)

RELEASES = Source(
    name="cbr_bop_releases",
    publisher="Bank of Russia (release pages and news reports quoting them, transcribed)",
    title="Balance of payments release figures 2019-2025, several vintages per period",
    file_format=(
        "CSV: period,freq,item,value,unit,published,source_url,note; period as YYYYQn (Q),"
        " YYYY (A), YYYY-MM (M) or YYYY-MM/YYYY-MM year-to-date (YTD); unit 'USD bn' or"
        " 'USD mn'; published ISO date; source_url 'same' repeats the previous row's"
    ),
    units="USD bn (rows given in USD mn are converted)",
    licence=LICENCE,
    published_rule=(
        "the file's published column: the release date the page states; where a page gives"
        " only a month or a span, the last day of it"
    ),
    parse=parse_releases,
    observe=observe_releases,
    period_fields=("period", "period"),
    recognise=csv_recogniser(RELEASE_COLUMNS),
    url="https://www.cbr.ru/eng/statistics/macro_itm/external_sector/pb/",
    published_in_file=True,
)

SOURCES = [QUARTERLY, MONTHLY, RELEASES]

# ``parse``/``observe`` of the module: the quarterly product (the others are ``MONTHLY`` and
# ``RELEASES``, with ``parse_monthly``/``parse_releases`` and their ``observe_*``).
parse = parse_quarterly
observe = observe_quarterly


__all__ = [
    "ALIASES",
    "GOODS_EXPORT_PARTS",
    "IDENTITIES",
    "ITEM",
    "LICENCE",
    "MAX_ABS_USD_BN",
    "MONTHLY",
    "MONTHLY_ITEMS",
    "MONTHLY_TIDY",
    "MONTH_LAG_DAYS",
    "NON_NEGATIVE",
    "OBSERVER",
    "OPTIONAL_ITEMS",
    "PERIODS",
    "QUARTER",
    "QUARTERLY",
    "QUARTERLY_IDENTITIES",
    "QUARTERLY_ITEMS",
    "QUARTERLY_TIDY",
    "QUARTER_LAG_DAYS",
    "RELEASES",
    "RELEASES_TIDY",
    "RELEASE_COLUMNS",
    "SAME_URL",
    "SOURCES",
    "UNIT",
    "UNIT_TO_BN",
    "URL",
    "VINTAGE_NOTE",
    "observe",
    "observe_monthly",
    "observe_quarterly",
    "observe_releases",
    "parse",
    "parse_monthly",
    "parse_quarterly",
    "parse_releases",
    "series_name",
]
