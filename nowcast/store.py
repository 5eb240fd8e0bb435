"""The vintage store: every published figure ever ingested, with when it was published and
when it was ingested, in one DuckDB file. Nothing is overwritten: a revision is a new row.

``ingest`` is all-or-nothing (after the file has fully parsed and validated); ``as_of``
answers "what was known on date D".

The store also keeps the nowcast history (tables ``nowcasts`` and ``nowcast_estimates``, see
``nowcast.history``): ``record_nowcast`` adds one nowcast and its estimates in one write, the
latest recorded is the current nowcast, ``estimates`` follows one month across nowcasts. A store
written before these tables existed reads as an empty history and gains them on its next write.

Concurrent use, crash safety: **copy-on-write under a writer lock.** A writer takes an
exclusive lock on ``nowcast.lock`` in the store folder (waiting up to ``$NOWCAST_LOCK_TIMEOUT``
seconds, default 300, and saying which process it waits for), copies ``nowcast.duckdb`` to a
temporary file beside it, ingests there, checkpoints, fsyncs and renames the copy over the
original. So

- readers never meet a writer: they open the database read-only and always see a complete
  file, the one before or the one after an ingest (DuckDB lets one process write a file *or*
  several read it, so a writer on the file itself would make readers fail);
- a kill at any moment leaves the previous file intact; the stray temporary copy is removed by
  the next writer (it holds the lock, so no other writer can own one);
- a refused file changes no byte of the store, and a store is only created by a first valid
  write (a new store never exists without its tables). A store left without tables by an
  older version is repaired by the next write and reported plainly to readers.

The cost is one copy of the database and one checkpoint per ingested file. Measured on the
bundled data (15 files, 47,605 figures; ``ingest-dir`` into a new store on the shared 2-core
machine): the copies take about 0.1 s in all and the checkpoints, fsyncs and renames about
0.5 s, of about 4.5 s; the database ends at 3.2 MB instead of 1.6 MB (space freed by the
per-file checkpoints stays in the file). Design (a), a lock plus readers retrying while the
writer works in place, would make readers wait for whole ingests and leave crash safety to
DuckDB's write-ahead log.

Readers open the file through a fresh in-memory DuckDB that attaches it: ``duckdb.connect``
caches one database instance per path in a process, which would keep serving the replaced
file to a later connection.

This module holds ``Store`` itself (opening, copy-on-write writing, tables kept beside the
figures); its parts live beside it: ``nowcast.store_files`` (the lock and the database files),
``nowcast.store_ingest`` (ingesting a file), ``nowcast.store_query`` (reading: as of a day,
vintages, summaries) and ``nowcast.store_history`` (the nowcast history).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from nowcast.constants import DEFAULT_STORE_DIR, STORE_DB_NAME
from nowcast.errors import StoreError
from nowcast.history import NowcastRecord
from nowcast.sources.base import OBSERVATION_COLUMNS
from nowcast.store_files import (
    DEFAULT_LOCK_TIMEOUT_S,
    LOCK_NAME,
    LOCK_TIMEOUT_ENV,
    READ_RETRY_S,
    StoreLock,
    _attach,
    _attach_read,
    _fsync,
    _read_only_mark,
    _store_error,
    _tables,
    _why,
    default_lock_timeout,
)
from nowcast.store_history import HistoryMixin
from nowcast.store_ingest import KEY, SIMULATED_MARKER, IngestMixin, IngestResult, is_simulated_file
from nowcast.store_query import QueryMixin, parse_day

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
CREATE TABLE IF NOT EXISTS nowcasts (
    nowcast_id     INTEGER PRIMARY KEY,
    recorded_at    TIMESTAMP NOT NULL,
    run_path       VARCHAR NOT NULL,
    data_as_of     VARCHAR NOT NULL,
    last_ingest_id INTEGER NOT NULL,
    fitted_through DATE NOT NULL,
    spec_name      VARCHAR NOT NULL,
    spec_hash      VARCHAR NOT NULL,
    data_kind      VARCHAR NOT NULL,
    path           VARCHAR NOT NULL,
    pareto_k       DOUBLE,
    ess            DOUBLE,
    note           VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS nowcast_estimates (
    nowcast_id     INTEGER NOT NULL,
    target         VARCHAR NOT NULL,
    freq           VARCHAR NOT NULL,
    period_start   DATE NOT NULL,
    period_end     DATE NOT NULL,
    status         VARCHAR NOT NULL,
    quantity       VARCHAR NOT NULL,
    mean           DOUBLE NOT NULL,
    median         DOUBLE NOT NULL,
    lower_80       DOUBLE NOT NULL,
    upper_80       DOUBLE NOT NULL,
    lower_95       DOUBLE NOT NULL,
    upper_95       DOUBLE NOT NULL
);
"""


