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
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from nowcast.constants import RUSSIA
from nowcast.errors import SourceError
from nowcast.sources.base import (
    EARLIEST_DATE,
    LATEST_DATE,
    LINE,
    Source,
    check_period_order,
    check_unique,
    csv_recogniser,
    lag,
    melt_wide,
    month_end,
    month_start,
    observation_columns,
    read_table,
    to_date,
    to_number,
    validate,
)

OBSERVER = "Bank of Russia"
UNIT = "USD bn"
LICENCE = "Bank of Russia data; reuse with a reference to the source"
URL = "https://www.cbr.ru/eng/statistics/macro_itm/svs/"
QUARTER_LAG_DAYS = 100
MONTH_LAG_DAYS = 45
VINTAGE_NOTE = "vintage about spring 2020 (ecomod.net repackaging); published by lag rule"

# Items of the monthly file; the quarterly file has these plus the goods-export breakdown and
# the memo item on dubious transactions.
MONTHLY_ITEMS = [
    "current_account",
    "trade_balance_goods",
    "goods_exports",
    "goods_imports",
    "services_balance",
    "services_exports",
    "services_imports",
    "compensation_of_employees_balance",
    "investment_income_balance",
    "rent_balance",
    "secondary_income_balance",
    "capital_account",
    "financial_account_excl_reserves_net_lending",
    "net_incurrence_of_liabilities",
    "net_acquisition_fin_assets_excl_reserves",
    "net_errors_omissions",
    "reserve_assets_change",
]
GOODS_EXPORT_PARTS = [
    "goods_exports_crude_oil",
    "goods_exports_oil_products",
    "goods_exports_natural_gas",
    "goods_exports_lng",
    "goods_exports_other",
]
QUARTERLY_ITEMS = [
    *MONTHLY_ITEMS[:3],
    *GOODS_EXPORT_PARTS,
    *MONTHLY_ITEMS[3:],
    "memo_dubious_transactions",
]
OPTIONAL_ITEMS = {"goods_exports_lng"}  # LNG exports are only shown from 2009; empty before

# Releases-table item -> the same concept's item in the quarterly and monthly files.
ALIASES = {
    "reserve_assets": "reserve_assets_change",
    "financial_account_excl_reserves": "financial_account_excl_reserves_net_lending",
}

# Gross flows and sizes that cannot be negative.
NON_NEGATIVE = {
    "goods_exports",
    *GOODS_EXPORT_PARTS,
    "goods_imports",
    "services_exports",
    "services_imports",
    "memo_dubious_transactions",
    "net_errors_omissions_magnitude",
}

# Any single figure above USD 1 trillion is a unit mistake (USD mn read as USD bn).
MAX_ABS_USD_BN = 1000.0

# Accounting identities: item = sum(sign * part); checked to the files' rounding.
IDENTITIES: list[tuple[str, dict[str, int]]] = [
    (
        "current_account",
        {
            "trade_balance_goods": 1,
            "services_balance": 1,
            "compensation_of_employees_balance": 1,
            "investment_income_balance": 1,
            "rent_balance": 1,
            "secondary_income_balance": 1,
        },
    ),
    ("trade_balance_goods", {"goods_exports": 1, "goods_imports": -1}),
    ("services_balance", {"services_exports": 1, "services_imports": -1}),
    (
        "financial_account_excl_reserves_net_lending",
        {"net_acquisition_fin_assets_excl_reserves": 1, "net_incurrence_of_liabilities": -1},
    ),
    (
        "net_errors_omissions",
        {
            "financial_account_excl_reserves_net_lending": 1,
            "reserve_assets_change": 1,
            "current_account": -1,
            "capital_account": -1,
        },
    ),
]
QUARTERLY_IDENTITIES = [*IDENTITIES, ("goods_exports", dict.fromkeys(GOODS_EXPORT_PARTS, 1))]


