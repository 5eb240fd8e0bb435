"""Bank of Russia key rate, ``cbr_key_rate_daily.csv``: the rate in force on each working day
(``date,key_rate_pct``), as served by the CBR DailyInfo web service (``KeyRateXML``).

Dates: the rate in force on a day is announced before it, so the ingest day's own rate is
accepted (a running day), a later day's is refused.

Licence: Bank of Russia data; reuse with a reference to the source.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from nowcast.constants import RUSSIA
from nowcast.sources.base import (
    LINE,
    Source,
    check_unique,
    csv_recogniser,
    melt_wide,
    read_table,
    to_date,
    to_number,
    validate,
)

SERIES = "key_rate_pct"
UNIT = "% per annum"

TIDY = pa.DataFrameSchema(
    {
        "period_start": pa.Column("datetime64[ns]", unique=True),
        "period_end": pa.Column("datetime64[ns]"),
        SERIES: pa.Column(float, pa.Check.in_range(0.0, 100.0)),
    },
    strict=False,
)


def parse(path: Path) -> pd.DataFrame:
    """Daily tidy table of the key rate (% per annum) in force on each working day."""
    raw = read_table(path, ["date", SERIES])
    day = to_date(path, raw, "date")
    tidy = pd.DataFrame(
        {
            "period_start": day,
            "period_end": day,
            SERIES: to_number(path, raw, SERIES),
            LINE: raw[LINE],
        }
    )
    check_unique(path, tidy, ["period_start"], "date")
    return validate(path, tidy, TIDY, fields={"period_start": "date"})


def observe(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per working day, published that day: a key-rate decision is announced
    (at a board meeting) before the rate takes effect, so the day itself is never too early."""
    return melt_wide(
        tidy,
        {SERIES: UNIT},
        region=RUSSIA,
        observer="Bank of Russia",
        published=tidy["period_start"],
    )


SOURCE = Source(
    name="cbr_key_rate",
    publisher="Bank of Russia",
    title="Key rate (daily, rate in force on each working day)",
    file_format="CSV: date,key_rate_pct (ISO date, one row per Bank of Russia working day)",
    units="% per annum",
    licence="Bank of Russia data; reuse with a reference to the source",
    published_rule="the rate in force on day D is announced before D takes effect: published = D",
    parse=parse,
    observe=observe,
    period_fields=("date", "date"),
    recognise=csv_recogniser(["date", SERIES]),
    # the rate in force today was announced before today: a running day's rate is final
    partial_periods=True,
    url="https://www.cbr.ru/eng/hd_base/KeyRate/",
)
