"""The vintage store: every published figure ever ingested, with when it was published and
when it was ingested, in one DuckDB file. Nothing is overwritten: a revision is a new row.

``ingest`` is all-or-nothing (one transaction, after the file has fully parsed and validated);
``as_of`` answers "what was known on date D".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from nowcast.constants import DEFAULT_STORE_DIR, STORE_DB_NAME
from nowcast.errors import StoreError
from nowcast.sources import get_source
from nowcast.sources.base import OBSERVATION_COLUMNS

# A folder holding simulated files carries this marker; the simulator writes it.
SIMULATED_MARKER = "SIMULATED.txt"

KEY = ["series", "region", "period_start", "period_end", "observer"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ingests (
    ingest_id     INTEGER PRIMARY KEY,
    source        VARCHAR NOT NULL,
    file_name     VARCHAR NOT NULL,
    file_sha256   VARCHAR NOT NULL,
    published_override DATE,
    simulated     BOOLEAN NOT NULL,
    ingested_at   TIMESTAMP NOT NULL,
    rows_in_file  INTEGER NOT NULL,
    rows_added    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS observations (
    source        VARCHAR NOT NULL,
    series        VARCHAR NOT NULL,
    region        VARCHAR NOT NULL,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    value         DOUBLE NOT NULL,
    unit          VARCHAR NOT NULL,
    published     DATE NOT NULL,
    observer      VARCHAR NOT NULL,
    note          VARCHAR NOT NULL,
    ingested_at   TIMESTAMP NOT NULL,
    file_sha256   VARCHAR NOT NULL,
    simulated     BOOLEAN NOT NULL,
    ingest_id     INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class IngestResult:
    """What one ingest did: rows read from the file and rows that were new to the store."""

    source: str
    file_name: str
    file_sha256: str
    rows_in_file: int
    rows_added: int
    simulated: bool
    already_ingested: bool


def parse_day(value: str | pd.Timestamp, what: str) -> pd.Timestamp:
    """A calendar day from user input; a clear error names what was expected."""
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError):
        day = pd.NaT
    if pd.isna(day):
        raise StoreError(f"{what}: expected a date as YYYY-MM-DD, got {value!r}")
    return day.normalize()


def default_store_dir() -> Path:
    """``$NOWCAST_STORE`` when set, else ``./store`` (git-ignored)."""
    import os

    return Path(os.environ.get("NOWCAST_STORE", DEFAULT_STORE_DIR))


def is_simulated_file(path: Path) -> bool:
    """A file is simulated when its folder carries the simulator's marker file."""
    return (path.parent / SIMULATED_MARKER).exists()


