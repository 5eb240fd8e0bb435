"""The store's files and locks: the writer lock of a store folder, and attaching,
checking and syncing its DuckDB database files (``nowcast.store`` writes through them).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from nowcast.errors import StoreError

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
