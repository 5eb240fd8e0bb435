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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from nowcast.errors import SourceError

LINE = "_line"  # file line of each parsed row, kept until observations are built

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

    ``parse(path)`` returns the tidy, schema-checked table (units in column names);
    ``observe(tidy)`` turns it into canonical observations with a ``published`` date set by
    the file or by the documented lag rule ``published_rule``.
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
    url: str = ""
    # True when the file itself states each figure's publication date (release tables,
    # published estimates); False when ``published_rule`` derives it from the period.
    published_in_file: bool = False

    def load(self, path: str | Path, published: pd.Timestamp | None = None) -> pd.DataFrame:
        """Parse ``path`` into validated canonical observations.

        ``published`` overrides the publication date of every row (``--published``).
        """
        path = Path(path)
        tidy = self.parse(path)
        obs = self.observe(tidy)
        if published is not None:
            obs = obs.assign(published=pd.Timestamp(published).normalize())
        return validate_observations(obs, path)


# --------------------------------------------------------------------------- reading


def read_table(
    path: Path,
    required: Iterable[str],
    *,
    encoding: str = "utf-8",
    sep: str = ",",
    skip_blank: bool = True,
) -> pd.DataFrame:
    """Read a delimited text file as strings, with a ``_line`` column of file line numbers.

    Raises ``SourceError`` for a missing or empty file, undecodable bytes, or a missing column.
    """
    if not path.exists():
        raise SourceError(path, "file not found")
    raw = path.read_bytes()
    if not raw.strip():
        raise SourceError(path, "file is empty: expected a header line and data rows")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(
            path,
            f"bytes at offset {exc.start} are not valid {encoding}: expected {encoding} text"
            " (re-save the file as UTF-8)",
            line=line,
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    from io import StringIO

    try:
        df = pd.read_csv(
            StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=skip_blank,
        )
    except pd.errors.ParserError as exc:
        raise SourceError(path, f"malformed CSV: {exc}") from None
    except pd.errors.EmptyDataError:
        raise SourceError(path, "file is empty: expected a header line and data rows") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise SourceError(
            path,
            f"missing column(s) {missing}: expected header with {list(required)}",
            line=1,
        )
    if df.empty:
        raise SourceError(path, "no data rows after the header")
    # Line numbers: header is line 1; skip_blank_lines drops blank lines, so recover them.
    data_lines = [
        i + 1 for i, ln in enumerate(text.splitlines()) if (ln.strip() or not skip_blank)
    ][1:]
    if len(data_lines) != len(df):  # quoted multi-line fields: fall back to row order
        data_lines = list(range(2, len(df) + 2))
    df[LINE] = data_lines
    return df


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
    """Convert a text column to dates with ``fmt``; the first bad cell raises ``SourceError``."""
    text = df[field].astype(str).str.strip()
    dates = pd.to_datetime(text, format=fmt, errors="coerce")
    _fail_first(path, df, dates.isna(), field, f"expected a date as {fmt}")
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


def validate(path: Path, df: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Validate with pandera; the first failure becomes a ``SourceError`` naming line and field."""
    try:
        return schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        first = fc.iloc[0]
        line = None
        idx = first.get("index")
        if LINE in df.columns and idx is not None and not pd.isna(idx) and idx in df.index:
            line = int(df.loc[idx, LINE])
        field = first.get("column")
        field = None if field is None or pd.isna(field) else str(field)
        raise SourceError(
            path,
            f"failed check {first['check']} with value {first['failure_case']!r}"
            f" ({len(fc)} failure(s) in all)",
            line=line,
            field=field,
        ) from None


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
    base = tidy[["period_start", "period_end"]].assign(published=published.to_numpy())
    parts = []
    for col, unit in value_columns.items():
        part = base.assign(series=col, value=tidy[col].to_numpy(dtype=float), unit=unit)
        parts.append(part[part["value"].notna()])
    obs = pd.concat(parts, ignore_index=True)
    return obs.assign(region=region, observer=observer, note=note)[OBSERVATION_COLUMNS]


def validate_observations(obs: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Check canonical observations (types, period order, one figure per key and vintage)."""
    obs = obs.copy()
    for col in ("series", "region", "unit", "observer", "note"):
        obs[col] = obs[col].fillna("").astype(str)
    for col in ("period_start", "period_end", "published"):
        obs[col] = pd.to_datetime(obs[col]).astype("datetime64[ns]")
    obs["value"] = obs["value"].astype(float)
    obs = obs[OBSERVATION_COLUMNS].reset_index(drop=True)
    return validate(path, obs, OBSERVATIONS)
