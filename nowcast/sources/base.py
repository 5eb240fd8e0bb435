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

Hostile input is refused before anything is stored: a row with more or fewer cells than the
header, a file cut off mid-row (no final newline), a column named twice, NUL bytes and other
invisible characters, another separator than the comma, dates nowcast cannot hold, and figures
dated after the ingest day
(``Source.load`` checks each figure's period and publication date against ``today``).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from nowcast.errors import NowcastError, SourceError

LINE = "_line"  # file line of each parsed row, kept until observations are validated

# The dates a figure may carry. pandas holds nanosecond timestamps from 1677-09-21 to
# 2262-04-11; these bounds leave room for month, quarter and year ends and publication lags
# computed from a date, so no arithmetic on an accepted date can overflow.
EARLIEST_DATE = pd.Timestamp("1678-01-01")
LATEST_DATE = pd.Timestamp("2200-12-31")

# ``NOWCAST_TODAY=YYYY-MM-DD`` fixes the ingest day (tests, replaying an old ingest).
TODAY_ENV = "NOWCAST_TODAY"


def ingest_day() -> pd.Timestamp:
    """The ingest day: ``$NOWCAST_TODAY`` when set, else today's UTC date."""
    text = os.environ.get(TODAY_ENV, "").strip()
    if not text:
        return pd.Timestamp(datetime.now(UTC).date())
    try:
        day = pd.Timestamp(datetime.strptime(text, "%Y-%m-%d"))
    except ValueError:
        raise NowcastError(f"${TODAY_ENV}: expected a date as YYYY-MM-DD, got {text!r}") from None
    return day


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

    ``parse(path)`` returns the tidy, schema-checked table (units in column names, the file
    line of each row in ``_line``); ``observe(tidy)`` turns it into canonical observations with
    a ``published`` date set by the file or by the documented lag rule ``published_rule``.

    ``period_fields`` names the file's columns that date each figure's period (first and last
    day; the same column twice when one date gives the period), so a figure dated after the
    ingest day is refused naming the file's own field. A parser may override them for one
    file layout through ``tidy.attrs["period_fields"]`` (the CBR's XML says ``Date``).

    Dates are checked against the ingest day ``today`` (``Source.load``): every figure must be
    published by then (by the file or the rule), and its period must have ended by then, unless
    ``partial_periods`` says the source states figures for periods still running (a rate set in
    advance, a point-in-time figure that covers its month); ``ahead_days`` is how many days
    after the ingest day such a period may begin (1 for a rate set the day before it applies).

    ``recognise(path)`` says whether a file is in this source's format, from its first few KB
    only (header columns, XML root, the first rows' dates), so ``nowcast update FILE`` can do
    without ``--source``; it never raises (``csv_recogniser`` builds one from a header).
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
    period_fields: tuple[str, str]
    url: str = ""
    # True when the file itself states each figure's publication date (release tables,
    # published estimates); False when ``published_rule`` derives it from the period.
    published_in_file: bool = False
    partial_periods: bool = False
    ahead_days: int = 0
    recognise: Callable[[Path], bool] | None = None

    def load(
        self,
        path: str | Path,
        published: pd.Timestamp | None = None,
        *,
        today: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Parse ``path`` into validated canonical observations.

        ``published`` overrides the publication date of every row (``--published``);
        ``today`` is the ingest day (default ``ingest_day()``): later figures are refused.
        """
        path = Path(path)
        tidy = self.parse(path)
        return self.finish(path, tidy, self.observe(tidy), published, today)

    def finish(
        self,
        path: Path,
        tidy: pd.DataFrame,
        obs: pd.DataFrame,
        published: pd.Timestamp | None,
        today: pd.Timestamp | None,
    ) -> pd.DataFrame:
        """Apply ``--published``, refuse figures dated after ``today`` and validate."""
        if published is not None:
            obs = obs.assign(published=pd.Timestamp(published).normalize())
        fields = tidy.attrs.get("period_fields", self.period_fields)
        check_dates(
            path,
            obs,
            self,
            today=ingest_day() if today is None else pd.Timestamp(today).normalize(),
            fields=fields,
            overridden=published is not None,
        )
        return validate_observations(obs, path)


# --------------------------------------------------------------------------- reading


def read_input(path: Path) -> bytes:
    """The bytes of an input file; a missing file, a folder or an unreadable file is a
    ``SourceError`` naming the path, never an ``OSError`` traceback."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceError(path, "file not found") from None
    except IsADirectoryError:
        raise SourceError(path, "is a folder: expected a file") from None
    except PermissionError:
        raise SourceError(path, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise SourceError(path, f"cannot read the file: {exc.strerror or exc}") from None


def decode_text(path: Path, raw: bytes, encoding: str = "utf-8") -> str:
    """``raw`` as text without a byte-order mark; undecodable bytes and NUL characters (a
    UTF-16 file, binary junk) are refused naming their line."""
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
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise SourceError(
            path,
            f"NUL byte in the text: expected {encoding} text (is the file UTF-16 or binary?)",
            line=line,
        )
    text = text.removeprefix("\ufeff")
    # A byte-order mark or a control character inside the text would end up in a name or a
    # value unseen (two files joined, a line pasted from another encoding): refuse it.
    odd = _INVISIBLE.search(text)
    if odd:
        raise SourceError(
            path,
            f"invisible character U+{ord(odd.group()):04X} in the text: expected plain"
            f" {encoding} text (were two files joined, or a line pasted from another file?)",
            line=text[: odd.start()].count("\n") + 1,
        )
    return text


_INVISIBLE = re.compile("[\ufeff\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Separators users' spreadsheets write instead of commas, with their names for messages.
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _records(path: Path, text: str, sep: str, skip_blank: bool) -> list[tuple[int, list[str]]]:
    """(first file line, cells) of every record; quoted cells may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    records = []
    last = 0
    try:
        for cells in reader:
            first, last = last + 1, reader.line_num
            if skip_blank and len(cells) <= 1 and not (cells and cells[0].strip()):
                continue
            records.append((first, cells))
    except csv.Error as exc:
        raise SourceError(path, f"malformed CSV: {exc}", line=reader.line_num) from None
    return records


def _header(path: Path, line: int, cells: list[str], sep: str) -> list[str]:
    """Column names, stripped; a name given twice or a file split by another separator is
    refused. An unnamed column is called ``(column N)``."""
    names = [c.strip() or f"(column {i + 1})" for i, c in enumerate(cells)]
    if len(names) == 1:
        for other, what in _OTHER_SEPARATORS.items():
            if other != sep and other in names[0]:
                raise SourceError(
                    path,
                    f"the header is separated by {what}: expected a comma-separated file"
                    " (re-export it as CSV with commas)",
                    line=line,
                )
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            raise SourceError(
                path,
                f"column appears twice in the header (columns {first[name] + 1} and {i + 1}):"
                " expected each column once",
                line=line,
                field=name,
            )
        first[name] = i
    return names


def read_table(
    path: Path,
    required: Iterable[str],
    *,
    encoding: str = "utf-8",
    sep: str = ",",
    skip_blank: bool = True,
    free_text: Collection[str] = (),
) -> pd.DataFrame:
    """Read a delimited text file as strings, with a ``_line`` column of file line numbers.

    Raises ``SourceError`` for a missing, unreadable or empty file, undecodable bytes, a
    header that names a column twice or is split by another separator, a missing column, a row
    with more or fewer cells than the header, and a file cut off mid-row: one whose last line
    has no newline. A publisher's file ends every row with a newline, so a missing one means an
    interrupted download or copy. Hand-kept files (``free_text`` lists their free-text
    columns) may lack it when their last column is free text: a cut there changes no figure.
    """
    raw = read_input(path)
    if not raw.strip():
        raise SourceError(path, "file is empty: expected a header line and data rows")
    text = decode_text(path, raw, encoding)
    records = _records(path, text, sep, skip_blank)
    if not records:
        raise SourceError(path, "file is empty: expected a header line and data rows")
    header_line, header_cells = records[0]
    columns = _header(path, header_line, header_cells, sep)
    missing = [c for c in required if c not in columns]
    if missing:
        raise SourceError(
            path,
            f"missing column(s) {missing}: expected header with {list(required)}",
            line=header_line,
        )
    rows = records[1:]
    if not rows:
        raise SourceError(path, "no data rows after the header")
    for line, cells in rows:
        if len(cells) < len(columns):
            raise SourceError(
                path,
                f"the row has {len(cells)} of the header's {len(columns)} fields: expected a"
                " cell for every column (is the row cut off?)",
                line=line,
                field=columns[len(cells)],
            )
        if len(cells) > len(columns):
            raise SourceError(
                path,
                f"the row has {len(cells)} fields but the header has {len(columns)}: expected"
                f" one cell per column (quote a cell that holds a {sep!r})",
                line=line,
            )
    if not text.endswith(("\n", "\r")) and columns[-1] not in free_text:
        raise SourceError(
            path,
            "the last line does not end with a newline: the file looks cut off mid-row"
            " (an interrupted download or copy); expected every row to end with a newline"
            " (download the file again, or add the newline if the row is complete)",
            line=rows[-1][0],
            field=columns[-1],
        )
    df = pd.DataFrame([cells for _, cells in rows], columns=columns, dtype=str)
    df[LINE] = [line for line, _ in rows]
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


# --------------------------------------------------------------------------- recognising

# How much of a file recognisers look at: enough for a header of a hundred Cyrillic region
# names (Rosstat's is under 4 KB) and a few dozen rows, never the whole file.
SNIFF_BYTES = 16 * 1024
SNIFF_ROWS = 50


def sniff(path: Path, size: int = SNIFF_BYTES) -> bytes | None:
    """The first ``size`` bytes of a regular file; ``None`` for anything that cannot be read
    (missing, a folder, a pipe, no permission): such a file is simply not recognised."""
    try:
        # A pipe or device would block or never end: only regular files are read.
        if not Path(path).is_file():
            return None
        with open(path, "rb") as f:
            return f.read(size)
    except (OSError, ValueError):
        return None


def head_rows(data: bytes, max_rows: int = SNIFF_ROWS) -> tuple[list[str], list[list[str]]] | None:
    """The header (names stripped) and up to ``max_rows`` data rows of the CSV text that begins
    with ``data``; ``None`` when it is not comma-separated UTF-8 text with a header."""
    if len(data) >= SNIFF_BYTES:
        # A cut inside a line (or inside a UTF-8 character) is not the file's content.
        end = data.rfind(b"\n")
        if end < 0:
            return None
        data = data[: end + 1]
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    rows: list[list[str]] = []
    try:
        for cells in csv.reader(io.StringIO(text, newline="")):
            if len(cells) <= 1 and not (cells and cells[0].strip()):
                continue  # blank line, as read_table skips it
            rows.append(cells)
            if len(rows) > max_rows:
                break
    except csv.Error:
        return None
    if not rows:
        return None
    return [c.strip() for c in rows[0]], rows[1:]


def csv_recogniser(
    required: Iterable[str],
    *,
    only: Iterable[str] | None = None,
    check: Callable[[list[str], list[list[str]]], bool] | None = None,
) -> Callable[[Path], bool]:
    """A ``Source.recognise`` for a CSV format: the header has every ``required`` column (and,
    with ``only``, no column outside ``only``), and ``check(header, rows)``, when given, holds
    for the header and the first rows. Never raises: an unreadable, binary or non-CSV file is
    not recognised."""
    need = frozenset(required)
    allowed = None if only is None else frozenset(only)

    def recognise(path: Path) -> bool:
        data = sniff(path)
        head = head_rows(data) if data else None
        if head is None:
            return False
        header, rows = head
        if not need <= set(header) or (allowed is not None and not set(header) <= allowed):
            return False
        if check is None:
            return True
        try:
            return bool(check(header, rows))
        except Exception:  # a content check on odd cells must not stop the other sources
            return False

    return recognise


def column_cells(header: list[str], rows: list[list[str]], column: str) -> list[str]:
    """The stripped cells of ``column`` in ``rows`` (rows too short for it are skipped)."""
    i = header.index(column)
    return [r[i].strip() for r in rows if len(r) > i]


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


def observation_columns(df: pd.DataFrame) -> list[str]:
    """``OBSERVATION_COLUMNS``, plus the file line ``_line`` when ``df`` carries it (so date
    and validation errors on observations can still name the line)."""
    return [*OBSERVATION_COLUMNS, LINE] if LINE in df.columns else list(OBSERVATION_COLUMNS)


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
    keep = [c for c in ("period_start", "period_end", LINE) if c in tidy.columns]
    base = tidy[keep].assign(published=published.to_numpy())
    parts = []
    for col, unit in value_columns.items():
        part = base.assign(series=col, value=tidy[col].to_numpy(dtype=float), unit=unit)
        parts.append(part[part["value"].notna()])
    obs = pd.concat(parts, ignore_index=True)
    obs = obs.assign(region=region, observer=observer, note=note)
    return obs[observation_columns(obs)]


def validate_observations(obs: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Check canonical observations (types, period order, one figure per key and vintage);
    the file line ``_line``, when present, names the row of an error and is then dropped."""
    lines = obs[LINE].reset_index(drop=True) if LINE in obs.columns else None
    obs = obs.copy()
    for col in ("series", "region", "unit", "observer", "note"):
        obs[col] = obs[col].fillna("").astype(str)
    for col in ("period_start", "period_end", "published"):
        obs[col] = pd.to_datetime(obs[col]).astype("datetime64[ns]")
    obs["value"] = obs["value"].astype(float)
    obs = obs[OBSERVATION_COLUMNS].reset_index(drop=True)
    return validate(path, obs, OBSERVATIONS, lines=lines)
