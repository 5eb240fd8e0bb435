"""The nowcast history in the store: recording nowcasts and reading them back, the current
nowcast, one month followed across nowcasts, refused records changing nothing, stores older
than the history, ``nowcast history`` on the command line, the history chart, and two processes
recording at once."""

from __future__ import annotations

import dataclasses
import io
import json
import multiprocessing
from datetime import datetime
from pathlib import Path

import duckdb
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.errors import StoreError
from nowcast.history import ESTIMATE_COLUMNS, HEADLINE_COLUMNS, NOWCAST_COLUMNS, NowcastRecord
from nowcast.report.charts import history_chart
from nowcast.store import Store
from tests.conftest import write_variant
from tests.history_samples import record, record_in_process

FX = "usd_rub_cbr_daily.csv"
runner = CliRunner()


def _three(st: Store) -> list[int]:
    """A run fitted through June, a fast update through July, a refit through August."""
    return [
        st.record_nowcast(record("2025-06", 1.0, when=datetime(2025, 7, 20, 9, 0))),
        st.record_nowcast(record("2025-07", 1.2, path="fast", when=datetime(2025, 8, 20, 9))),
        st.record_nowcast(record("2025-08", 1.1, path="refit", when=datetime(2025, 9, 20, 9))),
    ]


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "store") as st:
        yield st


