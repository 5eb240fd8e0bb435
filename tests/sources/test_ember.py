from __future__ import annotations

import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.sources import ember
from tests.conftest import write_variant

FILE = "electricity_russia_yearly_ember.csv"


def test_real_file(data_dir):
    obs = ember.SOURCE.load(data_dir / FILE)
    assert set(obs.series) == {
        "electricity_demand_twh",
        "electricity_generation_twh",
        "net_electricity_imports_twh",
    }
    assert len(obs) == 30  # 2015-2024, three series
    assert (obs.region == "RU").all() and (obs.unit == "TWh").all()
    assert (obs.observer == "Ember").all()
    demand = obs[obs.series == "electricity_demand_twh"].set_index("period_start")
    assert demand.loc["2022-01-01", "value"] == pytest.approx(1150.54)
    assert demand.loc["2022-01-01", "period_end"] == pd.Timestamp("2022-12-31")
    assert demand.loc["2022-01-01", "published"] == pd.Timestamp("2023-04-30")
    assert (obs.published == obs.period_end + pd.Timedelta(days=120)).all()
    imports = obs[obs.series == "net_electricity_imports_twh"].set_index("period_start")
    assert imports.loc["2024-01-01", "value"] == pytest.approx(-16.4)


def test_other_countries_are_ignored(tmp_path, data_dir):
    lines = (data_dir / FILE).read_text().splitlines()
    other = "Norway,2022,NOR,135.0,146.0,-11.0,24800.0,5400000"
    path = write_variant(tmp_path, FILE, "\n".join(lines[:3] + [other] + lines[3:]) + "\n")
    obs = ember.SOURCE.load(path)
    assert len(obs) == 30 and (obs.region == "RU").all()


def _lines(data_dir, n=6):
    return (data_dir / FILE).read_text().splitlines()[:n]


def _set(line: str, i: int, value: str) -> str:
    cells = line.split(",")
    cells[i] = value
    return ",".join(cells)


def _replace(ls: list[str], n: int, new: str) -> list[str]:
    return ls[: n - 1] + [new] + ls[n:]


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (
            lambda ls: [ls[0].replace("net_elec_imports", "imports")] + ls[1:],
            "line 1: missing column(s) ['net_elec_imports']",
        ),
        (lambda ls: _replace(ls, 3, _set(ls[2], 1, "20l6")), "line 3, field 'year'"),
        (
            lambda ls: _replace(ls, 4, _set(ls[3], 3, "n/a")),
            "line 4, field 'electricity_demand': expected a number",
        ),
        (lambda ls: ls + [ls[-1]], "line 7: duplicate year"),
        (
            lambda ls: _replace(ls, 2, _set(ls[1], 3, "1155.890")),
            "line 2, field 'electricity_demand': demand 1155.89 != generation",
        ),
        (
            lambda ls: [ls[0]] + [ln.replace(",RUS,", ",XYZ,") for ln in ls[1:]],
            "no rows with iso_code RUS",
        ),
        (lambda ls: [], "file is empty"),
    ],
    ids=[
        "missing-column",
        "bad-date",
        "non-numeric",
        "duplicate",
        "unbalanced",
        "no-russia",
        "empty",
    ],
)
def test_malformed(tmp_path, data_dir, mutate, expect):
    path = write_variant(tmp_path, FILE, "\n".join(mutate(_lines(data_dir))) + "\n")
    with pytest.raises(SourceError) as err:
        ember.SOURCE.load(path)
    assert FILE in str(err.value)
    assert expect in str(err.value)


def test_wrong_encoding(tmp_path, data_dir):
    text = "\n".join(_lines(data_dir)) + "\n"
    path = write_variant(tmp_path, FILE, text.encode("utf-16"))
    with pytest.raises(SourceError, match="not valid utf-8") as err:
        ember.SOURCE.load(path)
    assert FILE in str(err.value)
