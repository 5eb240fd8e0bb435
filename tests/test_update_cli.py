"""``nowcast update`` refusing bad input, before any fit: a malformed file, a file of no known
format, no current nowcast, the incoming folder's refusals. Each ends in a message naming the
file (and line and field) and exit code 2; nothing refused is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nowcast.cli import app
from nowcast.store import Store

runner = CliRunner()
TODAY = "2026-06-30"
RATES = "date,usd_rub_cbr\n2025-07-01,78.5\n2025-07-02,78.6\n"


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    monkeypatch.setenv("NOWCAST_TODAY", TODAY)


def _invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_malformed_file_is_refused_naming_its_line_and_nothing_is_stored(tmp_path):
    good = _write(tmp_path / "rates.csv", RATES)
    bad = _write(tmp_path / "bad_rates.csv", "date,usd_rub_cbr\n2025-07-01,78.5\n2025-07-02,abc\n")
    res = _invoke("update", good, bad, "--store", tmp_path / "store")
    assert res.exit_code == 2
    assert "bad_rates.csv, line 3, field 'usd_rub_cbr'" in res.output
    assert "Traceback" not in res.output
    # every file is checked before any is stored: the good one is not stored either
    assert not (tmp_path / "store" / "nowcast.duckdb").exists()


def test_a_file_of_no_known_format_is_refused_with_the_sources_named(tmp_path):
    odd = _write(tmp_path / "odd.csv", "when,what\n2025-07-01,1\n")
    res = _invoke("update", odd, "--store", tmp_path / "store")
    assert res.exit_code == 2
    assert "odd.csv" in res.output and "--source" in res.output


def test_without_a_recorded_nowcast_the_release_is_stored_and_the_user_told(tmp_path):
    rates = _write(tmp_path / "rates.csv", RATES)
    res = _invoke("update", rates, "--store", tmp_path / "store")
    assert res.exit_code == 2
    assert "no nowcast is recorded" in res.output and "nowcast run" in res.output
    with Store(tmp_path / "store", read_only=True) as st:
        assert list(st.ingests()["file_name"]) == ["rates.csv"]
        assert st.current_nowcast() is None


def test_the_incoming_folder_refuses_a_bad_file_with_a_note_and_keeps_going(tmp_path):
    incoming = tmp_path / "incoming"
    _write(incoming / "bad_rates.csv", "date,usd_rub_cbr\n2025-07-01,78.5\n2025-07-02,abc\n")
    _write(incoming / "rates.csv", RATES)
    res = _invoke("update", "--incoming", incoming, "--store", tmp_path / "store")
    assert res.exit_code == 2 and "no nowcast is recorded" in res.output
    note = (incoming / "refused" / "bad_rates.csv.why.txt").read_text(encoding="utf-8")
    assert "line 3" in note and "usd_rub_cbr" in note
    # the good file was stored; with no nowcast yet it stays in the folder for the next update
    with Store(tmp_path / "store", read_only=True) as st:
        assert list(st.ingests()["file_name"]) == ["rates.csv"]


def test_a_bad_horizon_is_refused(tmp_path):
    res = _invoke("update", "--horizon", "0", "--store", tmp_path / "store")
    assert res.exit_code == 2 and "--horizon" in res.output