class Store:
    """A vintage store in ``directory/nowcast.duckdb``.

    Use as a context manager or call ``close()``; one writer at a time (DuckDB's rule).
    """

    def __init__(self, directory: str | Path | None = None, *, read_only: bool = False) -> None:
        self.directory = Path(directory) if directory is not None else default_store_dir()
        self.path = self.directory / STORE_DB_NAME
        if read_only and not self.path.exists():
            raise StoreError(f"no store at {self.path}: run `nowcast ingest` first")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path), read_only=read_only)
        if not read_only:
            self.con.execute(_SCHEMA)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def _scalar(self, query: str, params: list[object] | None = None) -> object:
        # fetchall, not fetchone: DuckDB 2 refuses new work while a result is half-read
        return self.con.execute(query, params or []).fetchall()[0][0]

    # ------------------------------------------------------------------ writing

    def ingest(
        self,
        path: str | Path,
        source: str,
        *,
        published: str | pd.Timestamp | None = None,
        simulated: bool | None = None,
        now: datetime | None = None,
    ) -> IngestResult:
        """Parse, validate and store one file of ``source``; all or nothing.

        ``published`` overrides every row's publication date. ``simulated`` defaults to whether
        the file's folder carries the simulator's marker. Figures already known with the same
        value are skipped, so ingesting the same file twice changes nothing. A figure whose
        value differs from the latest known vintage is stored as a new vintage; when the file
        states no publication dates, such a revision is dated the day it is ingested (when it
        appeared is unknown, but it was public by then).
        """
        path = Path(path)
        src = get_source(source)
        if simulated is None:
            simulated = is_simulated_file(path)
        pub = parse_day(published, "--published") if published is not None else None
        now = now or datetime.now(UTC).replace(tzinfo=None)
        sha = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""

        seen = self._scalar(
            "SELECT count(*) FROM ingests WHERE file_sha256 = ? AND source = ?"
            " AND simulated = ? AND published_override IS NOT DISTINCT FROM ?",
            [sha, source, simulated, pub.date() if pub is not None else None],
        )
        if seen:
            rows = self._scalar(
                "SELECT max(rows_in_file) FROM ingests WHERE file_sha256 = ? AND source = ?",
                [sha, source],
            )
            return IngestResult(source, path.name, sha, int(rows), 0, simulated, True)

        obs = src.load(path, published=pub)  # raises SourceError before any write
        # Without stated publication dates, a revision is dated the day it is ingested; so the
        # figure to compare with is the latest stored vintage, whatever its date.
        dated_by_rule = pub is None and not src.published_in_file
        new = self._new_vintages(obs, simulated, compare_latest=dated_by_rule)
        if dated_by_rule and not new.empty:
            revised = new["_revision"]
            today = pd.Timestamp(now.date())
            new.loc[revised, "published"] = new.loc[revised, "published"].clip(lower=today)
        new = new.drop(columns="_revision")

        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            ingest_id = self._scalar("SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests")
            rows = new.assign(
                source=source,
                ingested_at=pd.Timestamp(now),
                file_sha256=sha,
                simulated=simulated,
                ingest_id=ingest_id,
            )
            con.register("_new_rows", rows)
            con.execute(
                "INSERT INTO observations SELECT source, series, region, period_start,"
                " period_end, value, unit, published, observer, note, ingested_at,"
                " file_sha256, simulated, ingest_id FROM _new_rows"
            )
            con.unregister("_new_rows")
            con.execute(
                "INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    ingest_id,
                    source,
                    path.name,
                    sha,
                    pub.date() if pub is not None else None,
                    simulated,
                    now,
                    len(obs),
                    len(new),
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return IngestResult(source, path.name, sha, len(obs), len(new), simulated, False)

    def _new_vintages(
        self, obs: pd.DataFrame, simulated: bool, *, compare_latest: bool = False
    ) -> pd.DataFrame:
        """Rows of ``obs`` that tell the store something new, flagged when they revise a figure.

        A row is new unless the latest vintage of its key published on or before it (with
        ``compare_latest``: the latest vintage of all) carries the same value.
        """
        series = sorted(obs["series"].unique())
        old = self.con.execute(
            "SELECT series, region, period_start, period_end, observer, value, published"
            " FROM observations WHERE simulated = ? AND list_contains(?, series)",
            [simulated, series],
        ).df()
        obs = obs.reset_index(drop=True).assign(_row=lambda d: range(len(d)))
        if old.empty:
            return obs.drop(columns="_row").assign(_revision=False)
        for col in ("period_start", "period_end", "published"):
            old[col] = pd.to_datetime(old[col]).astype("datetime64[ns]")
        pairs = obs[[*KEY, "_row", "value", "published"]].merge(old, on=KEY, suffixes=("", "_old"))
        known = pairs if compare_latest else pairs[pairs["published_old"] <= pairs["published"]]
        latest = known.sort_values("published_old").groupby("_row").tail(1)
        same = set(latest.loc[latest["value"] == latest["value_old"], "_row"])
        keyed = set(pairs["_row"])
        out = obs[~obs["_row"].isin(same)].copy()
        out["_revision"] = out["_row"].isin(keyed)
        return out.drop(columns="_row")

    # ------------------------------------------------------------------ reading

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

    def ingests(self) -> pd.DataFrame:
        """The ingest log: one row per file ingested."""
        return self.con.execute("SELECT * FROM ingests ORDER BY ingest_id").df()


__all__ = ["KEY", "OBSERVATION_COLUMNS", "IngestResult", "Store", "default_store_dir"]
