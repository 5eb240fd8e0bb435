"""Several processes on one store: a second writer waits for the first (and says for whom), a
reader never fails while a writer works, and a writer killed at any moment leaves the store as
it was before that file. Each test runs ``nowcast`` in real processes."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nowcast.datasets import ingest_dir
from nowcast.errors import StoreError
from nowcast.sources.base import TODAY_ENV
from nowcast.store import LOCK_TIMEOUT_ENV, Store
from tests.samples import TODAY

CLI = [sys.executable, "-c", "from nowcast.cli import app; app()"]
HOLDER = """
import sys
from nowcast.store import Store

with Store(sys.argv[1]) as store, store.writing():
    print("holding", flush=True)
    sys.stdin.readline()
"""
FX = "usd_rub_cbr_daily.csv"
BRENT = "brent_daily_eia.csv"
FOLDER = {  # coinmetrics first: the new store's first file is the largest
    "coinmetrics_btc_daily.csv": "coinmetrics",
    FX: "cbr_usd_rub",
    "cbr_key_rate_daily.csv": "cbr_key_rate",
    BRENT: "eia_brent_daily",
    "brent_monthly_eia.csv": "eia_brent_monthly",
}
WAIT_S = 120


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, TODAY_ENV: TODAY, **extra}


class Output:
    """A process's merged output, read by a thread so the test can wait for a line."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.text = ""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.proc.stdout.close()

    def wait_for(self, words: str) -> str:
        """Output so far, once it holds ``words`` (spaces and wrapping ignored)."""
        deadline = time.monotonic() + WAIT_S
        while " ".join(words.split()) not in " ".join(self.text.split()):
            try:
                self.text += self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no {words!r} after {WAIT_S} s; output: {self.text!r}")
        return self.text

    def finish(self) -> str:
        """All output, once the process has exited (its pipes closed)."""
        self.proc.wait(timeout=WAIT_S)
        self.reader.join(timeout=WAIT_S)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        while not self.lines.empty():
            self.text += self.lines.get()
        return " ".join(self.text.split())


