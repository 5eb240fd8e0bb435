"""Bank of Russia monthly goods trade (FOB, balance-of-payments methodology), two files:

- ``cbr_goods_trade_monthly_1997_2020.csv``: exports, imports and balance, total, far abroad
  and CIS, 1997-01 to 2020-02, USD millions (ecomod.net repackaging of the Bank of Russia
  tables, vintage about spring 2020);
- ``cbr_goods_exports_monthly_2013_2023.csv``: total goods exports 2013-05 to 2023-03, USD
  millions (``month,goods_exports_musd``; a later vintage: some 2017-2020 months are revised).

Both are converted to USD bn. Dates: month end + 45 days by rule, so a month that ended less than
45 days before the ingest day is refused (no partial months).

Licence: Bank of Russia data; reuse with a reference to the source.
"""

from __future__ import annotations

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

OBSERVER = "Bank of Russia"
UNIT = "USD bn"
LAG_DAYS = 45
LICENCE = "Bank of Russia data; reuse with a reference to the source"
PUBLISHED_RULE = (
    "the Bank of Russia publishes a month's goods trade about six weeks after the month:"
    f" published = month end + {LAG_DAYS} days"
)

# Publisher column (USD mn) -> tidy column (USD bn)
TRADE_COLUMNS = {
    "goods_exports_fob": "goods_exports_usd_bn",
    "goods_exports_fob_far_abroad": "goods_exports_far_abroad_usd_bn",
    "goods_exports_fob_cis": "goods_exports_cis_usd_bn",
    "goods_imports_fob": "goods_imports_usd_bn",
    "goods_imports_fob_far_abroad": "goods_imports_far_abroad_usd_bn",
    "goods_imports_fob_cis": "goods_imports_cis_usd_bn",
    "trade_balance": "goods_trade_balance_usd_bn",
    "trade_balance_far_abroad": "goods_trade_balance_far_abroad_usd_bn",
    "trade_balance_cis": "goods_trade_balance_cis_usd_bn",
}
EXPORTS_COLUMNS = {"goods_exports_musd": "goods_exports_usd_bn"}

# Published figures are whole USD millions: sums and differences agree to 1 mn after rounding.
TOLERANCE_USD_BN = 0.0015


_FLOWS = [c for c in TRADE_COLUMNS.values() if "balance" not in c]
_BALANCES = [c for c in TRADE_COLUMNS.values() if "balance" in c]

# Accounting identities of the trade table: (tidy column, parts added with signs, file field)
IDENTITIES = [
    (
        "goods_exports_usd_bn",
        {"goods_exports_far_abroad_usd_bn": 1, "goods_exports_cis_usd_bn": 1},
        "goods_exports_fob",
    ),
    (
        "goods_imports_usd_bn",
        {"goods_imports_far_abroad_usd_bn": 1, "goods_imports_cis_usd_bn": 1},
        "goods_imports_fob",
    ),
    *[
        (
            f"goods_trade_balance{part}_usd_bn",
            {f"goods_exports{part}_usd_bn": 1, f"goods_imports{part}_usd_bn": -1},
            f"trade_balance{part}",
        )
        for part in ("", "_far_abroad", "_cis")
    ],
]

TRADE_TIDY = pa.DataFrameSchema(
    {
        "period_start": pa.Column("datetime64[ns]", unique=True),
        "period_end": pa.Column("datetime64[ns]"),
        **{c: pa.Column(float, pa.Check.in_range(0.0, 500.0)) for c in _FLOWS},
        **{c: pa.Column(float, pa.Check.in_range(-500.0, 500.0)) for c in _BALANCES},
    },
    strict=False,
)

EXPORTS_TIDY = pa.DataFrameSchema(
    {
        "period_start": pa.Column("datetime64[ns]", unique=True),
        "period_end": pa.Column("datetime64[ns]"),
        "goods_exports_usd_bn": pa.Column(float, pa.Check.in_range(0.0, 500.0)),
    },
    strict=False,
)


