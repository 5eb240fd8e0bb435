from __future__ import annotations

import pandas as pd
import pytest

import nowcast.regions_ru as regions_ru
from nowcast.errors import SourceError
from nowcast.regions import region, region_code
from nowcast.sources import rosstat
from tests.conftest import write_variant

FILE = "rosstat_regional_electricity_production_2010_2016.csv"


def test_subject_table():
    codes = [code for code, _, _ in regions_ru.SUBJECTS]
    assert len(codes) == len(set(codes)) == 85  # 83 ISO subjects + Crimea and Sevastopol
    assert region_code("Иркутская область") == "RU-IRK"
    assert region_code("Ханты-Мансийский авт. округ - Югра") == "RU-KHM"
    assert region("RU-IRK").mining  # regions.py's own entry is kept
    assert not region("RU-BEL").mining


def test_real_file(data_dir):
    obs = rosstat.SOURCE.load(data_dir / FILE)
    assert (obs.series == "electricity_production_mln_kwh").all()
    assert (obs.observer == "Rosstat").all() and (obs.unit == "million kWh").all()
    irk = obs[obs.region == "RU-IRK"].set_index("period_start")
    assert irk.loc["2015-02-01", "value"] == pytest.approx(4167, abs=0.5)
    assert irk.loc["2015-02-01", "period_end"] == pd.Timestamp("2015-02-28")
    assert irk.loc["2015-02-01", "published"] == pd.Timestamp("2015-02-28") + pd.Timedelta(days=40)
    assert len(irk) == 73  # 2010-01 .. 2016-01
    assert "RU" in set(obs.region)
    # aggregates skipped; all-empty columns (Chechnya, Ingushetia, Jewish AO) give nothing
    assert not {"RU-CE", "RU-IN", "RU-YEV"} & set(obs.region)
    assert obs.region.nunique() == 83
    assert len(obs[obs.region == "RU-SEV"]) == 1
    assert (obs.published == obs.period_end + pd.Timedelta(days=40)).all()
    assert obs.region.str.startswith("RU").all()


def _lines(data_dir, n=5):
    return (data_dir / FILE).read_text(encoding="utf-8").splitlines()[:n]


def _set(ls: list[str], line: int, header: str, value: str) -> list[str]:
    """Set the cell under ``header`` on file line ``line`` (the header is line 1)."""
    i = ls[0].split(",").index(header)
    cells = ls[line - 1].split(",")
    cells[i] = value
    return ls[: line - 1] + [",".join(cells)] + ls[line:]


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda ls: [ls[0].replace("varname", "var")] + ls[1:], "line 1: missing column"),
        (lambda ls: _set(ls, 3, "date", "2010-02-31"), "line 3, field 'date'"),
        (lambda ls: _set(ls, 3, "date", "2010-02-15"), "first day of a month"),
        (
            lambda ls: _set(ls, 4, "Иркутская область", "4 167"),
            "line 4, field 'Иркутская область': expected a number",
        ),
        (
            lambda ls: _set(ls, 4, "Иркутская область", "-5"),
            "line 4, field 'Иркутская область': expected a production volume >= 0",
        ),
        (lambda ls: ls + [ls[-1]], "line 6: duplicate month"),
        (
            lambda ls: [ls[0].replace("Иркутская область", "Атлантида")] + ls[1:],
            "line 1, field 'Атлантида': unknown area",
        ),
        (
            lambda ls: [ls[0].replace("Омская область", "Иркутская область")] + ls[1:],
            "field 'Иркутская область': column appears twice",
        ),
        (lambda ls: _set(ls, 2, "varname", "ELECTR_CONS"), "line 2, field 'varname'"),
        (lambda ls: [], "file is empty"),
    ],
    ids=[
        "missing-column",
        "bad-date",
        "not-month-start",
        "non-numeric",
        "negative",
        "duplicate",
        "unknown-header",
        "repeated-header",
        "wrong-varname",
        "empty",
    ],
)
def test_malformed(tmp_path, data_dir, mutate, expect):
    path = write_variant(tmp_path, FILE, "\n".join(mutate(_lines(data_dir))) + "\n")
    with pytest.raises(SourceError) as err:
        rosstat.SOURCE.load(path)
    assert FILE in str(err.value)
    assert expect in str(err.value)


def test_wrong_encoding(tmp_path, data_dir):
    text = "\n".join(_lines(data_dir)) + "\n"
    path = write_variant(tmp_path, FILE, text.encode("utf-16"))
    with pytest.raises(SourceError, match="not valid utf-8") as err:
        rosstat.SOURCE.load(path)
    assert FILE in str(err.value)


def test_cp1251_is_refused(tmp_path, data_dir):
    text = "\n".join(_lines(data_dir)) + "\n"
    path = write_variant(tmp_path, FILE, text.encode("cp1251"))
    with pytest.raises(SourceError, match="line 1: bytes at offset") as err:
        rosstat.SOURCE.load(path)
    assert FILE in str(err.value)