def _start(args: list[object], *, env: dict[str, str] | None = None, stdin=None) -> Output:
    proc = subprocess.Popen(
        [str(a) for a in args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env or _env(),
    )
    return Output(proc)


@pytest.fixture
def held_store(tmp_path, data_dir):
    """A store with the USD/RUB file, and a process holding its writer lock until released."""
    store = tmp_path / "store"
    with Store(store) as st:
        st.ingest(data_dir / FX, "cbr_usd_rub")
    holder = _start([sys.executable, "-c", HOLDER, store], stdin=subprocess.PIPE)
    holder.wait_for("holding")
    yield store, holder
    if holder.proc.poll() is None:
        holder.proc.kill()
    holder.finish()


def _release(holder: Output) -> None:
    holder.proc.stdin.write("\n")
    holder.proc.stdin.flush()
    assert holder.proc.wait(timeout=WAIT_S) == 0


def test_second_writer_waits_or_gives_up_and_readers_do_not(held_store, data_dir):
    """While one process holds the writer lock: a writer with a short timeout gives up plainly,
    a reader answers at once (on main: DuckDB's lock traceback for both), and a patient writer
    says whom it waits for and lands once the lock is released."""
    store, holder = held_store
    before = (store / "nowcast.duckdb").read_bytes()
    ingest = [*CLI, "ingest", data_dir / BRENT, "--source", "eia_brent_daily", "--store", store]
    impatient = _start(ingest, env=_env(**{LOCK_TIMEOUT_ENV: "1"}))
    out = impatient.finish()
    assert impatient.proc.returncode == 2, out
    assert "Traceback" not in out
    assert f"error: the store in {store} is being written by pid {holder.proc.pid}" in out
    assert "gave up waiting after 1 s" in out and LOCK_TIMEOUT_ENV in out
    assert (store / "nowcast.duckdb").read_bytes() == before

    writer = _start(ingest)
    reader = subprocess.run(
        [*CLI, "data", "--store", str(store)], capture_output=True, text=True, env=_env()
    )
    assert reader.returncode == 0, reader.stdout + reader.stderr
    assert "usd_rub_rub_per_usd" in reader.stdout and "brent" not in reader.stdout
    said = writer.wait_for("is writing to it")
    assert f"waiting for the store in {store}: pid {holder.proc.pid} (-c {store}" in " ".join(
        said.split()
    )
    assert writer.proc.poll() is None  # still waiting
    _release(holder)
    out = writer.finish()
    assert writer.proc.returncode == 0, out
    assert "2793 figures read, 2793 new (real)" in out
    with Store(store, read_only=True) as st:
        assert set(st.summary()["series"]) == {"usd_rub_rub_per_usd", "brent_usd_per_bbl"}


def test_two_ingests_at_once_into_a_new_store(tmp_path, data_dir):
    """On main the second failed at once with DuckDB's lock traceback."""
    store = tmp_path / "store"
    runs = [
        _start([*CLI, "ingest", data_dir / name, "--source", src, "--store", store])
        for name, src in [(FX, "cbr_usd_rub"), (BRENT, "eia_brent_daily")]
    ]
    for run in runs:
        out = run.finish()
        assert run.proc.returncode == 0, out
        assert "figures read" in out
    with Store(store, read_only=True) as st:
        assert sorted(st.ingests()["source"]) == ["cbr_usd_rub", "eia_brent_daily"]
        assert len(st.as_of()) == 4383 + 2793


def _folder(tmp_path: Path, data_dir: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name in FOLDER:
        shutil.copy(data_dir / name, folder / name)
    lines = [f'"{name}" = "{src}"' for name, src in FOLDER.items()]
    (folder / "MANIFEST.toml").write_text("[files]\n" + "\n".join(lines) + "\n")
    return folder


def test_readers_never_fail_while_a_writer_works(tmp_path, data_dir):
    store = tmp_path / "store"
    writer = _start([*CLI, "ingest-dir", "--data", _folder(tmp_path, data_dir), "--store", store])
    reads, seen = 0, set()
    while writer.proc.poll() is None:
        if (store / "nowcast.duckdb").exists():
            with Store(store, read_only=True) as st:  # must never raise
                seen.add(len(st.ingests()))
                st.summary()
            reads += 1
        time.sleep(0.05)
    out = writer.finish()
    assert writer.proc.returncode == 0, out
    assert reads >= 1, "the writer finished before a read"
    assert seen <= set(range(1, len(FOLDER) + 1))


def _content(store: Path) -> pd.DataFrame:
    with Store(store, read_only=True) as st:
        obs = st.as_of().drop(columns="ingested_at")
    return obs.sort_values(list(obs.columns)).reset_index(drop=True)


def _kills(tmp_path: Path, data_dir: Path, delays: list[float]) -> None:
    """Kill ``ingest-dir`` after each delay; after every kill the store is absent (nothing was
    published yet) or holds exactly the first files of the folder; then it completes."""
    folder = _folder(tmp_path, data_dir)
    reference = tmp_path / "reference"
    with Store(reference) as st:
        ingest_dir(st, folder)
    full = _content(reference)
    store = tmp_path / "store"
    for delay in delays:
        run = _start([*CLI, "ingest-dir", "--data", folder, "--store", store])
        time.sleep(delay)
        run.proc.send_signal(signal.SIGKILL)
        run.finish()
        try:
            got = _content(store)
        except StoreError as exc:
            assert "no store" in str(exc)
            continue
        assert set(got["source"]) <= set(FOLDER.values())
        want = full[full["source"].isin(set(got["source"]))].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want)
    done = _start([*CLI, "ingest-dir", "--data", folder, "--store", store])
    assert "Traceback" not in done.finish() and done.proc.returncode == 0
    pd.testing.assert_frame_equal(_content(store), full)
    assert sorted(p.name for p in store.iterdir()) == ["nowcast.duckdb", "nowcast.lock"]


def test_killed_writer_leaves_the_store_whole(tmp_path, data_dir):
    """Kills while the store is created and while it grows (a kill during creation left a
    store without tables on main)."""
    _kills(tmp_path, data_dir, [1.5, 3.0, 4.5])


@pytest.mark.slow
def test_killed_writer_leaves_the_store_whole_many_times(tmp_path, data_dir):
    _kills(tmp_path, data_dir, list(np.random.default_rng(13).uniform(0.5, 8.0, size=25)))
