"""The nowcast history: what one recorded nowcast is, and the checks a record must pass before
the store keeps it (``Store.record_nowcast``). Every recorded nowcast stays in the store, so the
estimate of one month can be followed across data vintages; the latest recorded one is *the*
current nowcast.

A record names its run folder, the data it rests on (as-of date, the store's last ingest), the
model spec, how it was made (``path``: a full ``run``, a ``fast`` importance-reweighted update
or an update that had to ``refit``) and its estimates: one row per target period (a month
``YYYY-MM`` or a quarter ``YYYYQn``) and quantity, with the median and the 80% and 95%
intervals.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from nowcast.errors import StoreError

PATHS = ("run", "fast", "refit")
DATA_KINDS = ("real", "SIMULATED")
FREQS = ("month", "quarter")
STATUSES = ("fitted", "forecast")
HEADLINE_QUANTITY = "hidden_inflow_usd"
LATEST = "latest"  # data_as_of of a nowcast on everything stored

NOWCAST_COLUMNS = [
    "nowcast_id",
    "recorded_at",
    "run_path",
    "data_as_of",
    "last_ingest_id",
    "fitted_through",
    "spec_name",
    "spec_hash",
    "data_kind",
    "path",
    "pareto_k",
    "ess",
    "note",
]
# the columns of ``NowcastRecord.estimates``: every nowcast_estimates column but nowcast_id
ESTIMATE_COLUMNS = [
    "target",
    "freq",
    "period_start",
    "period_end",
    "status",
    "quantity",
    "mean",
    "median",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
]
NUMBER_COLUMNS = ["mean", "median", "lower_80", "upper_80", "lower_95", "upper_95"]
# lower_95 <= lower_80 <= median <= upper_80 <= upper_95, each pair checked in this order
ORDERED_PAIRS = [
    ("lower_80", "median"),
    ("median", "upper_80"),
    ("lower_95", "lower_80"),
    ("upper_80", "upper_95"),
]
HEADLINE_COLUMNS = ["headline_month", "median", "lower_80", "upper_80"]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True, eq=False)  # eq=False: a DataFrame field has no plain equality
class NowcastRecord:
    """One nowcast to record: where it came from and its estimates.

    ``data_as_of`` is the as-of date (YYYY-MM-DD) of the data or ``'latest'``;
    ``last_ingest_id`` the highest ingest_id of the store it rests on; ``fitted_through`` a
    day of the last month of its window (kept as that month's first day); ``path`` ``'run'``,
    ``'fast'`` or ``'refit'``; ``pareto_k`` the importance-sampling Pareto k (required for
    ``'fast'``, none for ``'run'``); ``ess`` the importance-sampling effective sample size (or
    None); ``estimates`` one row per target and quantity with the columns
    ``ESTIMATE_COLUMNS``; ``recorded_at`` defaults to now (UTC)."""

    run_path: str | Path
    data_as_of: str
    last_ingest_id: int
    fitted_through: str | date | pd.Timestamp
    spec_name: str
    spec_hash: str
    data_kind: str
    path: str
    estimates: pd.DataFrame
    pareto_k: float | None = None
    ess: float | None = None
    note: str = ""
    recorded_at: datetime | None = None


def _refuse(field: str, message: str) -> StoreError:
    return StoreError(f"nowcast record: field '{field}': {message}")


def parse_target(value: str, what: str = "target") -> tuple[str, str]:
    """``(target, freq)`` of a month ``YYYY-MM`` or a quarter ``YYYYQn`` (``2025q3`` is read as
    ``2025Q3``); ``StoreError`` naming ``what`` otherwise."""
    text = str(value).strip()
    if _MONTH.match(text):
        return text, "month"
    if _QUARTER.match(text.upper()):
        return text.upper(), "quarter"
    raise StoreError(
        f"{what}: expected a month as YYYY-MM (e.g. 2025-07) or a quarter as YYYYQn"
        f" (e.g. 2025Q3), got {value!r}"
    )


def parse_month(value: str, what: str = "--month") -> str:
    """A month ``YYYY-MM``; ``StoreError`` naming ``what`` and the format otherwise."""
    text = str(value).strip()
    if not _MONTH.match(text):
        raise StoreError(f"{what}: expected a month as YYYY-MM (e.g. 2025-07), got {value!r}")
    return text


def target_period(target: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of a target month or quarter."""
    target, freq = parse_target(target)
    period = pd.Period(target, freq="M" if freq == "month" else "Q")
    return period.start_time.normalize(), period.end_time.normalize()


def _text(value: object, field: str) -> str:
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise _refuse(field, f"expected a non-empty text, got {value!r}")
    return value


def _day(value: object, field: str) -> pd.Timestamp:
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        day = pd.NaT
    if pd.isna(day):
        raise _refuse(field, f"expected a date as YYYY-MM-DD, got {value!r}")
    return pd.Timestamp(day.date())


def _optional_number(value: object, field: str) -> float | None:
    if value is None:
        return None
    number = _as_float(value)
    if not math.isfinite(number):
        raise _refuse(field, f"expected a finite number or None, got {value!r}")
    return number


def _as_float(value: object) -> float:
    """``value`` as a float; NaN when it is not a number (the caller names the field)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def check_record(record: NowcastRecord, now: datetime) -> tuple[list[object], pd.DataFrame]:
    """The values of the record's ``nowcasts`` row (without ``nowcast_id``; ``recorded_at``
    defaults to ``now``) and its estimates, checked; ``StoreError`` naming the field that is
    wrong."""
    if not isinstance(record, NowcastRecord):
        raise StoreError(f"nowcast record: expected a NowcastRecord, got {type(record).__name__}")
    run_path = _text(record.run_path, "run_path")
    as_of = _text(record.data_as_of, "data_as_of").strip()
    if as_of != LATEST:
        as_of = f"{_day(as_of, 'data_as_of'):%Y-%m-%d}"
    ingest_id = record.last_ingest_id
    if isinstance(ingest_id, bool) or not isinstance(ingest_id, int | np.integer) or ingest_id < 0:
        raise _refuse("last_ingest_id", f"expected an ingest id >= 0, got {ingest_id!r}")
    fitted_through = _day(record.fitted_through, "fitted_through").to_period("M").start_time
    spec_name = _text(record.spec_name, "spec_name")
    spec_hash = _text(record.spec_hash, "spec_hash")
    if record.data_kind not in DATA_KINDS:
        raise _refuse(
            "data_kind", f"expected one of {_choices(DATA_KINDS)}, got {record.data_kind!r}"
        )
    if record.path not in PATHS:
        raise _refuse("path", f"expected one of {_choices(PATHS)}, got {record.path!r}")
    pareto_k = _optional_number(record.pareto_k, "pareto_k")
    if record.path == "run" and pareto_k is not None:
        raise _refuse("pareto_k", "a full run ('run') has no Pareto k: expected None")
    if record.path == "fast" and pareto_k is None:
        raise _refuse("pareto_k", "a fast update rests on its Pareto k: expected a number")
    ess = _optional_number(record.ess, "ess")
    if ess is not None and ess <= 0:
        raise _refuse("ess", f"expected an effective sample size > 0, got {record.ess!r}")
    note = record.note if record.note is not None else ""
    if not isinstance(note, str):
        raise _refuse("note", f"expected a text, got {note!r}")
    recorded_at = record.recorded_at if record.recorded_at is not None else now
    if not isinstance(recorded_at, datetime) or pd.isna(recorded_at):
        raise _refuse("recorded_at", f"expected a date and time, got {recorded_at!r}")
    if recorded_at.tzinfo is not None:  # stored as naive UTC, like ingested_at
        recorded_at = pd.Timestamp(recorded_at).tz_convert("UTC").tz_localize(None)
    estimates = check_estimates(record.estimates, fitted_through)
    row = [
        pd.Timestamp(recorded_at).to_pydatetime(),
        run_path,
        as_of,
        int(ingest_id),
        fitted_through.date(),
        spec_name,
        spec_hash,
        record.data_kind,
        record.path,
        pareto_k,
        ess,
        note,
    ]
    return row, estimates


def _choices(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def check_estimates(estimates: object, fitted_through: pd.Timestamp) -> pd.DataFrame:
    """The estimates with ``ESTIMATE_COLUMNS`` in order, checked: targets matching their
    frequency and period, known statuses, finite numbers, nested intervals around the median,
    one row per target and quantity, no fitted month after ``fitted_through``."""
    if not isinstance(estimates, pd.DataFrame):
        raise _refuse("estimates", f"expected a DataFrame, got {type(estimates).__name__}")
    missing = [c for c in ESTIMATE_COLUMNS if c not in estimates.columns]
    if missing:
        raise _refuse("estimates", f"missing column(s) {', '.join(map(repr, missing))}")
    if estimates.empty:
        raise _refuse("estimates", "no rows: a nowcast records at least one estimate")
    given = estimates[ESTIMATE_COLUMNS].reset_index(drop=True)
    rows: list[dict[str, object]] = []
    for i, raw in enumerate(given.to_dict("records")):

        def bad(field: str, message: str, raw: dict[str, object] = raw, i: int = i) -> StoreError:
            where = f"row {i} ({raw['target']!r}, {raw['quantity']!r})"
            return _refuse(f"estimates.{field}", f"{where}: {message}")

        freq = raw["freq"]
        if freq not in FREQS:
            raise bad("freq", f"expected one of {_choices(FREQS)}, got {freq!r}")
        try:
            target, target_freq = parse_target(str(raw["target"]))
        except StoreError:
            target, target_freq = "", None
        if target_freq != freq:
            form = "YYYY-MM" if freq == "month" else "YYYYQn"
            raise bad("target", f"expected a {freq} as {form}, got {raw['target']!r}")
        start, end = target_period(target)
        for col, want in (("period_start", start), ("period_end", end)):
            got = _day(raw[col], f"estimates.{col}")
            if got != want:
                raise bad(col, f"expected {want:%Y-%m-%d} for {target}, got {got:%Y-%m-%d}")
        status = raw["status"]
        if status not in STATUSES:
            raise bad("status", f"expected one of {_choices(STATUSES)}, got {status!r}")
        if status == "fitted" and freq == "month" and start > fitted_through:
            raise bad("status", f"a fitted month after fitted_through ({fitted_through:%Y-%m})")
        quantity = raw["quantity"]
        if not isinstance(quantity, str) or not quantity.strip():
            raise bad("quantity", f"expected a non-empty text, got {quantity!r}")
        row: dict[str, object] = {
            "target": target,
            "freq": freq,
            "period_start": start.date(),
            "period_end": end.date(),
            "status": status,
            "quantity": quantity,
        }
        for col in NUMBER_COLUMNS:
            value = raw[col]
            number = _as_float(value)
            if not math.isfinite(number):
                raise bad(col, f"expected a finite number, got {value!r}")
            row[col] = number
        for low, high in ORDERED_PAIRS:
            if not row[low] <= row[high]:  # type: ignore[operator]
                field = low if low.startswith("lower") else high
                raise bad(field, f"expected {low} <= {high}, got {row[low]!r} > {row[high]!r}")
        rows.append(row)
    df = pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)
    twice = df.duplicated(["target", "quantity"], keep=False)
    if twice.any():
        i = int(np.flatnonzero(twice)[0])
        raise _refuse(
            "estimates.target",
            f"row {i} ({df.at[i, 'target']!r}, {df.at[i, 'quantity']!r}): appears more than"
            " once for this quantity",
        )
    return df


def empty_nowcasts() -> pd.DataFrame:
    """The frame ``Store.nowcasts()`` gives for a store with no nowcast recorded."""
    return typed(pd.DataFrame(columns=[*NOWCAST_COLUMNS, *HEADLINE_COLUMNS]))


def empty_estimates(columns: list[str]) -> pd.DataFrame:
    """The frame ``Store.estimates()`` gives when no nowcast has an estimate of the target."""
    return typed(pd.DataFrame(columns=columns))


_TIME_COLUMNS = ("recorded_at", "fitted_through", "period_start", "period_end")
_FLOAT_COLUMNS = ("pareto_k", "ess", *NUMBER_COLUMNS)
_INT_COLUMNS = ("nowcast_id", "last_ingest_id")


def typed(df: pd.DataFrame) -> pd.DataFrame:
    """Dates and times as datetime64[ns], numbers as float64, ids as int64, the rest as text
    (missing stays missing): the same dtypes whether the frame is empty or not."""
    df = df.copy()
    for col in df.columns:
        if col in _TIME_COLUMNS:
            df[col] = pd.to_datetime(df[col]).astype("datetime64[ns]")
        elif col in _FLOAT_COLUMNS:
            df[col] = df[col].astype("float64")
        elif col in _INT_COLUMNS:
            df[col] = df[col].astype("int64")
        else:
            df[col] = df[col].astype("str")
    return df


__all__ = [
    "DATA_KINDS",
    "ESTIMATE_COLUMNS",
    "FREQS",
    "HEADLINE_QUANTITY",
    "LATEST",
    "NOWCAST_COLUMNS",
    "NowcastRecord",
    "PATHS",
    "STATUSES",
    "check_record",
    "parse_month",
    "parse_target",
    "target_period",
]
