"""The command line (``nowcast ...``) through typer's CliRunner, each test on its own store in
``tmp_path``. ``fit`` and ``simulate`` are slow and covered elsewhere; ``run`` is run once on a
small window, ``report`` on the report tests' saved fit."""

from __future__ import annotations

import shutil

import pandas as pd
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.datasets import read_manifest
from nowcast.sources import SOURCES
from nowcast.store import SIMULATED_MARKER, Store
from tests.conftest import write_variant

FX = "usd_rub_cbr_daily.csv"
runner = CliRunner()


def _invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def _flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def _clean_exit(result, code: int) -> None:
    """Exit with ``code`` through typer, not through an uncaught exception."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


def _snapshot(store_dir) -> pd.DataFrame:
    with Store(store_dir, read_only=True) as st:
        return st.snapshot()


def test_sources_lists_every_source():
    result = _invoke("sources")
    _clean_exit(result, 0)
    for name in SOURCES:
        assert f"{name}:" in result.output, name
    assert len(SOURCES) >= 16


def test_ingest_reports_figures_read_and_new_then_nothing_changed(tmp_path, data_dir):
    store = tmp_path / "store"
    n_rows = len(pd.read_csv(data_dir / FX))
    first = _invoke("ingest", data_dir / FX, "--source", "cbr_usd_rub", "--store", store)
    _clean_exit(first, 0)
    assert f"{n_rows} figures read, {n_rows} new (real)" in _flat(first.output)
    before = _snapshot(store)
    assert len(before) == n_rows

    again = _invoke("ingest", data_dir / FX, "--source", "cbr_usd_rub", "--store", store)
    _clean_exit(again, 0)
    assert "already ingested" in again.output and "nothing changed" in again.output
    pd.testing.assert_frame_equal(_snapshot(store), before)


def test_ingest_malformed_file_exits_2_and_changes_nothing(tmp_path, data_dir):
    store = tmp_path / "store"
    lines = (data_dir / FX).read_text().splitlines()[:40]
    _clean_exit(_invoke("ingest", data_dir / FX, "--source", "cbr_usd_rub", "--store", store), 0)
    before = _snapshot(store)
    bad = lines[:30] + ["2014-01-30,not-a-rate"] + lines[31:]
    path = write_variant(tmp_path, "bad_rates.csv", "\n".join(bad) + "\n")

    result = _invoke("ingest", path, "--source", "cbr_usd_rub", "--store", store)
    _clean_exit(result, 2)
    out = _flat(result.output)
    assert "bad_rates.csv" in out
    assert "line 31" in out and "not-a-rate" in out
    pd.testing.assert_frame_equal(_snapshot(store), before)


def test_ingest_malformed_file_into_new_store_stores_nothing(tmp_path, data_dir):
    store = tmp_path / "store"
    lines = (data_dir / FX).read_text().splitlines()[:10]
    path = write_variant(tmp_path, "short.csv", "\n".join([*lines, "2014-01-10"]) + "\n")
    result = _invoke("ingest", path, "--source", "cbr_usd_rub", "--store", store)
    _clean_exit(result, 2)
    assert "short.csv" in result.output and "line 11" in _flat(result.output)
    assert not store.exists()  # a store is created by a first valid write only


def test_unknown_source_is_a_clear_error(tmp_path, data_dir):
    result = _invoke("ingest", data_dir / FX, "--source", "nope", "--store", tmp_path / "store")
    _clean_exit(result, 2)
    out = _flat(result.output)
    assert "unknown source 'nope'" in out
    assert "known sources" in out
    for name in SOURCES:
        assert name in out, name


def test_ingest_dir_ingests_every_bundled_file(tmp_path, data_dir):
    store = tmp_path / "store"
    result = _invoke("ingest-dir", "--data", data_dir, "--store", store)
    _clean_exit(result, 0)
    assert "Ingested 16 files" in _flat(result.output)
    with Store(store, read_only=True) as st:
        log = st.ingests()
    manifest = read_manifest(data_dir)
    assert len(log) == len(manifest) == 16
    assert dict(zip(log["file_name"], log["source"], strict=True)) == manifest
    assert (log["rows_added"] > 0).all()
    assert not log["simulated"].any()

    again = _invoke("ingest-dir", "--data", data_dir, "--store", store)
    _clean_exit(again, 0)
    assert "Ingested 16 files" in _flat(again.output)
    assert ": 0 new figures" in _flat(again.output)


def test_data_shows_real_series(tmp_path, data_dir):
    store = tmp_path / "store"
    _clean_exit(_invoke("ingest", data_dir / FX, "--source", "cbr_usd_rub", "--store", store), 0)
    key_rate = data_dir / "cbr_key_rate_daily.csv"
    _clean_exit(_invoke("ingest", key_rate, "--source", "cbr_key_rate", "--store", store), 0)
    result = _invoke("data", "--store", store)
    _clean_exit(result, 0)
    rows = [ln for ln in result.output.splitlines() if "usd_rub_rub_per_usd" in ln]
    assert len(rows) == 1 and " real " in rows[0] and "2014-01-01" in rows[0]
    assert "key_rate_pct" in result.output
    assert "SIMULATED" not in result.output


def test_data_shows_simulated_series(tmp_path, data_dir):
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / SIMULATED_MARKER).write_text("simulated by tests\n")
    (sim / FX).write_text("\n".join((data_dir / FX).read_text().splitlines()[:40]) + "\n")
    store = tmp_path / "store"
    ingest = _invoke("ingest", sim / FX, "--source", "cbr_usd_rub", "--store", store)
    _clean_exit(ingest, 0)
    assert "39 figures read, 39 new (SIMULATED)" in _flat(ingest.output)

    result = _invoke("data", "--store", store)
    _clean_exit(result, 0)
    rows = [ln for ln in result.output.splitlines() if "usd_rub_rub_per_usd" in ln]
    assert len(rows) == 1 and "SIMULATED" in rows[0] and " real " not in rows[0]
    assert "1 SIMULATED series in this store" in _flat(result.output)


def test_data_without_a_store_is_a_clear_error(tmp_path):
    result = _invoke("data", "--store", tmp_path / "nothing")
    _clean_exit(result, 2)
    assert "no store" in result.output


def test_bad_published_date_is_a_clear_error(tmp_path, data_dir):
    result = _invoke(
        "ingest", data_dir / FX, "--source", "cbr_usd_rub", "--published", "notadate",
        "--store", tmp_path / "store",
    )  # fmt: skip
    _clean_exit(result, 2)
    assert "notadate" in result.output


def test_run_refuses_a_bad_scenario_before_any_work(tmp_path):

    bad = tmp_path / "bad.toml"
    bad.write_text('[gold_usd]\n"2026-01" = 1\n')
    store = tmp_path / "store"
    result = CliRunner().invoke(app, ["run", "--store", str(store), "--scenario", str(bad)])
    assert result.exit_code == 2
    assert "bad.toml: field 'gold_usd': unknown driver" in result.output.replace("\n", "")
    assert not store.exists()  # nothing ingested, nothing fitted


def test_run_refuses_a_bad_sampler_option_before_any_work(tmp_path):
    store = tmp_path / "store"
    result = _invoke("run", "--store", store, "--draws", 5)
    _clean_exit(result, 2)
    assert "option --draws" in _flat(result.output)
    assert not store.exists()


def test_report_refuses_a_scenario_named_baseline(tmp_path):
    sc = write_variant(tmp_path, "mine.toml", 'name = "baseline"\n[btc_price_usd]\n"2026-01" = 1\n')
    result = _invoke("report", "--store", tmp_path / "store", "--scenario", sc)
    _clean_exit(result, 2)
    assert "mine.toml: field 'name': 'baseline' names the forecast" in _flat(result.output)


def test_report_and_identify_without_runs_are_clear_errors(tmp_path):
    for command in ("report", "identify"):
        result = _invoke(command, "--store", tmp_path / "store")
        _clean_exit(result, 2)
        assert "no fitted runs" in _flat(result.output), command


def test_report_on_a_saved_run(tmp_path, tmp_path_factory):
    """`nowcast report` forecasts, identifies and renders a saved run (test_report's fit)."""
    from test_report import fitted_run

    run = tmp_path / "store" / "runs" / "20260101T000000_default_test"
    run.mkdir(parents=True)
    shutil.copy(fitted_run(tmp_path_factory), run / "posterior.nc")
    result = _invoke("report", "--store", tmp_path / "store", "--horizon", 2)
    _clean_exit(result, 0)
    out = _flat(result.output)
    assert "Hidden mining inflow, " in out and "80% interval" in out
    assert f"Report: {run / 'report.html'}" in out
    for name in ("report.html", "report.pdf", "summary.csv", "forecast_baseline.csv"):
        assert (run / name).exists(), name
    assert len(result.output.splitlines()) < 10


def test_run_on_a_small_window(tmp_path, data_dir, monkeypatch):
    """`nowcast run` ingests, builds the panel once, fits, forecasts, identifies and reports,
    and prints a short summary of the store rather than every series."""
    import nowcast.panel

    calls = []
    build = nowcast.panel.build_panel

    def counting(*args, **kwargs):
        calls.append(kwargs.get("start"))
        return build(*args, **kwargs)

    monkeypatch.setattr(nowcast.panel, "build_panel", counting)
    store = tmp_path / "store"
    result = _invoke(
        "run", "--data", data_dir, "--store", store, "--start", "2024-07-01", "--horizon", 2,
        "--draws", 100, "--tune", 150, "--chains", 2, "--seed", 3,
    )  # fmt: skip
    _clean_exit(result, 0)
    out = _flat(result.output)
    assert [pd.Timestamp(c) for c in calls] == [pd.Timestamp("2024-07-01")]  # built once
    assert "Ingested 16 files" in out
    assert "The store by source" in out and "What the store holds" not in out
    assert "Ragged edge: the last month each kind of evidence reaches" in out
    assert "Fitting default" in out and "2 chains x 100 draws (+150 tuning)" in out
    assert "Hidden mining inflow, " in out and "SIMULATED" not in out
    lines = result.output.splitlines()
    assert len(lines) < 70, result.output  # the full store table alone is over 100 rows
    runs = list((store / "runs").glob("*/report.html"))
    assert len(runs) == 1
    run = runs[0].parent
    for name in ("posterior.nc", "report.pdf", "summary.json", "narrowing.csv"):
        assert (run / name).exists(), name


def test_run_refuses_a_bad_start_before_any_work(tmp_path):
    store = tmp_path / "store"
    result = _invoke("run", "--store", store, "--start", "someday")
    _clean_exit(result, 2)
    assert "start: expected a date as YYYY-MM-DD, got 'someday'" in _flat(result.output)
    assert not store.exists()


def test_report_on_an_unreadable_posterior_is_a_clear_error(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "posterior.nc").write_text("not netCDF\n")
    for command in ("report", "identify"):
        result = _invoke(command, "--run", run)
        _clean_exit(result, 2)
        assert "posterior.nc: cannot read the posterior" in _flat(result.output), command


def test_the_console_entry_keeps_exit_codes_and_output(tmp_path):
    """``nowcast.cli:main`` (the console script) leaves without the interpreter's teardown:
    it must still give the command's exit code and all its output."""
    import subprocess
    import sys

    entry = [sys.executable, "-c", "from nowcast.cli import main; main()"]
    listed = subprocess.run([*entry, "sources"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert all(name in listed.stdout for name in SOURCES)
    missing = subprocess.run(
        [*entry, "data", "--store", tmp_path / "none"], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 2
    assert "no store at" in missing.stdout + missing.stderr
    assert "Traceback" not in missing.stderr
    usage = subprocess.run([*entry, "no-such-command"], capture_output=True, timeout=120)
    assert usage.returncode == 2
