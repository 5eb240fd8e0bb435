"""The Bank of Russia balance of payments' releases table (``nowcast.sources.cbr_bop``),
transcribed by hand from release pages and news reports: periods of several frequencies,
values in USD bn or mn, several vintages of one period side by side, the publication date
stated in the file.
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
    check_period_order,
    check_unique,
    observation_columns,
    read_table,
    to_date,
    to_number,
    validate,
)
from nowcast.sources.cbr_bop_items import MAX_ABS_USD_BN, NON_NEGATIVE, OBSERVER, UNIT, series_name

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
