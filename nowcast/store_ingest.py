"""Ingesting files into the vintage store: each file parsed, validated and stored as new
vintages in one all-or-nothing write, mixed into ``nowcast.store.Store``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from nowcast.errors import SourceError, StoreError
from nowcast.sources import get_source
from nowcast.sources.base import ingest_day, read_input
from nowcast.store_query import parse_day

# A folder holding simulated files carries this marker; the simulator writes it.
SIMULATED_MARKER = "SIMULATED.txt"

KEY = ["series", "region", "period_start", "period_end", "observer"]


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


def is_simulated_file(path: Path) -> bool:
    """A file is simulated when its folder carries the simulator's marker file."""
    return (path.parent / SIMULATED_MARKER).exists()


class IngestMixin:
    """The ingest of ``Store``: a file's new vintages and its log row, in one write."""

    def _already_ingested(
        self, sha: str, source: str, simulated: bool, pub: pd.Timestamp | None
    ) -> int | None:
        """Rows of the file when this file was ingested before with the same options."""
        seen = self._scalar(
            "SELECT max(rows_in_file) FROM ingests WHERE file_sha256 = ? AND source = ?"
            " AND simulated = ? AND published_override IS NOT DISTINCT FROM ?",
            [sha, source, simulated, pub.date() if pub is not None else None],
        )
        return None if seen is None else int(seen)

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
        the file's folder carries the simulator's marker. ``now`` is the ingest time (default:
        now; its date is the ingest day, after which no figure may be dated; without ``now``
        the day is ``$NOWCAST_TODAY`` when set). Figures already known with the same value are
        skipped, so ingesting the same file twice changes nothing. A figure whose value
        differs from the latest known vintage is stored as a new vintage; when the file states
        no publication dates, such a revision is dated the day it is ingested (when it
        appeared is unknown, but it was public by then).
        """
        if self.read_only:
            raise StoreError(f"the store {self.path} was opened read-only")
        path = Path(path)
        src = get_source(source)
        if simulated is None:
            simulated = is_simulated_file(path)
        pub = parse_day(published, "--published") if published is not None else None
        today = pd.Timestamp(now.date()) if now is not None else ingest_day()
        now = now or datetime.now(UTC).replace(tzinfo=None)
        sha = hashlib.sha256(read_input(path)).hexdigest()

        rows = self._already_ingested(sha, source, simulated, pub)
        if rows is not None:
            return IngestResult(source, path.name, sha, rows, 0, simulated, True)
        obs = src.load(path, published=pub, today=today)  # raises SourceError before any write
        if hashlib.sha256(read_input(path)).hexdigest() != sha:
            # a download still being written: the figures read may belong to no whole file
            raise SourceError(
                path, "the file changed while it was read: ingest it again once it is complete"
            )

        with self.writing():
            # another writer may have stored this very file while this one parsed it
            rows = self._already_ingested(sha, source, simulated, pub)
            if rows is not None:
                return IngestResult(source, path.name, sha, rows, 0, simulated, True)
            self._begin()
            try:
                added = self._store(obs, source, path, sha, pub, simulated, now, today)
            except BaseException:
                self._discard()
                raise
            self._publish()
        return IngestResult(source, path.name, sha, len(obs), added, simulated, False)

    def _store(
        self,
        obs: pd.DataFrame,
        source: str,
        path: Path,
        sha: str,
        pub: pd.Timestamp | None,
        simulated: bool,
        now: datetime,
        today: pd.Timestamp,
    ) -> int:
        """Write the new vintages of ``obs`` and the ingest's log row to the private copy."""
        src = get_source(source)
        # Without stated publication dates, a revision is dated the day it is ingested; so the
        # figure to compare with is the latest stored vintage, whatever its date.
        dated_by_rule = pub is None and not src.published_in_file
        new = self._new_vintages(obs, simulated, compare_latest=dated_by_rule)
        if dated_by_rule and not new.empty:
            revised = new["_revision"]
            new.loc[revised, "published"] = new.loc[revised, "published"].clip(lower=today)
        new = new.drop(columns="_revision")
        ingest_id = self._scalar("SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests")
        rows = new.assign(
            source=source,
            ingested_at=pd.Timestamp(now),
            file_sha256=sha,
            simulated=simulated,
            ingest_id=ingest_id,
        )
        self.con.execute("BEGIN TRANSACTION")
        self._insert_observations(rows)
        self._log_ingest(
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
            ]
        )
        self.con.execute("COMMIT")
        return len(new)

    def _insert_observations(self, rows: pd.DataFrame) -> None:
        self.con.register("_new_rows", rows)
        self.con.execute(
            "INSERT INTO observations SELECT source, series, region, period_start,"
            " period_end, value, unit, published, observer, note, ingested_at,"
            " file_sha256, simulated, ingest_id FROM _new_rows"
        )
        self.con.unregister("_new_rows")

    def _log_ingest(self, values: list[object]) -> None:
        self.con.execute("INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)

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
