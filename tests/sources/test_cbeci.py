from __future__ import annotations

import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.regions import region
from nowcast.sources import cbeci
from tests.conftest import write_variant

FILE = "cbeci_mining_countries.csv"


def test_real_file(data_dir):
    tidy = cbeci.parse(data_dir / FILE)
    assert tidy["country"].nunique() == 10  # every country is kept
    assert set(tidy["region"]) == {"RU", "CN", "US", "KZ", "MY", "CA", "DE", "IE", "IR", "OTHER"}
    assert region("IR").name == "Iran"

    obs = cbeci.SOURCE.load(data_dir / FILE)
    share = obs[(obs.series == "hashrate_share") & (obs.region == "RU")]
    share = share.set_index("period_start")["value"]
    assert share.loc["2019-09-01"] == pytest.approx(0.0593)
    assert share.loc["2021-07-01"] == pytest.approx(0.1190)
    assert share.loc["2022-01-01"] == pytest.approx(0.0466)
    assert len(share) == 29
    eh = obs[(obs.series == "hashrate_eh_s") & (obs.region == "RU")].set_index("period_start")
    assert eh.loc["2021-08-01", "value"] == pytest.approx(13.56)
    assert eh.loc["2021-08-01", "unit"] == "EH/s"
    assert (obs.published == obs.period_end + pd.Timedelta(days=90)).all()
    assert (obs.period_end == obs.period_start + pd.offsets.MonthEnd(0)).all()
    assert (obs.observer == "Cambridge Centre for Alternative Finance (CBECI)").all()
    flagged = obs[obs.note != ""]
    assert set(flagged.region) == {"DE", "IE"}
    monthly = obs[obs.series == "hashrate_share"].groupby("period_start")["value"].sum()
    assert ((monthly - 1).abs() <= 0.001).all()


def _lines(data_dir, n=11):
    """Header and the ten rows of 2019-09 (the shares sum to 100%)."""
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
        (lambda ls: [ls[0].replace("country", "nation")] + ls[1:], "line 1: missing column"),
        (
            lambda ls: _replace(ls, 3, ls[2].replace("2019-09-01", "2019-13-01")),
            "line 3, field 'date'",
        ),
        (
            lambda ls: _replace(ls, 3, ls[2].replace("2019-09-01", "2019-09-15")),
            "first day of a month",
        ),
        (lambda ls: _replace(ls, 4, _set(ls[3], 2, "abc%")), "line 4, field 'monthly_hashrate_%'"),
        (
            lambda ls: _replace(ls, 4, _set(ls[3], 3, "")),
            "line 4, field 'monthly_absolute_hashrate",
        ),
        (lambda ls: ls + [ls[-1]], "line 12: duplicate month and country"),
        (
            lambda ls: _replace(ls, 2, ls[1].replace("Mainland China", "Atlantis")),
            "line 2, field 'country': unknown country 'Atlantis'",
        ),
        (
            lambda ls: _replace(ls, 2, ls[1].replace("75.53%", "70.53%")),
            "month 2019-09 sum to 94.99%",
        ),
        (
            lambda ls: _replace(ls, 2, ls[1].replace("75.53%", "175.53%")),
            "line 2, field 'monthly_hashrate_%': expected a share from 0% to 100%, got '175.53%'",
        ),
        (lambda ls: [], "file is empty"),
        (lambda ls: ls[:1], "no data rows"),
    ],
    ids=[
        "missing-column",
        "bad-date",
        "not-month-start",
        "non-numeric",
        "empty-cell",
        "duplicate",
        "unknown-country",
        "shares-sum",
        "share-over-100",
        "empty",
        "header-only",
    ],
)
def test_malformed(tmp_path, data_dir, mutate, expect):
    path = write_variant(tmp_path, FILE, "\n".join(mutate(_lines(data_dir))) + "\n")
    with pytest.raises(SourceError) as err:
        cbeci.SOURCE.load(path)
    assert FILE in str(err.value)
    assert expect in str(err.value)


def test_wrong_encoding(tmp_path, data_dir):
    text = "\n".join(_lines(data_dir)) + "\n"
    path = write_variant(tmp_path, FILE, text.encode("utf-16"))
    with pytest.raises(SourceError, match="line 1: bytes at offset 0 are not valid utf-8") as err:
        cbeci.SOURCE.load(path)
    assert FILE in str(err.value)
