"""The nowcast history in the store (tables ``nowcasts`` and ``nowcast_estimates``, see
``nowcast.history``): recording a nowcast and reading the recorded ones, mixed into
``nowcast.store.Store``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from nowcast.errors import StoreError
from nowcast.history import (
    ESTIMATE_COLUMNS,
    HEADLINE_COLUMNS,
    HEADLINE_QUANTITY,
    NOWCAST_COLUMNS,
    NowcastRecord,
    check_record,
    empty_estimates,
    empty_nowcasts,
    parse_target,
    typed,
)
from nowcast.store_files import _tables


class HistoryMixin:
    """The nowcast history of ``Store``: ``record_nowcast`` writes one, the rest read."""

    def record_nowcast(self, record: NowcastRecord) -> int:
        """Keep one nowcast and its estimates in the history (one write, all or nothing); its
        ``nowcast_id``. A record that fails its checks, or rests on an ingest the store does
        not hold, is refused with a ``StoreError`` naming the field, before any write.
        Without ``record.recorded_at`` it is recorded as of now (UTC)."""
        if self.read_only:
            raise StoreError(f"the store {self.path} was opened read-only")
        row, estimates = check_record(record, datetime.now(UTC).replace(tzinfo=None))
        with self.writing():
            held = self.last_ingest_id()
            if record.last_ingest_id > held:
                raise StoreError(
                    f"nowcast record: field 'last_ingest_id': the store holds ingests up to"
                    f" {held}, got {record.last_ingest_id}"
                )
            self._begin()
            try:
                nowcast_id = int(
                    self._scalar("SELECT coalesce(max(nowcast_id), 0) + 1 FROM nowcasts")
                )
                self.con.execute("BEGIN TRANSACTION")
                self.con.execute(
                    f"INSERT INTO nowcasts ({', '.join(NOWCAST_COLUMNS)})"
                    f" VALUES ({', '.join('?' * len(NOWCAST_COLUMNS))})",
                    [nowcast_id, *row],
                )
                self._insert_estimates(estimates.assign(nowcast_id=nowcast_id))
                self.con.execute("COMMIT")
            except BaseException:
                self._discard()
                raise
            self._publish()
        return nowcast_id

    def _insert_estimates(self, rows: pd.DataFrame) -> None:
        self.con.register("_new_estimates", rows)
        columns = ", ".join(["nowcast_id", *ESTIMATE_COLUMNS])
        self.con.execute(
            f"INSERT INTO nowcast_estimates ({columns}) SELECT {columns} FROM _new_estimates"
        )
        self.con.unregister("_new_estimates")

    def _has_history(self) -> bool:
        # a store written before the history existed gains its tables on its next write
        return {"nowcasts", "nowcast_estimates"} <= _tables(self.con)

    def nowcasts(self) -> pd.DataFrame:
        """Every recorded nowcast, in the order recorded (oldest first), with its headline: the
        latest fitted month's hidden inflow (``headline_month``, ``median``, ``lower_80``,
        ``upper_80``; empty when the nowcast has no such estimate)."""
        if not self._has_history():
            return empty_nowcasts()
        df = self.con.execute(
            """
            WITH head AS (
                SELECT nowcast_id, target AS headline_month, median, lower_80, upper_80
                FROM nowcast_estimates
                WHERE quantity = ? AND freq = 'month' AND status = 'fitted'
                QUALIFY row_number() OVER (PARTITION BY nowcast_id ORDER BY period_start DESC)
                    = 1
            )
            SELECT n.*, h.headline_month, h.median, h.lower_80, h.upper_80
            FROM nowcasts n LEFT JOIN head h USING (nowcast_id)
            ORDER BY n.nowcast_id
            """,
            [HEADLINE_QUANTITY],
        ).df()
        return typed(df[[*NOWCAST_COLUMNS, *HEADLINE_COLUMNS]])

    def current_nowcast(self) -> dict[str, object] | None:
        """The current nowcast: the latest recorded one, as a row of ``nowcasts()`` (missing
        values as None); None when none is recorded. A run folder not recorded here is never
        current."""
        df = self.nowcasts()
        if df.empty:
            return None
        row = df.iloc[-1].to_dict()
        return {k: (None if _missing(v) else _plain(v)) for k, v in row.items()}

    def estimates(
        self, target: str | None = None, quantity: str = HEADLINE_QUANTITY
    ) -> pd.DataFrame:
        """The estimates of ``quantity`` for one ``target`` (a month ``YYYY-MM`` or a quarter
        ``YYYYQn``; None: every target) across the recorded nowcasts, oldest first, with when
        each was recorded, on which data, and how it was made (``path``)."""
        columns = [
            "nowcast_id",
            "recorded_at",
            "data_as_of",
            "data_kind",
            "spec_name",
            "path",
            *ESTIMATE_COLUMNS,
        ]
        if target is not None:
            target, _ = parse_target(target)
        if not self._has_history():
            return empty_estimates(columns)
        query = (
            "SELECT n.nowcast_id, n.recorded_at, n.data_as_of, n.data_kind, n.spec_name, n.path,"
            f" {', '.join('e.' + c for c in ESTIMATE_COLUMNS)}"
            " FROM nowcast_estimates e JOIN nowcasts n USING (nowcast_id)"
            " WHERE e.quantity = ?"
        )
        params: list[object] = [quantity]
        if target is not None:
            query += " AND e.target = ?"
            params.append(target)
        query += " ORDER BY n.nowcast_id, e.freq, e.period_start"
        return typed(self.con.execute(query, params).df()[columns])


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value: object) -> object:
    """numpy scalars as Python numbers (timestamps stay ``pd.Timestamp``)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, pd.Timestamp) else value