def series_name(item: str) -> str:
    """Series name of a file's item: ``bop_<item>_usd_bn`` (releases names mapped by ALIASES)."""
    return f"bop_{ALIASES.get(item, item)}_usd_bn"


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


# --------------------------------------------------------------------------- releases

RELEASE_COLUMNS = ["period", "freq", "item", "value", "unit", "published", "source_url", "note"]
# freq -> (pattern of the period text, example shown in errors)
PERIODS = {
    "Q": (re.compile(r"^\d{4}Q[1-4]$"), "2024Q1"),
    "A": (re.compile(r"^\d{4}$"), "2024"),
    "M": (re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"), "2024-03"),
    "YTD": (re.compile(r"^\d{4}-(0[1-9]|1[0-2])/\d{4}-(0[1-9]|1[0-2])$"), "2024-01/2024-06"),
}
UNIT_TO_BN = {"USD bn": 1.0, "USD mn": 0.001}
ITEM = re.compile(r"^[a-z][a-z0-9_]*$")
SAME_URL = "same"  # the file's shorthand for the previous row's source_url

RELEASES_TIDY = pa.DataFrameSchema(
    {
        "period": pa.Column(str),
        "freq": pa.Column(str, pa.Check.isin(list(PERIODS))),
        "item": pa.Column(str, pa.Check.str_matches(ITEM.pattern)),
        "series": pa.Column(str, pa.Check.str_matches(r"^bop_[a-z0-9_]+_usd_bn$")),
        "period_start": pa.Column("datetime64[ns]"),
        "period_end": pa.Column("datetime64[ns]"),
        "value_usd_bn": pa.Column(
            float,
            [
                pa.Check(np.isfinite, element_wise=False),
                pa.Check.in_range(-MAX_ABS_USD_BN, MAX_ABS_USD_BN),
            ],
        ),
        "published": pa.Column("datetime64[ns]"),
        "note": pa.Column(str),
    },
    checks=[
        pa.Check(
            lambda df: df["period_end"] >= df["period_start"],
            error="period_end before period_start",
        ),
    ],
    strict=False,
)


def _fail(path: Path, row: pd.Series, field: str, message: str) -> None:
    raise SourceError(path, message, line=int(row[LINE]), field=field)


def _period_bounds(path: Path, raw: pd.DataFrame) -> tuple[list, list]:
    """First and last day of each row's period, from its text and its ``freq``."""
    starts, ends = [], []
    for _, row in raw.iterrows():
        freq, text = row["freq"], row["period"]
        if freq not in PERIODS:
            _fail(path, row, "freq", f"expected one of {list(PERIODS)}, got {freq!r}")
        pattern, example = PERIODS[freq]
        if not pattern.fullmatch(text):
            _fail(
                path,
                row,
                "period",
                f"expected a period like {example} for freq {freq}, got {text!r}",
            )
        years = [int(part[:4]) for part in text.split("/")]
        if not all(EARLIEST_DATE.year <= y <= LATEST_DATE.year for y in years):
            _fail(
                path,
                row,
                "period",
                f"expected a year from {EARLIEST_DATE.year} to {LATEST_DATE.year} (the dates"
                f" nowcast can hold), got {text!r}",
            )
        if freq == "YTD":
            first, last = (pd.Period(p, freq="M") for p in text.split("/"))
            if last < first:
                _fail(
                    path,
                    row,
                    "period",
                    f"year-to-date range {text!r} ends before it starts:"
                    " expected first month/last month",
                )
            if first.month != 1 or first.year != last.year:
                _fail(
                    path,
                    row,
                    "period",
                    f"year-to-date range {text!r} must run from January to a month of the"
                    " same year",
                )
        else:
            first = last = pd.Period(text, freq={"Q": "Q", "A": "Y", "M": "M"}[freq])
        starts.append(first.start_time.normalize())
        ends.append(last.end_time.normalize())
    return starts, ends


def _notes(path: Path, raw: pd.DataFrame) -> pd.Series:
    """The file's note, a unit-conversion remark, and the source page: ``note; source: url``."""
    url = raw["source_url"].where(raw["source_url"] != SAME_URL).replace("", None)
    same = raw["source_url"] == SAME_URL
    if same.any() and url.ffill()[same].isna().any():
        _fail(path, raw[same].iloc[0], "source_url", "'same' but no earlier row names a source")
    url = url.where(~same, url.ffill())
    parts = []
    for note, unit, src in zip(raw["note"], raw["unit"], url, strict=True):
        bits = [note] if note else []
        if unit != UNIT:
            bits.append(f"published in {unit}, converted to {UNIT}")
        if isinstance(src, str) and src:
            bits.append(f"source: {src}")
        parts.append("; ".join(bits))
    return pd.Series(parts, index=raw.index, dtype=str)


def parse_releases(path: Path) -> pd.DataFrame:
    """Long tidy table of release figures: period text and bounds, item and its series, value
    in USD bn (USD mn rows converted), the stated publication date, and a note with the source.
    One row per (period, freq, item, published)."""
    raw = read_table(path, RELEASE_COLUMNS, free_text=["note"])
    for col in ("period", "freq", "item", "unit", "source_url", "note"):
        raw[col] = raw[col].astype(str).str.strip()
    bad_item = ~raw["item"].str.fullmatch(ITEM.pattern)
    if bad_item.any():
        _fail(
            path,
            raw[bad_item].iloc[0],
            "item",
            f"expected a lower-case item name like current_account,"
            f" got {raw[bad_item].iloc[0]['item']!r}",
        )
    bad_unit = ~raw["unit"].isin(list(UNIT_TO_BN))
    if bad_unit.any():
        row = raw[bad_unit].iloc[0]
        _fail(path, row, "unit", f"expected one of {list(UNIT_TO_BN)}, got {row['unit']!r}")
    starts, ends = _period_bounds(path, raw)
    value = to_number(path, raw, "value") * raw["unit"].map(UNIT_TO_BN).astype(float)
    tidy = pd.DataFrame(
        {
            "period": raw["period"],
            "freq": raw["freq"],
            "item": raw["item"],
            "series": raw["item"].map(series_name).astype(str),
            "period_start": pd.to_datetime(pd.Series(starts, index=raw.index)).astype(
                "datetime64[ns]"
            ),
            "period_end": pd.to_datetime(pd.Series(ends, index=raw.index)).astype("datetime64[ns]"),
            "value_usd_bn": value.round(6),
            "published": to_date(path, raw, "published"),
            "note": _notes(path, raw),
            LINE: raw[LINE],
        }
    )
    check_period_order(path, tidy)
    early = tidy["published"] <= tidy["period_end"]
    if early.any():
        row = tidy[early].iloc[0]
        _fail(
            path,
            row,
            "published",
            f"published {row['published']:%Y-%m-%d} but the period {row['period']} ends"
            f" {row['period_end']:%Y-%m-%d}: expected a release after the period",
        )
    negative = tidy["item"].isin(NON_NEGATIVE) & (tidy["value_usd_bn"] < 0)
    if negative.any():
        row = tidy[negative].iloc[0]
        _fail(
            path,
            row,
            "value",
            f"{row['item']} is a gross flow or size: expected >= 0, got {row['value_usd_bn']:g}",
        )
    check_unique(path, tidy, ["period", "freq", "item", "published"], "release figure")
    check_unique(
        path, tidy, ["series", "period_start", "period_end", "published"], "figure for a period"
    )
    return validate(path, tidy, RELEASES_TIDY, fields={"value_usd_bn": "value", "series": "item"})


def observe_releases(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per row, published on the release date the file states."""
    obs = tidy.rename(columns={"value_usd_bn": "value"}).assign(
        region=RUSSIA, unit=UNIT, observer=OBSERVER
    )
    return obs[observation_columns(obs)].reset_index(drop=True)


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
