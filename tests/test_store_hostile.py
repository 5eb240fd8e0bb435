"""Hostile but honest use of the command line and the store (issue 13): every case ends in
exit code 2 with a plain message naming the file, the line and the field, never a
traceback, and nothing already stored changes by a byte."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.errors import StoreError
from nowcast.sources.base import TODAY_ENV
from nowcast.store import LOCK_NAME, Store
from tests.conftest import write_variant
from tests.samples import TODAY

FX = "usd_rub_cbr_daily.csv"
BRENT = "brent_daily_eia.csv"
COINMETRICS = "coinmetrics_btc_daily.csv"


@pytest.fixture(autouse=True)
def ingest_day(monkeypatch):
    monkeypatch.setenv(TODAY_ENV, TODAY)


def _invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _flat(text: str) -> str:
    return " ".join(text.split())


def _refused(result, *parts: str) -> str:
    """Exit 2 through typer with a plain message holding each of ``parts``."""
    out = _flat(result.output)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    assert out.startswith("error:"), out
    for part in parts:
        assert part in out, (part, out)
    return out


def _ingest(file, source, store, *more):
    return _invoke("ingest", file, "--source", source, "--store", store, *more)


@pytest.fixture
def fx_store(tmp_path, data_dir) -> Path:
    """A store holding the real USD/RUB file."""
    store = tmp_path / "store"
    assert _ingest(data_dir / FX, "cbr_usd_rub", store).exit_code == 0
    return store


def _db(store: Path) -> bytes:
    return (store / "nowcast.duckdb").read_bytes()


# ------------------------------------------------------------------ figures in the future


@pytest.mark.parametrize(
    ("name", "source", "row", "field"),
    [
        (BRENT, "eia_brent_daily", "2030-06-15,80.10", "Date"),
        (COINMETRICS, "coinmetrics", None, "time"),
    ],
)
def test_future_row_is_refused_and_the_store_unchanged(
    tmp_path, fx_store, data_dir, name, source, row, field
):
    text = (data_dir / name).read_text()
    if row is None:  # Coin Metrics: the last row again, dated 2030-06-15
        last = text.splitlines()[-1]
        row = "2030-06-15" + last[len("2025-12-31") :]
    path = write_variant(tmp_path, name, text + row + "\n")
    before = _db(fx_store)
    out = _refused(
        _ingest(path, source, fx_store),
        name,
        f"line {text.count(chr(10)) + 1}, field '{field}'",
        "2030-06-15",
        "after the ingest day 2026-06-30",
    )
    assert "published 2030-06-16" in out
    assert _db(fx_store) == before


def test_future_published_option_is_refused(tmp_path, data_dir):
    store = tmp_path / "store"
    _refused(
        _ingest(data_dir / FX, "cbr_usd_rub", store, "--published", "2030-01-01"),
        "field '--published'",
        "after the ingest day",
    )
    assert not store.exists()


# ------------------------------------------------------------------ cut, repeated, misplaced


def test_cut_last_line_stores_no_revision(tmp_path, fx_store, data_dir):
    """An interrupted download cut 78.2267 to 78.2: on main a revision dated the ingest day."""
    text = (data_dir / FX).read_text()
    assert text.endswith("2025-12-31,78.2267\n")
    before = _db(fx_store)
    for cut in ("78.2", "78.22", "78.226", "7", ""):
        path = write_variant(tmp_path, FX, text[: -len("78.2267\n")] + cut)
        _refused(
            _ingest(path, "cbr_usd_rub", fx_store),
            FX,
            "line 4384, field 'usd_rub_cbr'",
            "does not end with a newline",
        )
    path = write_variant(tmp_path, FX, text[: -len(",78.2267\n")])
    _refused(_ingest(path, "cbr_usd_rub", fx_store), "line 4384, field 'usd_rub_cbr'", "1 of")
    assert _db(fx_store) == before
    with Store(fx_store, read_only=True) as st:
        assert st.vintages("usd_rub_rub_per_usd").groupby("period_start").size().max() == 1


def test_repeated_column_is_refused(tmp_path, data_dir):
    """``Price,Date,Price``: main stored the first copy's values."""
    lines = (data_dir / BRENT).read_text().splitlines()
    rows = [f"{p},{d},{p}" for d, p in (ln.split(",") for ln in lines[1:])]
    path = write_variant(tmp_path, BRENT, "\n".join(["Price,Date,Price", *rows]) + "\n")
    store = tmp_path / "store"
    _refused(
        _ingest(path, "eia_brent_daily", store),
        "line 1, field 'Price': column appears twice in the header (columns 1 and 3)",
    )
    assert not store.exists()