def _check_identities(path: Path, tidy: pd.DataFrame, identities: list) -> None:
    """Refuse a row whose total is not the sum of its parts (to 1 USD mn)."""
    for total, parts, field in identities:
        implied = sum(sign * tidy[col] for col, sign in parts.items())
        bad = (tidy[total] - implied).abs() > TOLERANCE_USD_BN
        if bad.any():
            row = tidy[bad].iloc[0]
            terms = " ".join(
                f"{'+' if sign > 0 else '-'} {col.removesuffix('_usd_bn')}"
                for col, sign in parts.items()
            ).lstrip("+ ")
            raise SourceError(
                path,
                f"{field} is {row[total] * 1000:.0f} USD mn but {terms} gives"
                f" {implied[bad].iloc[0] * 1000:.0f}: expected them to agree to 1 USD mn",
                line=int(row[LINE]),
                field=field,
            )


def _parse_monthly(
    path: Path, columns: dict[str, str], schema: pa.DataFrameSchema, identities: list
) -> pd.DataFrame:
    raw = read_table(path, ["month", *columns])
    day = to_date(path, raw, "month")
    tidy = pd.DataFrame(
        {"period_start": month_start(day), "period_end": month_end(day), LINE: raw[LINE]}
    )
    for src, dst in columns.items():
        tidy[dst] = (to_number(path, raw, src) / 1000.0).round(8)
    check_unique(path, tidy, ["period_start"], "month")
    fields = {dst: src for src, dst in columns.items()} | {"period_start": "month"}
    tidy = validate(path, tidy, schema, fields=fields)
    _check_identities(path, tidy, identities)
    return tidy


def parse_trade(path: Path) -> pd.DataFrame:
    """Monthly tidy table of goods exports, imports and balance (USD bn): total, far abroad
    and CIS; totals must equal far abroad + CIS and balances exports - imports."""
    return _parse_monthly(path, TRADE_COLUMNS, TRADE_TIDY, IDENTITIES)


def parse_exports(path: Path) -> pd.DataFrame:
    """Monthly tidy table of total goods exports (USD bn)."""
    return _parse_monthly(path, EXPORTS_COLUMNS, EXPORTS_TIDY, [])


def _observe(tidy: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    return melt_wide(
        tidy,
        {c: UNIT for c in columns.values()},
        region=RUSSIA,
        observer=OBSERVER,
        published=lag(tidy["period_end"], LAG_DAYS),
    )


def observe_trade(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per month and series, published month end + 45 days."""
    return _observe(tidy, TRADE_COLUMNS)


def observe_exports(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per month, published month end + 45 days."""
    return _observe(tidy, EXPORTS_COLUMNS)


TRADE = Source(
    name="cbr_goods_trade",
    publisher="Bank of Russia (via ecomod.net)",
    title="Goods exports and imports, FOB (BoP methodology), monthly, total / far abroad / CIS",
    file_format=(
        "CSV: month,goods_exports_fob,goods_exports_fob_far_abroad,goods_exports_fob_cis,"
        "goods_imports_fob,goods_imports_fob_far_abroad,goods_imports_fob_cis,trade_balance,"
        "trade_balance_far_abroad,trade_balance_cis (month as YYYY-MM-01; USD millions)"
    ),
    units="USD millions in the file, USD bn in the tidy table and observations",
    licence=LICENCE,
    published_rule=PUBLISHED_RULE,
    parse=parse_trade,
    observe=observe_trade,
    period_fields=("month", "month"),
    recognise=csv_recogniser(["month", *TRADE_COLUMNS]),
    url="https://www.cbr.ru/eng/statistics/macro_itm/svs/",
)

EXPORTS = Source(
    name="cbr_goods_exports",
    publisher="Bank of Russia",
    title="Goods exports (BoP methodology), monthly total",
    file_format="CSV: month,goods_exports_musd (month as YYYY-MM-01; USD millions)",
    units="USD millions in the file, USD bn in the tidy table and observations",
    licence=LICENCE,
    published_rule=PUBLISHED_RULE,
    parse=parse_exports,
    observe=observe_exports,
    period_fields=("month", "month"),
    recognise=csv_recogniser(["month", *EXPORTS_COLUMNS]),
    url="https://www.cbr.ru/eng/statistics/macro_itm/svs/",
)

SOURCES = [TRADE, EXPORTS]

# ``parse``/``observe`` of the module: the first product (the other is ``EXPORTS``).
parse = parse_trade
observe = observe_trade
