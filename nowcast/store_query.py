"""Reading the vintage store: what was known on a day (``as_of``), every vintage of a
series, the summary of what it holds and the ingest log, mixed into ``nowcast.store.Store``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from nowcast.errors import StoreError
from nowcast.sources.base import EARLIEST_DATE, LATEST_DATE


def parse_day(value: str | pd.Timestamp, what: str) -> pd.Timestamp:
    """A calendar day from user input; a clear error names what was expected."""
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        day = pd.NaT
    if pd.isna(day):
        raise StoreError(f"{what}: expected a date as YYYY-MM-DD, got {value!r}")
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise StoreError(
            f"{what}: expected a date from {EARLIEST_DATE:%Y-%m-%d} to {LATEST_DATE:%Y-%m-%d}"
            f" (the dates nowcast can hold), got {value!r}"
        )
    return pd.Timestamp(day.date())


class QueryMixin:
    """The reads of ``Store``: figures as of a day, vintages, summaries, the ingest log."""

    # ------------------------------------------------------------------ reading

    def fingerprint(self, as_of: str | pd.Timestamp, *, simulated: bool = False) -> str:
        """A digest of every figure visible on ``as_of``: it changes when a later ingest adds
        or revises a figure published by that day (a backfilled file), and only then."""
        day = parse_day(as_of, "as-of date").date()
        n, digest = self.con.execute(
            "SELECT count(*), coalesce(bit_xor(hash(series, region, period_start, period_end,"
            " observer, value, published, ingested_at)), 0) FROM observations"
            " WHERE published <= ? AND simulated = ?",
            [day, simulated],
        ).fetchall()[0]
        return f"{int(n)}:{int(digest):016x}"

    def as_of(
        self,
        as_of: str | pd.Timestamp | None = None,
        *,
        series: list[str] | None = None,
        simulated: bool = False,
        all_observers: bool = True,
    ) -> pd.DataFrame:
        """Exactly what was known on ``as_of``: for each (series, region, period, observer), the
        latest vintage published on or before that day. ``None`` means everything stored.

        Real and simulated figures never mix: ``simulated`` picks one kind.
        """
        day = parse_day(as_of, "as-of date").date() if as_of is not None else datetime.max.date()
        query = (
            "SELECT source, series, region, period_start, period_end, value, unit, published,"
            " observer, note, ingested_at, simulated FROM observations"
            " WHERE published <= ? AND simulated = ?"
        )
        params: list[object] = [day, simulated]
        if series is not None:
            query += " AND list_contains(?, series)"
            params.append(list(series))
        query += (
            " QUALIFY row_number() OVER (PARTITION BY series, region, period_start, period_end,"
            " observer ORDER BY published DESC, ingested_at DESC) = 1"
            " ORDER BY series, region, period_start, period_end, observer"
        )
        df = self.con.execute(query, params).df()
        for col in ("period_start", "period_end", "published"):
            df[col] = pd.to_datetime(df[col]).astype("datetime64[ns]")
        return df

    def vintages(self, series: str, region: str | None = None) -> pd.DataFrame:
        """Every stored vintage of ``series`` (optionally one region), oldest first."""
        query = "SELECT * FROM observations WHERE series = ?"
        params: list[object] = [series]
        if region is not None:
            query += " AND region = ?"
            params.append(region)
        return self.con.execute(
            query + " ORDER BY region, period_start, period_end, observer, published, ingested_at",
            params,
        ).df()

    def snapshot(self) -> pd.DataFrame:
        """All rows of both tables, for checking that a failed ingest changed nothing."""
        obs = self.con.execute(
            "SELECT * FROM observations ORDER BY ingest_id, series, region, period_start,"
            " observer, published"
        ).df()
        n_ingests = self._scalar("SELECT count(*) FROM ingests")
        return obs.assign(_n_ingests=n_ingests)

    def summary(self) -> pd.DataFrame:
        """One row per stored series: kind (real/simulated), frequency, first and last period,
        rows, periods, how many periods were revised, the most vintages of one period, and when
        it was last published."""
        df = self.con.execute(
            """
            WITH per_period AS (
                SELECT source, series, region, unit, simulated, period_start, period_end,
                       observer, count(*) AS n_vintages,
                       max(published) AS last_published,
                       date_diff('day', period_start, period_end) + 1 AS days
                FROM observations
                GROUP BY ALL
            )
            SELECT series, region, source, unit,
                   CASE WHEN bool_or(simulated) THEN 'SIMULATED' ELSE 'real' END AS kind,
                   list_sort(list_distinct(list(
                       CASE WHEN days = 1 THEN 'daily'
                            WHEN days BETWEEN 28 AND 31 THEN 'monthly'
                            WHEN days BETWEEN 89 AND 92 THEN 'quarterly'
                            WHEN days BETWEEN 365 AND 366 THEN 'yearly'
                            ELSE 'other period' END))) AS frequency,
                   min(period_start) AS first_period,
                   max(period_end) AS last_period,
                   count(*)::BIGINT AS periods,
                   sum(n_vintages)::BIGINT AS rows,
                   sum(CASE WHEN n_vintages > 1 THEN 1 ELSE 0 END)::BIGINT AS revised_periods,
                   max(n_vintages)::BIGINT AS max_vintages,
                   max(last_published) AS last_published
            FROM per_period
            GROUP BY series, region, source, unit, simulated
            ORDER BY kind, series, region, source
            """
        ).df()
        df["frequency"] = df["frequency"].map(", ".join)
        return df

    def rows_since(self, ingest_id: int) -> tuple[pd.DataFrame, dict[int, str]]:
        """The figures stored by ingests after ``ingest_id`` (the releases of an update), with
        their ``ingest_id``, and the file name of each of those ingests."""
        rows = self.con.execute(
            "SELECT series, region, period_start, period_end, value, published, observer,"
            " simulated, ingest_id FROM observations WHERE ingest_id > ? ORDER BY ingest_id",
            [int(ingest_id)],
        ).df()
        for col in ("period_start", "period_end", "published"):
            rows[col] = pd.to_datetime(rows[col]).astype("datetime64[ns]")
        names = dict(
            self.con.execute(
                "SELECT ingest_id, file_name FROM ingests WHERE ingest_id > ?", [int(ingest_id)]
            ).fetchall()
        )
        return rows, {int(k): str(v) for k, v in names.items()}

    def ingests(self) -> pd.DataFrame:
        """The ingest log: one row per file ingested."""
        return self.con.execute("SELECT * FROM ingests ORDER BY ingest_id").df()

    def last_ingest_id(self) -> int:
        """The highest ingest_id in the store (0 for an empty store)."""
        return int(self._scalar("SELECT coalesce(max(ingest_id), 0) FROM ingests"))
