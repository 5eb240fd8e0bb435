"""Coin Metrics community data, ``btc.csv``: daily on-chain figures for the Bitcoin network.

Dates: a day's figures are complete once the UTC day has closed and appear the next day, so a
row for the ingest day itself or later (a running or future day) is refused.

Licence CC BY-NC 4.0: attribute Coin Metrics; non-commercial use only.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from nowcast.constants import WORLD
from nowcast.sources.base import (
    LINE,
    Source,
    check_unique,
    csv_recogniser,
    lag,
    melt_wide,
    read_table,
    to_date,
    to_number,
    validate,
)

# Publisher column -> tidy column (unit in the name)
COLUMNS = {
    "PriceUSD": "btc_price_usd",
    "HashRate": "btc_hashrate_th_s",
    "BlkCnt": "btc_blocks",
    "IssTotNtv": "btc_issuance_btc",
    "FeeTotNtv": "btc_fees_btc",
}
UNITS = {
    "btc_price_usd": "USD",
    "btc_hashrate_th_s": "TH/s",
    "btc_blocks": "count",
    "btc_issuance_btc": "BTC",
    "btc_fees_btc": "BTC",
    "btc_miner_revenue_usd": "USD",
}

# Tidy column -> the file's column, for error messages
FIELDS = {dst: src for src, dst in COLUMNS.items()} | {"period_start": "time"}

TIDY = pa.DataFrameSchema(
    {
        "period_start": pa.Column("datetime64[ns]", unique=True),
        "period_end": pa.Column("datetime64[ns]"),
        "btc_price_usd": pa.Column(float, pa.Check.gt(0), nullable=True),
        "btc_hashrate_th_s": pa.Column(float, pa.Check.gt(0)),
        "btc_blocks": pa.Column(float, pa.Check.ge(0)),
        "btc_issuance_btc": pa.Column(float, pa.Check.ge(0)),
        "btc_fees_btc": pa.Column(float, pa.Check.ge(0), nullable=True),
        "btc_miner_revenue_usd": pa.Column(float, pa.Check.ge(0), nullable=True),
    },
    strict=False,
)


def parse(path: Path) -> pd.DataFrame:
    """Daily tidy table: price (USD), hashrate (TH/s), blocks, issuance and fees (BTC), and
    miner revenue (USD) derived as ``(issuance + fees) x price`` (Coin Metrics' own RevUSD
    is not in the community file)."""
    raw = read_table(path, ["time", *COLUMNS])
    day = to_date(path, raw, "time")
    tidy = pd.DataFrame({"period_start": day, "period_end": day, LINE: raw[LINE]})
    for src, dst in COLUMNS.items():
        optional = dst in ("btc_price_usd", "btc_fees_btc")
        tidy[dst] = to_number(path, raw, src, allow_missing=optional)
    tidy["btc_miner_revenue_usd"] = (
        tidy["btc_issuance_btc"] + tidy["btc_fees_btc"].fillna(0.0)
    ) * tidy["btc_price_usd"]
    check_unique(path, tidy, ["period_start"], "day")
    return validate(path, tidy, TIDY, fields=FIELDS)


def observe(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per day and series; published the next day (UTC day closes)."""
    return melt_wide(
        tidy,
        UNITS,
        region=WORLD,
        observer="Coin Metrics",
        published=lag(tidy["period_end"], 1),
    )


SOURCE = Source(
    name="coinmetrics",
    publisher="Coin Metrics (community data)",
    title="Bitcoin network daily metrics (btc.csv)",
    file_format="CSV: time,PriceUSD,HashRate,BlkCnt,IssTotNtv,FeeTotNtv,... (one row per UTC day)",
    units="price USD; hashrate TH/s; issuance and fees BTC; revenue USD (derived)",
    licence="CC BY-NC 4.0 (attribution, non-commercial)",
    published_rule="each day is published the next day (period end + 1 day)",
    parse=parse,
    observe=observe,
    period_fields=("time", "time"),
    recognise=csv_recogniser(["time", *COLUMNS]),
    url="https://github.com/coinmetrics/data/blob/master/csv/btc.csv",
)
