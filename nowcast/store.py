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
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from nowcast.constants import DEFAULT_STORE_DIR, STORE_DB_NAME
from nowcast.errors import SourceError, StoreError
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
from nowcast.sources import get_source
from nowcast.sources.base import (
    EARLIEST_DATE,
    LATEST_DATE,
    OBSERVATION_COLUMNS,
    ingest_day,
    read_input,
)

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


def default_store_dir() -> Path:
    """``$NOWCAST_STORE`` when set, else ``./store`` (git-ignored)."""
    return Path(os.environ.get("NOWCAST_STORE", DEFAULT_STORE_DIR))


def is_simulated_file(path: Path) -> bool:
    """A file is simulated when its folder carries the simulator's marker file."""
    return (path.parent / SIMULATED_MARKER).exists()


# --------------------------------------------------------------------------- files and locks

LOCK_NAME = "nowcast.lock"
LOCK_TIMEOUT_ENV = "NOWCAST_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 300.0
# How long a reader retries a database another program holds open for writing (an older
# nowcast, a DuckDB shell); nowcast's own writers never hold it.
READ_RETRY_S = 30.0
_POLL_S = 0.1


def default_lock_timeout() -> float:
    """Seconds a writer waits for the store lock: ``$NOWCAST_LOCK_TIMEOUT`` or 300."""
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise StoreError(f"${LOCK_TIMEOUT_ENV}: expected a number of seconds >= 0, got {text!r}")
    return value


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


class StoreLock:
    """The writer lock of a store folder: an exclusive ``flock`` on ``nowcast.lock``, which
    records who holds it (pid, command, since when) for the messages of those who wait. The
    kernel releases it when its holder dies, so a killed writer never leaves it stuck."""

    def __init__(
        self,
        directory: Path,
        *,
        timeout: float,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(directory) / LOCK_NAME
        self.timeout = timeout
        self.on_wait = on_wait
        self._fd: int | None = None

    def holder(self) -> str:
        """Who holds the lock, as recorded in the lock file (or "another process")."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
            return f"pid {info['pid']} ({info['command']}, since {info['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def acquire(self) -> StoreLock:
        """Take the lock, waiting up to ``timeout`` seconds; ``StoreError`` when it stays
        taken or the folder cannot be written."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"cannot write to the store folder {self.path.parent}: {_why(exc)}"
                " (a read-only store?)"
            ) from None
        deadline = time.monotonic() + self.timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StoreError(
                        f"the store in {self.path.parent} is being written by {self.holder()};"
                        f" gave up waiting after {self.timeout:g} s: try again when it has"
                        f" finished, or set {LOCK_TIMEOUT_ENV} to wait longer"
                    ) from None
                if not told and self.on_wait is not None:
                    self.on_wait(
                        f"waiting for the store in {self.path.parent}: {self.holder()} is"
                        f" writing to it (up to {self.timeout:g} s)"
                    )
                    told = True
                time.sleep(_POLL_S)
        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
        record = json.dumps({"pid": os.getpid(), "command": command, "since": since})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode("utf-8"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let the next writer in."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _sql_text(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _attach(con: duckdb.DuckDBPyConnection, path: Path | None, *, read_only: bool) -> None:
    """Attach ``path`` (``None``: an empty in-memory database) as the default catalog
    ``store`` of ``con``, in place of the one attached before."""
    con.execute("USE memory")
    con.execute("DETACH DATABASE IF EXISTS store")
    target = ":memory:" if path is None else str(path)
    mode = " (READ_ONLY)" if read_only and path is not None else ""
    con.execute(f"ATTACH {_sql_text(target)} AS store{mode}")
    con.execute("USE store")


def _store_error(path: Path, exc: Exception) -> StoreError:
    text = str(exc)
    if "not a valid DuckDB database" in text:
        return StoreError(
            f"{path} is not a nowcast store (not a DuckDB database file): move it away or"
            " pass another --store folder"
        )
    if "Permission denied" in text:
        return StoreError(f"cannot open the store {path}: permission denied")
    return StoreError(f"cannot open the store {path}: {text}")


def _attach_read(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Attach the database read-only, retrying while another program writes to it in place."""
    deadline = time.monotonic() + READ_RETRY_S
    while True:
        try:
            _attach(con, path, read_only=True)
            return
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower() and time.monotonic() < deadline:
                time.sleep(_POLL_S)
                continue
            raise _store_error(path, exc) from None
        except duckdb.Error as exc:
            raise _store_error(path, exc) from None


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'store'"
    ).fetchall()
    return {r[0] for r in rows}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_only_mark(path: Path) -> bool:
    """No write bit at all: the user marked it read-only (root would write it anyway)."""
    try:
        return path.exists() and not path.stat().st_mode & 0o222
    except OSError:
        return False


class Store:
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

    def _insert_estimates(self, rows: pd.DataFrame) -> None:
        self.con.register("_new_estimates", rows)
        columns = ", ".join(["nowcast_id", *ESTIMATE_COLUMNS])
        self.con.execute(
            f"INSERT INTO nowcast_estimates ({columns}) SELECT {columns} FROM _new_estimates"
        )
        self.con.unregister("_new_estimates")

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


__all__ = [
    "KEY",
    "OBSERVATION_COLUMNS",
    "IngestResult",
    "NowcastRecord",
    "Store",
    "StoreLock",
    "default_store_dir",
]
