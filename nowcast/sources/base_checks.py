"""Checking what a file says: text cells converted to numbers and dates with the first bad cell
named by line and field, duplicate keys and period order refused, pandera failures told in a
user's words, and every figure's dates checked against the ingest day (``check_dates``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pandera.pandas as pa

from nowcast.errors import SourceError
from nowcast.sources.base_reading import LINE

if TYPE_CHECKING:
    from nowcast.sources.base import Source

# The dates a figure may carry. pandas holds nanosecond timestamps from 1677-09-21 to
# 2262-04-11; these bounds leave room for month, quarter and year ends and publication lags
# computed from a date, so no arithmetic on an accepted date can overflow.
EARLIEST_DATE = pd.Timestamp("1678-01-01")
LATEST_DATE = pd.Timestamp("2200-12-31")


def _fail_first(path: Path, df: pd.DataFrame, bad: pd.Series, field: str, expected: str) -> None:
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        row = df.iloc[i]
        raise SourceError(
            path,
            f"{expected}, got {row[field]!r}",
            line=int(row[LINE]),
            field=field,
        )


def fail_first_row(path: Path, df: pd.DataFrame, bad: pd.Series, field: str, message: str) -> None:
    """Raise ``SourceError`` for the first row where ``bad`` holds, naming its line and
    ``field``. ``message`` may name the row's columns (``{area}``) and ``{value}``, the cell of
    ``field``."""
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        cells = {k: df[k].iloc[i] for k in df.columns if isinstance(k, str)}
        raise SourceError(
            path,
            message.format(**{**cells, "value": df[field].iloc[i]}),
            line=int(df[LINE].iloc[i]),
            field=field,
        )


def to_number(
    path: Path,
    df: pd.DataFrame,
    field: str,
    *,
    allow_missing: bool = False,
    strip: str = "",
    decimal_comma: bool = False,
) -> pd.Series:
    """Convert a text column to float; the first unparseable cell raises ``SourceError``.

    ``strip`` lists characters removed first (``"%"`` for shares written as ``"5.9%"``).
    """
    text = df[field].astype(str).str.strip()
    for ch in strip:
        text = text.str.replace(ch, "", regex=False)
    if decimal_comma:
        text = text.str.replace("\u00a0", "", regex=False).str.replace(",", ".", regex=False)
    empty = text.eq("")
    values = pd.to_numeric(text.where(~empty), errors="coerce").astype(float)
    bad = values.isna() & ~empty
    _fail_first(path, df, bad, field, "expected a number")
    if not allow_missing:
        _fail_first(path, df, empty, field, "expected a number, the cell is empty")
    inf = ~np.isfinite(values) & values.notna()
    _fail_first(path, df, inf, field, "expected a finite number")
    return values


def to_date(path: Path, df: pd.DataFrame, field: str, fmt: str = "%Y-%m-%d") -> pd.Series:
    """Convert a text column to dates with ``fmt``; the first bad cell raises ``SourceError``,
    and so does the first date outside ``EARLIEST_DATE``..``LATEST_DATE``."""
    text = df[field].astype(str).str.strip()
    dates = pd.to_datetime(text, format=fmt, errors="coerce")
    _fail_first(path, df, dates.isna(), field, f"expected a date as {fmt}")
    outside = (dates < EARLIEST_DATE) | (dates > LATEST_DATE)
    _fail_first(
        path,
        df,
        outside,
        field,
        f"expected a date from {EARLIEST_DATE:%Y-%m-%d} to {LATEST_DATE:%Y-%m-%d}"
        " (the dates nowcast can hold)",
    )
    return dates.astype("datetime64[ns]")


def check_unique(path: Path, df: pd.DataFrame, keys: list[str], what: str = "row") -> None:
    """Refuse duplicate rows on ``keys``: the error names the line of the second copy."""
    dup = df.duplicated(subset=keys, keep="first")
    if dup.any():
        i = dup.to_numpy().nonzero()[0][0]
        row = df.iloc[i]
        first = df[(df[keys] == row[keys]).all(axis=1)].iloc[0]
        desc = ", ".join(f"{k}={row[k]}" for k in keys)
        raise SourceError(
            path,
            f"duplicate {what} ({desc}), first seen on line {int(first[LINE])}:"
            " expected one row per key",
            line=int(row[LINE]),
        )


def check_period_order(path: Path, df: pd.DataFrame) -> None:
    """Refuse rows whose ``period_end`` precedes ``period_start``."""
    bad = df["period_end"] < df["period_start"]
    if bad.any():
        i = bad.to_numpy().nonzero()[0][0]
        row = df.iloc[i]
        raise SourceError(
            path,
            f"period ends ({row['period_end']:%Y-%m-%d}) before it starts"
            f" ({row['period_start']:%Y-%m-%d}): expected period_end >= period_start",
            line=int(row[LINE]),
            field="period_end",
        )


# pandera's check names -> what a user reads after "expected"
_CHECKS = [
    (re.compile(r"^greater_than\((.*)\)$"), "a value greater than {0}"),
    (re.compile(r"^greater_than_or_equal_to\((.*)\)$"), "a value of at least {0}"),
    (re.compile(r"^less_than\((.*)\)$"), "a value less than {0}"),
    (re.compile(r"^less_than_or_equal_to\((.*)\)$"), "a value of at most {0}"),
    (re.compile(r"^in_range\((.*), (.*)\)$"), "a value from {0} to {1}"),
    (re.compile(r"^isin\((.*)\)$"), "one of {0}"),
    (re.compile(r"^str_matches\((.*)\)$"), "text matching {0}"),
    (re.compile(r"^str_length\((.*)\)$"), "text of length {0}"),
    (re.compile(r"^not_nullable$"), "a value (the cell is empty)"),
    (re.compile(r"^field_uniqueness$"), "each value once"),
]


def _expected(check: object) -> str:
    text = str(check)
    for pattern, words in _CHECKS:
        m = pattern.match(text)
        if m:
            return words.format(*m.groups())
    return f"to pass the check {text}"


def _shown(value: object) -> str:
    """A failing value as a user would write it (``1.7553``, not ``np.float64(1.7553)``)."""
    if isinstance(value, np.bool_ | bool):
        return str(bool(value))
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, np.floating | float):
        return repr(float(value))
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    return repr(value)


def validate(
    path: Path,
    df: pd.DataFrame,
    schema: pa.DataFrameSchema,
    *,
    fields: Mapping[str, str] | None = None,
    lines: pd.Series | None = None,
) -> pd.DataFrame:
    """Validate with pandera; the first failure becomes a ``SourceError`` naming line and field.

    ``fields`` maps tidy columns to the file's own column names (``btc_price_usd`` ->
    ``PriceUSD``), so the error names what the user sees; ``lines`` gives file lines when
    ``df`` has no ``_line`` column.
    """
    try:
        return schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        first = fc.iloc[0]
        line = None
        if lines is None and LINE in df.columns:
            lines = df[LINE]
        idx = first.get("index")
        if lines is not None and idx is not None and not pd.isna(idx) and idx in lines.index:
            line = int(lines.loc[idx])
        field = first.get("column")
        field = None if field is None or pd.isna(field) else str(field)
        if field is not None and fields:
            field = fields.get(field, field)
        more = f" ({len(fc)} failures in all)" if len(fc) > 1 else ""
        raise SourceError(
            path,
            f"expected {_expected(first['check'])}, got {_shown(first['failure_case'])}{more}",
            line=line,
            field=field,
        ) from None


def _period_text(start: pd.Timestamp, end: pd.Timestamp) -> str:
    return f"{start:%Y-%m-%d}" if start == end else f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"


def check_dates(
    path: Path,
    obs: pd.DataFrame,
    source: Source,
    *,
    today: pd.Timestamp,
    fields: tuple[str, str],
    overridden: bool = False,
) -> None:
    """Refuse a figure dated after the ingest day ``today``: published later (by the file, by
    ``--published`` or by the source's rule), or for a period that begins after it or (unless
    the source states figures for running periods) ends after it; and refuse a figure published
    before its period ended when the source does not publish running periods. The error names
    the file line of the first such row and the file's field that dates it."""
    if obs.empty:
        return
    start_field, end_field = fields
    if overridden:
        pub_field, how = "--published", "as --published says"
    elif source.published_in_file:
        pub_field, how = "published", "as the file states"
    else:
        pub_field, how = end_field, f"by the source's rule: {source.published_rule}"
    ahead = today + pd.Timedelta(days=source.ahead_days)
    checks = [
        (
            obs["published"] > today,
            pub_field,
            "the figure for {period} is published {published:%Y-%m-%d} (" + how + "),"
            " after the ingest day {today:%Y-%m-%d}: expected figures public by the ingest day"
            " (a date in the future, or a period not yet complete?)",
        ),
        (
            obs["period_start"] > ahead,
            start_field,
            "the period {period} begins after the ingest day {today:%Y-%m-%d}: expected"
            " figures for periods that have begun (a date in the future?)",
        ),
    ]
    if not source.partial_periods:
        checks += [
            (
                obs["period_end"] > today,
                end_field,
                "the period {period} has not ended by the ingest day {today:%Y-%m-%d}: this"
                " source publishes figures for complete periods only (a date in the future?)",
            ),
            (
                obs["published"] <= obs["period_end"],
                pub_field,
                "the figure for {period} is published {published:%Y-%m-%d} (" + how + "),"
                " before its period ended: expected a publication date after the period",
            ),
        ]
    lines = obs[LINE] if LINE in obs.columns else pd.Series(range(len(obs)), index=obs.index)
    for bad, field, message in checks:
        if bad.any():
            i = lines[bad].idxmin()
            row = obs.loc[i]
            raise SourceError(
                path,
                message.format(
                    period=_period_text(row["period_start"], row["period_end"]),
                    published=row["published"],
                    today=today,
                ),
                line=int(row[LINE]) if LINE in obs.columns else None,
                field=field or None,
            )