def default_store_dir() -> Path:
    """``$NOWCAST_STORE`` when set, else ``./store`` (git-ignored)."""
    return Path(os.environ.get("NOWCAST_STORE", DEFAULT_STORE_DIR))


class Store(IngestMixin, QueryMixin, HistoryMixin):
    """A vintage store in ``directory/nowcast.duckdb``.

    Use as a context manager or call ``close()``. Any number of readers (``read_only=True``)
    and writers may use one store at once: writers take turns through the folder's lock
    (``lock_timeout`` seconds, default ``$NOWCAST_LOCK_TIMEOUT`` or 300; ``on_wait`` hears what
    a writer waits for), readers never wait for them (see the module docstring).
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        read_only: bool = False,
        lock_timeout: float | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = Path(directory) if directory is not None else default_store_dir()
        self.path = self.directory / STORE_DB_NAME
        self.read_only = read_only
        self.lock_timeout = default_lock_timeout() if lock_timeout is None else lock_timeout
        self.on_wait = on_wait
        self._lock: StoreLock | None = None
        self._lock_depth = 0
        self._work: Path | None = None  # the private copy being written
        if self.directory.exists() and not self.directory.is_dir():
            raise StoreError(f"store path {self.directory} is a file: expected a folder")
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"{self.path} is not a file: expected the store's database")
        if read_only and not self._exists():
            raise StoreError(f"no store at {self.path}: run `nowcast ingest` first")
        # One DuckDB instance per Store (starting one costs about 0.1 s); the database files
        # are attached to it and swapped as the store is written.
        self.con = duckdb.connect(":memory:")
        try:
            self._attach_published()
        except BaseException:
            self.con.close()
            raise

    def _exists(self) -> bool:
        # an empty file is what a kill leaves between creating and writing a database
        return self.path.is_file() and self.path.stat().st_size > 0

    def _attach_published(self) -> None:
        """Read the published database (an empty one before the first write)."""
        if self._exists():
            _attach_read(self.con, self.path)
            if {"ingests", "observations"} <= _tables(self.con):
                return
            if self.read_only:
                raise StoreError(
                    f"the store {self.path} has no tables: its creation was interrupted (a"
                    " killed process?), so it holds no figures; `nowcast ingest` rebuilds it"
                )
        _attach(self.con, None, read_only=False)  # the first write creates or repairs it
        self.con.execute(_SCHEMA)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection, drop an unpublished copy, release the writer lock."""
        if self._work is not None:
            self._discard()
        self.con.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
            self._lock_depth = 0

    def _scalar(self, query: str, params: list[object] | None = None) -> object:
        # fetchall, not fetchone: DuckDB 2 refuses new work while a result is half-read
        return self.con.execute(query, params or []).fetchall()[0][0]

    # ------------------------------------------------------------------ writing

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """Hold the writer lock for the block (several ingests in a row, no other writer
        between them); creates the store folder. ``ingest`` takes it by itself."""
        if self.read_only:
            raise StoreError(f"the store {self.path} was opened read-only")
        if self._lock is None:
            for path in (self.directory, self.path):
                if _read_only_mark(path):
                    raise StoreError(
                        f"{path} is read-only: cannot write to the store (make it writable,"
                        " or pass another --store folder)"
                    )
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the store folder {self.directory}: {_why(exc)}"
                ) from None
            self._lock = StoreLock(
                self.directory, timeout=self.lock_timeout, on_wait=self.on_wait
            ).acquire()
            # the published file may have changed while this process waited
            self._attach_published()
        self._lock_depth += 1
        try:
            yield self
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock is not None:
                if self._work is not None:
                    self._discard()
                self._lock.release()
                self._lock = None

    def _stray_copies(self) -> list[Path]:
        return sorted(self.directory.glob(f".{STORE_DB_NAME}.*.tmp*"))

    def _begin(self) -> None:
        """Open a private copy of the database to write (the lock is held)."""
        if self._work is not None:
            return
        for stray in self._stray_copies():  # left by a killed writer: only the holder writes
            stray.unlink(missing_ok=True)
        self._merge_wal()
        work = self.directory / f".{STORE_DB_NAME}.{os.getpid()}.tmp"
        try:
            if self._exists():
                shutil.copyfile(self.path, work)
            _attach(self.con, work, read_only=False)
            self.con.execute(_SCHEMA)  # a new store, or one an interrupted creation left bare
        except (OSError, duckdb.Error) as exc:
            for leftover in (work, Path(f"{work}.wal")):
                leftover.unlink(missing_ok=True)
            self._attach_published()
            why = _why(exc) if isinstance(exc, OSError) else str(exc)
            raise StoreError(f"cannot write to the store in {self.directory}: {why}") from None
        self._work = work

    def _merge_wal(self) -> None:
        """Fold a write-ahead log left beside the database (by a writer that worked on it in
        place, before copy-on-write) into it, so the copy holds every committed figure."""
        wal = Path(f"{self.path}.wal")
        if not wal.exists() or not self._exists():
            return
        try:
            _attach(self.con, self.path, read_only=False)
            self.con.execute("CHECKPOINT")
            _attach(self.con, None, read_only=False)
        except duckdb.Error as exc:
            raise _store_error(self.path, exc) from None

    def _publish(self) -> None:
        """Make the private copy the store: checkpoint, fsync, rename over, fsync the folder."""
        assert self._work is not None
        work = self._work
        try:
            self.con.execute("CHECKPOINT")
            _attach(self.con, None, read_only=False)  # detach: the copy is closed
            _fsync(work)
            os.replace(work, self.path)
            _fsync(self.directory)
        except (OSError, duckdb.Error) as exc:
            self._discard()
            why = _why(exc) if isinstance(exc, OSError) else str(exc)
            raise StoreError(
                f"cannot write to the store in {self.directory}: {why}; it is unchanged"
            ) from None
        self._work = None
        self._attach_published()

    def _discard(self) -> None:
        """Drop the private copy: the published database stays as it was."""
        assert self._work is not None
        try:  # a failure inside the transaction leaves it open and aborted
            self.con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # no transaction was open
        _attach(self.con, None, read_only=False)  # detach: the copy is closed
        for leftover in (self._work, Path(f"{self._work}.wal")):
            leftover.unlink(missing_ok=True)
        self._work = None
        self._attach_published()

    def write_tables(
        self,
        schema: str,
        inserts: dict[str, pd.DataFrame],
        deletes: list[tuple[str, list[object]]] | None = None,
    ) -> None:
        """One all-or-nothing write of tables kept beside the figures (a backtest's results):
        create them by ``schema`` (``CREATE TABLE IF NOT EXISTS ...``), run ``deletes``
        (statement, parameters), then append each frame of ``inserts`` to its table (columns
        by name). The store is published only when every statement succeeded."""
        if self.read_only:
            raise StoreError(f"the store {self.path} was opened read-only")
        with self.writing():
            self._begin()
            try:
                self.con.execute(schema)
                self.con.execute("BEGIN TRANSACTION")
                for statement, params in deletes or []:
                    self.con.execute(statement, params)
                for table, rows in inserts.items():
                    if rows.empty:
                        continue
                    self.con.register("_new_rows", rows)
                    cols = ", ".join(f'"{c}"' for c in rows.columns)
                    self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _new_rows")
                    self.con.unregister("_new_rows")
                self.con.execute("COMMIT")
            except BaseException:
                self._discard()
                raise
            self._publish()

    def query(
        self, sql: str, params: list[object] | None = None, *, needs: set[str]
    ) -> pd.DataFrame | None:
        """Rows of a read query over tables kept beside the figures; None when the store has
        not got every table in ``needs`` yet (nothing was written to them)."""
        if not needs <= _tables(self.con):
            return None
        return self.con.execute(sql, params or []).df()


__all__ = [
    "DEFAULT_LOCK_TIMEOUT_S",
    "KEY",
    "LOCK_NAME",
    "LOCK_TIMEOUT_ENV",
    "OBSERVATION_COLUMNS",
    "READ_RETRY_S",
    "SIMULATED_MARKER",
    "IngestResult",
    "NowcastRecord",
    "Store",
    "StoreLock",
    "default_lock_timeout",
    "default_store_dir",
    "is_simulated_file",
    "parse_day",
]