def test_folder_as_file_is_refused(tmp_path, fx_store):
    before = _db(fx_store)
    _refused(_ingest(tmp_path, "cbr_usd_rub", fx_store), f"{tmp_path}: is a folder")
    _refused(_ingest(tmp_path, "eia_brent_daily", fx_store), f"{tmp_path}: is a folder")
    assert _db(fx_store) == before


def test_missing_file_with_a_new_store_creates_nothing(tmp_path):
    store = tmp_path / "new-store"
    _refused(_ingest(tmp_path / "nothing.csv", "cbr_usd_rub", store), "file not found")
    assert not store.exists()
    _refused(_invoke("ingest-dir", "--data", tmp_path / "no-data", "--store", store), "not found")
    assert not store.exists()


def test_store_path_that_is_a_file(tmp_path, data_dir):
    store = write_variant(tmp_path, "store", "not a folder\n")
    _refused(_ingest(data_dir / FX, "cbr_usd_rub", store), f"store path {store} is a file")
    _refused(_invoke("data", "--store", store), "is a file: expected a folder")
    assert store.read_text() == "not a folder\n"


@pytest.mark.parametrize("which", ["file", "folder"])
def test_read_only_store(tmp_path, fx_store, data_dir, which):
    target = fx_store / "nowcast.duckdb" if which == "file" else fx_store
    mode = target.stat().st_mode
    before = _db(fx_store)
    target.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        out = _refused(_ingest(data_dir / BRENT, "eia_brent_daily", fx_store), "is read-only")
        assert str(target) in out
        result = _invoke("data", "--store", fx_store)  # reading still works
        assert result.exit_code == 0 and "usd_rub_rub_per_usd" in result.output
    finally:
        target.chmod(mode)
    assert _db(fx_store) == before


# ------------------------------------------------------------------ dates nowcast cannot hold


def test_date_before_1678_is_a_clear_error(tmp_path, data_dir):
    """1600-01-03 is a valid date; main failed with OutOfBoundsDatetime."""
    lines = (data_dir / BRENT).read_text().splitlines()
    text = "\n".join([lines[0], "1600-01-03,1.5", *lines[1:]]) + "\n"
    path = write_variant(tmp_path, BRENT, text)
    _refused(
        _ingest(path, "eia_brent_daily", tmp_path / "store"),
        "line 2, field 'Date': expected a date from 1678-01-01 to 2200-12-31",
    )


def test_200000_day_file_is_a_clear_error(tmp_path):
    """200,000 days back from the ingest day start in 1479, before any date pandas holds."""
    days = pd.date_range(end="2026-06-29", periods=200_000, freq="D", unit="s")
    text = "date,usd_rub_cbr\n" + "".join(days.strftime("%Y-%m-%d,30.0000\n"))
    path = write_variant(tmp_path, "fx_long.csv", text)
    _refused(
        _ingest(path, "cbr_usd_rub", tmp_path / "store"),
        "fx_long.csv, line 2, field 'date'",
        "the dates nowcast can hold",
    )


@pytest.mark.parametrize("option", [["--published", "1500-01-01"], ["--published", "2020-02-30"]])
def test_bad_published_option_is_a_clear_error(tmp_path, data_dir, option):
    _refused(_ingest(data_dir / FX, "cbr_usd_rub", tmp_path / "store", *option), "--published")


# ------------------------------------------------------------------ smaller