def _small_fx(tmp_path: Path, data_dir: Path, name: str = "fx.csv", n: int = 30) -> Path:
    lines = (data_dir / FX).read_text().splitlines()[:n]
    return write_variant(tmp_path, name, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- the store


def test_record_and_read_back(store, tmp_path, data_dir):
    assert store.last_ingest_id() == 0
    assert store.nowcasts().empty and store.current_nowcast() is None
    store.ingest(_small_fx(tmp_path, data_dir), "cbr_usd_rub")
    assert store.last_ingest_id() == 1
    rec = record(ingest=1, when=datetime(2025, 7, 20, 9, 30), note="first")
    assert store.record_nowcast(rec) == 1
    got = store.nowcasts()
    assert len(got) == 1
    row = got.iloc[0]
    assert row["recorded_at"] == pd.Timestamp("2025-07-20 09:30")
    assert row["run_path"] == "store/runs/2025-06-run"
    assert row["data_as_of"] == "latest" and row["last_ingest_id"] == 1
    assert row["fitted_through"] == pd.Timestamp("2025-06-01")
    assert (row["spec_name"], row["spec_hash"], row["data_kind"]) == (
        "default",
        "0123456789abcdef",
        "real",
    )
    assert row["path"] == "run" and pd.isna(row["pareto_k"]) and pd.isna(row["ess"])
    assert row["note"] == "first"
    # the headline: the latest fitted month of the hidden inflow
    assert row["headline_month"] == "2025-06"
    assert (row["median"], row["lower_80"], row["upper_80"]) == (1e9, 0.8e9, 1.25e9)
    back = store.estimates()
    want = rec.estimates.sort_values(["freq", "period_start"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        back[ESTIMATE_COLUMNS], want.astype(back[ESTIMATE_COLUMNS].dtypes.to_dict())
    )
    assert set(back["nowcast_id"]) == {1}
    # a reader sees the same
    with Store(store.directory, read_only=True) as reader:
        pd.testing.assert_frame_equal(reader.nowcasts(), got)


def test_ids_increment_and_the_latest_is_current(store):
    assert _three(store) == [1, 2, 3]
    got = store.nowcasts()
    assert list(got["nowcast_id"]) == [1, 2, 3]
    assert list(got["path"]) == ["run", "fast", "refit"]
    assert list(got["headline_month"]) == ["2025-06", "2025-07", "2025-08"]
    assert list(got["pareto_k"].isna()) == [True, False, False]
    current = store.current_nowcast()
    assert current is not None
    assert current["nowcast_id"] == 3 and current["path"] == "refit"
    assert current["headline_month"] == "2025-08" and current["median"] == pytest.approx(1.1e9)
    assert current["pareto_k"] == 0.4 and current["ess"] == 812.5
    assert isinstance(current["nowcast_id"], int) and isinstance(current["median"], float)
    # recorded_at defaults to now
    store.record_nowcast(record("2025-09"))
    assert store.nowcasts()["recorded_at"].iloc[-1] > pd.Timestamp("2025-10-01")
    assert store.current_nowcast()["nowcast_id"] == 4


def test_one_month_across_three_nowcasts(store):
    _three(store)
    july = store.estimates("2025-07")
    assert list(july["nowcast_id"]) == [1, 2, 3]
    assert list(july["path"]) == ["run", "fast", "refit"]
    assert list(july["status"]) == ["forecast", "fitted", "fitted"]
    assert list(july["recorded_at"]) == [pd.Timestamp(f"2025-{m:02d}-20 09:00") for m in (7, 8, 9)]
    np.testing.assert_allclose(july["median"], [1.1e9, 1.2e9, 1.0e9])
    assert (july["period_start"] == pd.Timestamp("2025-07-01")).all()
    assert (july["period_end"] == pd.Timestamp("2025-07-31")).all()
    # a quarter, written either way
    q3 = store.estimates("2025q3")
    assert list(q3["nowcast_id"]) == [2, 3] and set(q3["freq"]) == {"quarter"}
    assert store.estimates("2025-07", quantity="no_such_quantity").empty
    assert store.estimates("2031-01").empty
    with pytest.raises(StoreError, match=r"target: expected a month as YYYY-MM"):
        store.estimates("July")


def _history_tables(st: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    return st.nowcasts(), st.estimates()


def _with_estimates(rec: NowcastRecord, change) -> NowcastRecord:
    est = rec.estimates.copy()
    change(est)
    return dataclasses.replace(rec, estimates=est)


def _lower_above_upper(est: pd.DataFrame) -> None:
    est.loc[1, "lower_80"] = est.loc[1, "upper_80"] + 1.0


def _nan_median(est: pd.DataFrame) -> None:
    est.loc[2, "median"] = np.nan


BAD = {
    "unknown path": (
        lambda r: dataclasses.replace(r, path="slow"),
        r"field 'path': expected one of 'run', 'fast', 'refit', got 'slow'",
    ),
    "missing column": (
        lambda r: dataclasses.replace(r, estimates=r.estimates.drop(columns="upper_95")),
        r"field 'estimates': missing column\(s\) 'upper_95'",
    ),
    "lower above upper": (
        lambda r: _with_estimates(r, _lower_above_upper),
        r"field 'estimates.lower_80': row 1 \('2025-05', 'hidden_inflow_usd'\): expected"
        r" lower_80 <= median",
    ),
    "NaN median": (
        lambda r: _with_estimates(r, _nan_median),
        r"field 'estimates.median': row 2 \('2025-06', 'hidden_inflow_usd'\): expected a finite"
        r" number, got nan",
    ),
    "unknown data kind": (
        lambda r: dataclasses.replace(r, data_kind="simulated"),
        r"field 'data_kind'",
    ),
    "fast without k": (
        lambda r: dataclasses.replace(r, path="fast", pareto_k=None),
        r"field 'pareto_k'",
    ),
    "month in a quarter's place": (
        lambda r: _with_estimates(r, lambda e: e.__setitem__("freq", "quarter")),
        r"field 'estimates.target': row 0 \('2025-04', 'hidden_inflow_usd'\): expected a"
        r" quarter as YYYYQn",
    ),
    "as-of date not a date": (
        lambda r: dataclasses.replace(r, data_as_of="yesterday"),
        r"field 'data_as_of': expected a date as YYYY-MM-DD, got 'yesterday'",
    ),
    "an ingest the store lacks": (
        lambda r: dataclasses.replace(r, last_ingest_id=7),
        r"field 'last_ingest_id': the store holds ingests up to 0, got 7",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_record_is_refused_and_changes_nothing(store, case):
    _three(store)
    before = (store.snapshot(), *_history_tables(store))
    published = store.path.read_bytes()
    spoil, message = BAD[case]
    with pytest.raises(StoreError, match=message):
        store.record_nowcast(spoil(record("2025-06", 2.0)))
    assert store.path.read_bytes() == published
    pd.testing.assert_frame_equal(store.snapshot(), before[0])
    pd.testing.assert_frame_equal(store.nowcasts(), before[1])
    pd.testing.assert_frame_equal(store.estimates(), before[2])
    assert sorted(p.name for p in store.directory.iterdir()) == ["nowcast.duckdb", "nowcast.lock"]
    assert store.record_nowcast(record("2025-09")) == 4  # and the store still takes one


def test_refused_first_record_creates_no_store(tmp_path):
    with Store(tmp_path / "store") as st:
        with pytest.raises(StoreError, match="field 'path'"):
            st.record_nowcast(record(path="slow"))
    assert not (tmp_path / "store" / "nowcast.duckdb").exists()


def test_failure_while_writing_leaves_the_store_as_it_was(store, monkeypatch):
    _three(store)
    published = store.path.read_bytes()

    def disk_full(self, rows):
        raise RuntimeError("disk full")

    # fails after the nowcasts row went into the private copy, before the estimates
    monkeypatch.setattr(Store, "_insert_estimates", disk_full)
    with pytest.raises(RuntimeError, match="disk full"):
        store.record_nowcast(record("2025-09"))
    monkeypatch.undo()
    assert store.path.read_bytes() == published
    assert list(store.nowcasts()["nowcast_id"]) == [1, 2, 3]
    assert store.record_nowcast(record("2025-09")) == 4


def _older_store(directory: Path, fx: Path) -> None:
    """A store written before the history existed: the two tables it had, and one ingest."""
    with Store(directory) as st:
        st.ingest(fx, "cbr_usd_rub")
    con = duckdb.connect(str(directory / "nowcast.duckdb"))
    con.execute("DROP TABLE nowcasts; DROP TABLE nowcast_estimates; CHECKPOINT")
    con.close()


def _table_names(directory: Path) -> set[str]:
    con = duckdb.connect(str(directory / "nowcast.duckdb"), read_only=True)
    try:
        return {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    finally:
        con.close()


def test_older_store_reads_as_empty_history_and_gains_it_on_the_next_write(tmp_path, data_dir):
    directory = tmp_path / "store"
    _older_store(directory, _small_fx(tmp_path, data_dir))
    assert _table_names(directory) == {"ingests", "observations"}
    with Store(directory, read_only=True) as st:
        assert st.nowcasts().empty and st.estimates("2025-07").empty
        assert st.current_nowcast() is None and st.last_ingest_id() == 1
        assert list(st.nowcasts().columns) == [*NOWCAST_COLUMNS, *HEADLINE_COLUMNS]
    result = runner.invoke(app, ["history", "--store", str(directory)])
    assert result.exit_code == 0, result.output
    assert "No nowcast recorded" in result.output
    # any write gains the tables: here an ingest
    with Store(directory) as st:
        st.ingest(_small_fx(tmp_path, data_dir, "more.csv", n=40), "cbr_usd_rub")
    assert _table_names(directory) >= {"nowcasts", "nowcast_estimates"}
    with Store(directory) as st:
        assert st.nowcasts().empty
        assert st.record_nowcast(record(ingest=2)) == 1
        assert len(st.as_of()) == 39  # the figures are kept
    # and a nowcast recorded first thing into an older store lands too
    other = tmp_path / "other"
    _older_store(other, _small_fx(tmp_path, data_dir))
    with Store(other) as st:
        assert st.record_nowcast(record(ingest=1)) == 1
    with Store(other, read_only=True) as st:
        assert st.current_nowcast()["last_ingest_id"] == 1


# --------------------------------------------------------------------------- the command line


def _invoke(*args: object):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_cli_history_table(store):
    _three(store)
    result = _invoke("history", "--store", store.directory)
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert "Recorded nowcasts" in out and "USD bn" in out
    for line in (
        "1 │ 2025-07-20 09:00 │ latest │ real │ default 01234567 │ run │ │ 2025-06 │ 1.00 │"
        " 0.80-1.25",
        "2 │ 2025-08-20 09:00 │ latest │ real │ default 01234567 │ fast │ 0.40 │ 2025-07 │"
        " 1.20 │ 0.96-1.50",
        "3 │ 2025-09-20 09:00 │ latest │ real │ default 01234567 │ refit │ 0.40 │ 2025-08 │"
        " 1.10 │ 0.88-1.38",
    ):
        assert line in out, out
    assert "Current nowcast: #3, recorded 2025-09-20 09:00 UTC" in out


def test_cli_history_of_one_month(store):
    _three(store)
    result = _invoke("history", "--month", "2025-07", "--store", store.directory)
    assert result.exit_code == 0, result.output
    out = _flat(result.output)
    assert "Hidden inflow of 2025-07 across nowcasts, USD bn per month" in out
    for line in (
        "1 │ 2025-07-20 09:00 │ latest │ run │ forecast │ 1.10 │ 0.88-1.38",
        "2 │ 2025-08-20 09:00 │ latest │ fast │ fitted │ 1.20 │ 0.96-1.50",
        "3 │ 2025-09-20 09:00 │ latest │ refit │ fitted │ 1.00 │ 0.80-1.25",
    ):
        assert line in out, out
    none = _invoke("history", "--month", "2031-01", "--store", store.directory)
    assert none.exit_code == 0
    assert "has an estimate of 2031-01" in _flat(none.output)


def test_cli_history_json(store):
    _three(store)
    result = _invoke("history", "--json", "--store", store.directory)
    assert result.exit_code == 0, result.output
    records = json.loads(result.output)
    assert [r["nowcast_id"] for r in records] == [1, 2, 3]
    first = records[0]
    assert first["recorded_at"] == "2025-07-20T09:00:00"
    assert first["fitted_through"] == "2025-06-01"
    assert first["pareto_k"] is None and first["headline_month"] == "2025-06"
    assert first["median"] == 1e9
    month = json.loads(
        _invoke("history", "--month", "2025-07", "--json", "--store", store.directory).output
    )
    assert [(r["nowcast_id"], r["status"]) for r in month] == [
        (1, "forecast"),
        (2, "fitted"),
        (3, "fitted"),
    ]
    assert month[0]["period_start"] == "2025-07-01" and month[0]["target"] == "2025-07"


def test_cli_history_empty_store(tmp_path, data_dir):
    directory = tmp_path / "store"
    with Store(directory) as st:
        st.ingest(_small_fx(tmp_path, data_dir), "cbr_usd_rub")
    result = _invoke("history", "--store", directory)
    assert result.exit_code == 0, result.output
    assert "No nowcast recorded in" in _flat(result.output)
    assert json.loads(_invoke("history", "--json", "--store", directory).output) == []


@pytest.mark.parametrize("month", ["2025-13", "July", "2025-7", "2025Q3"])
def test_cli_history_bad_month(store, month):
    _three(store)
    result = _invoke("history", "--month", month, "--store", store.directory)
    assert result.exit_code == 2, result.output
    assert f"error: --month: expected a month as YYYY-MM (e.g. 2025-07), got '{month}'" in _flat(
        result.output
    )


# --------------------------------------------------------------------------- the chart


def test_history_chart_renders(store):
    _three(store)
    before = plt.get_fignums()
    fig = history_chart(store.estimates(), "2025-07")
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    (ax,) = fig.axes
    assert ax.get_title() == "Hidden inflow of 2025-07 across nowcasts, USD bn per month"
    assert ax.get_xlabel() and ax.get_ylabel() == "USD bn per month"
    assert len(ax.get_xticks()) == 3
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("forecast" in t for t in labels) and any("fitted" in t for t in labels)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="no recorded estimate of 2031-01"):
        history_chart(store.estimates(), "2031-01")


# --------------------------------------------------------------------------- two processes


def test_two_processes_recording_at_once_both_land(tmp_path):
    directory = tmp_path / "store"
    with Store(directory) as st:
        st.record_nowcast(record("2025-05"))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(target=record_in_process, args=(str(directory), month, barrier))
        for month in ("2025-06", "2025-07")
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    with Store(directory, read_only=True) as st:
        got = st.nowcasts()
    assert list(got["nowcast_id"]) == [1, 2, 3]
    assert sorted(got["headline_month"]) == ["2025-05", "2025-06", "2025-07"]
    assert sorted(p.name for p in directory.iterdir()) == ["nowcast.duckdb", "nowcast.lock"]
