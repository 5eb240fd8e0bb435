from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.store import Store
from tests.conftest import write_variant

FX = "usd_rub_cbr_daily.csv"


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "store") as st:
        yield st


def _fx_lines(data_dir, n=40):
    return (data_dir / FX).read_text().splitlines()[:n]


def test_same_file_twice_changes_nothing(store, data_dir):
    first = store.ingest(data_dir / FX, "cbr_usd_rub")
    before = store.snapshot()
    again = store.ingest(data_dir / FX, "cbr_usd_rub")
    assert first.rows_added == first.rows_in_file > 4000
    assert again.already_ingested and again.rows_added == 0
    pd.testing.assert_frame_equal(store.snapshot(), before)


def test_overlapping_file_adds_only_new_days(store, tmp_path, data_dir):
    lines = _fx_lines(data_dir)
    store.ingest(write_variant(tmp_path, "a.csv", "\n".join(lines[:21]) + "\n"), "cbr_usd_rub")
    res = store.ingest(write_variant(tmp_path, "b.csv", "\n".join(lines) + "\n"), "cbr_usd_rub")
    assert res.rows_added == len(lines) - 21
    assert len(store.as_of()) == len(lines) - 1


def test_revision_is_a_new_vintage_and_as_of_sees_each(store, tmp_path, data_dir):
    lines = _fx_lines(data_dir, 12)
    store.ingest(
        write_variant(tmp_path, "v1.csv", "\n".join(lines) + "\n"),
        "cbr_usd_rub",
        now=datetime(2014, 1, 20),
    )
    revised = lines[:4] + ["2014-01-04,99.0000"] + lines[5:]
    assert lines[4].startswith("2014-01-04")
    res = store.ingest(
        write_variant(tmp_path, "v2.csv", "\n".join(revised) + "\n"),
        "cbr_usd_rub",
        now=datetime(2014, 2, 1),
    )
    assert res.rows_added == 1
    vint = store.vintages("usd_rub_rub_per_usd")
    jan4 = vint[vint.period_start == pd.Timestamp("2014-01-04")]
    assert list(jan4.value) == [32.6587, 99.0]
    # the file states no publication date: the revision is dated the day it was ingested
    assert pd.Timestamp(jan4.published.iloc[1]) == pd.Timestamp("2014-02-01")

    def jan4_as_of(day):
        df = store.as_of(day)
        return df.loc[df.period_start == pd.Timestamp("2014-01-04"), "value"].item()

    assert jan4_as_of("2014-01-15") == 32.6587
    assert jan4_as_of("2014-02-01") == 99.0
    assert store.as_of("2014-01-02").period_start.max() == pd.Timestamp("2014-01-03")


def test_published_override(store, data_dir):
    store.ingest(data_dir / FX, "cbr_usd_rub", published="2026-01-15")
    assert store.as_of("2026-01-14").empty
    assert len(store.as_of("2026-01-15")) > 4000


def test_failed_validation_stores_nothing(store, tmp_path, data_dir):
    store.ingest(data_dir / FX, "cbr_usd_rub")
    before = store.snapshot()
    lines = _fx_lines(data_dir)
    bad = lines[:30] + ["2014-01-30,not-a-rate"] + lines[31:]
    with pytest.raises(SourceError, match=r"bad\.csv, line 31, field 'usd_rub_cbr'"):
        store.ingest(write_variant(tmp_path, "bad.csv", "\n".join(bad) + "\n"), "cbr_usd_rub")
    pd.testing.assert_frame_equal(store.snapshot(), before)


def test_failure_during_write_rolls_back(store, data_dir, monkeypatch):
    store.ingest(data_dir / FX, "cbr_usd_rub")
    before = store.snapshot()
    published = store.path.read_bytes()

    def disk_full(self, values):
        raise RuntimeError("disk full")

    # fails after the observations went into the private copy, before the log row
    monkeypatch.setattr(Store, "_log_ingest", disk_full)
    with pytest.raises(RuntimeError, match="disk full"):
        store.ingest(data_dir / "coinmetrics_btc_daily.csv", "coinmetrics")
    monkeypatch.undo()
    assert store.path.read_bytes() == published
    pd.testing.assert_frame_equal(store.snapshot(), before)
    assert sorted(p.name for p in store.directory.iterdir()) == ["nowcast.duckdb", "nowcast.lock"]
    # and the store still takes the file
    assert store.ingest(data_dir / "coinmetrics_btc_daily.csv", "coinmetrics").rows_added > 0


def test_real_and_simulated_never_mix(store, tmp_path, data_dir):
    sim_dir = tmp_path / "sim"
    sim_dir.mkdir()
    (sim_dir / "SIMULATED.txt").write_text("simulated by tests\n")
    sim = sim_dir / FX
    sim.write_text("\n".join(_fx_lines(data_dir)) + "\n")
    res = store.ingest(sim, "cbr_usd_rub")
    assert res.simulated
    assert store.as_of().empty
    assert len(store.as_of(simulated=True)) == 39
    assert store.summary().kind.tolist() == ["SIMULATED"]


def test_read_only_store_must_exist(tmp_path):
    from nowcast.errors import StoreError

    with pytest.raises(StoreError, match="no store"):
        Store(tmp_path / "nothing", read_only=True)


def test_file_changing_while_read_is_refused(store, tmp_path, data_dir, monkeypatch):
    """A download still being written: the figures read might belong to no whole file."""
    import nowcast.store_ingest as store_module  # where Store.ingest looks up its source

    path = write_variant(tmp_path, FX, "\n".join(_fx_lines(data_dir)) + "\n")
    real = store_module.get_source("cbr_usd_rub")

    class Growing:
        published_in_file = real.published_in_file

        def load(self, *args, **kwargs):
            obs = real.load(*args, **kwargs)
            with path.open("a") as f:
                f.write("2014-02-09,35.0000\n")
            return obs

    monkeypatch.setattr(store_module, "get_source", lambda name: Growing())
    with pytest.raises(SourceError, match=r"usd_rub_cbr_daily\.csv: the file changed while it"):
        store.ingest(path, "cbr_usd_rub")
    assert not store.path.exists()


def test_write_ahead_log_left_by_an_in_place_writer_is_kept(tmp_path, data_dir):
    """A writer that worked on the file in place (an older nowcast, a DuckDB shell) and was
    killed leaves committed rows in nowcast.duckdb.wal: readers see them, the next write keeps
    them."""
    import subprocess
    import sys

    directory = tmp_path / "store"
    with Store(directory) as st:
        st.ingest(data_dir / FX, "cbr_usd_rub")
        n = len(st.snapshot())
    db = directory / "nowcast.duckdb"
    killed = (
        "import duckdb, os, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "con.execute(\"INSERT INTO observations SELECT * REPLACE ('wal' AS note)"
        " FROM observations WHERE period_start = DATE '2014-01-01'\")\n"
        "os._exit(0)  # killed: no checkpoint\n"
    )
    subprocess.run([sys.executable, "-c", killed, str(db)], check=True)
    assert (directory / "nowcast.duckdb.wal").exists()
    with Store(directory, read_only=True) as st:
        assert len(st.snapshot()) == n + 1
    with Store(directory) as st:
        st.ingest(data_dir / "brent_monthly_eia.csv", "eia_brent_monthly")
    assert not (directory / "nowcast.duckdb.wal").exists()
    with Store(directory, read_only=True) as st:
        snap = st.snapshot()
    assert len(snap) == n + 1 + 132
    assert (snap["note"] == "wal").sum() == 1