def test_negative_value_names_the_files_column(tmp_path, data_dir):
    lines = (data_dir / COINMETRICS).read_text().splitlines()[:5]
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index("PriceUSD")] = "-250.5"
    lines[3] = ",".join(cells)
    path = write_variant(tmp_path, COINMETRICS, "\n".join(lines) + "\n")
    _refused(
        _ingest(path, "coinmetrics", tmp_path / "store"),
        "line 4, field 'PriceUSD': expected a value greater than 0, got -250.5",
    )


def test_semicolon_separated_file(tmp_path, data_dir):
    lines = (data_dir / FX).read_text().splitlines()[:10]
    path = write_variant(tmp_path, "fx.csv", "\n".join(ln.replace(",", ";") for ln in lines) + "\n")
    _refused(
        _ingest(path, "cbr_usd_rub", tmp_path / "store"),
        "fx.csv, line 1: the header is separated by semicolons: expected a comma-separated file",
    )


# ------------------------------------------------------------------ damaged stores and runs


def test_store_left_without_tables_is_reported_then_repaired(tmp_path, data_dir):
    """What a kill during a store's creation left on main: a database with no tables."""
    store = tmp_path / "store"
    store.mkdir()
    duckdb.connect(str(store / "nowcast.duckdb")).close()
    _refused(_invoke("data", "--store", store), "has no tables", "`nowcast ingest` rebuilds it")
    result = _ingest(data_dir / FX, "cbr_usd_rub", store)
    assert result.exit_code == 0, result.output
    assert "usd_rub_rub_per_usd" in _invoke("data", "--store", store).output


def test_empty_database_file_counts_as_no_store(tmp_path, data_dir):
    store = tmp_path / "store"
    store.mkdir()
    (store / "nowcast.duckdb").touch()
    _refused(_invoke("data", "--store", store), "no store")
    assert _ingest(data_dir / FX, "cbr_usd_rub", store).exit_code == 0
    assert _invoke("data", "--store", store).exit_code == 0


def test_foreign_file_as_database_is_refused_and_kept(tmp_path, data_dir):
    store = tmp_path / "store"
    store.mkdir()
    junk = b"these are not the figures you are looking for\n" * 50
    (store / "nowcast.duckdb").write_bytes(junk)
    _refused(_invoke("data", "--store", store), "is not a nowcast store")
    _refused(_ingest(data_dir / FX, "cbr_usd_rub", store), "is not a nowcast store")
    assert (store / "nowcast.duckdb").read_bytes() == junk


def test_stray_copy_of_a_killed_writer_is_ignored_then_removed(tmp_path, fx_store, data_dir):
    stray = fx_store / f".nowcast.duckdb.{os.getpid() + 1}.tmp"
    stray.write_bytes(b"half a database")
    assert _invoke("data", "--store", fx_store).exit_code == 0
    assert _ingest(data_dir / BRENT, "eia_brent_daily", fx_store).exit_code == 0
    assert sorted(p.name for p in fx_store.iterdir()) == ["nowcast.duckdb", LOCK_NAME]


def _posterior(path: Path) -> None:
    ds = xr.Dataset({"x": (("chain", "draw"), np.zeros((2, 50)))})
    xr.DataTree.from_dict({"posterior": ds}).to_netcdf(path, engine="h5netcdf")


@pytest.mark.parametrize("damage", ["truncated", "empty", "junk"])
def test_damaged_posterior_in_the_newest_run(tmp_path, damage):
    store = tmp_path / "store"
    run = store / "runs" / "20260630-120000-default"
    run.mkdir(parents=True)
    nc = run / "posterior.nc"
    _posterior(nc)
    data = nc.read_bytes()
    nc.write_bytes(
        {"truncated": data[: len(data) // 2], "empty": b"", "junk": b"\x89HDF?" * 99}[damage]
    )
    _refused(_invoke("report", "--store", store), str(nc), "cannot read the posterior")


def test_store_opened_read_only_refuses_writes(fx_store, data_dir):
    with Store(fx_store, read_only=True) as st, pytest.raises(StoreError, match="read-only"):
        st.ingest(data_dir / BRENT, "eia_brent_daily")
