from __future__ import annotations

import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.sources import generic
from tests.conftest import write_variant

FILE = "my_figures.csv"

FULL = [
    "series,period_start,period_end,value,unit,region,published,observer,note",
    "mining_load_mw,2024-07-01,2024-07-31,1107,MW,RU-IRK,2024-10-31,System Operator,July load",
    'mining_power_gw,2025-01-01,2025-12-31,2.5,GW,,2025-11-10,,"total, 40% legal"',
    "hashrate_share,2024-06-01,2024-09-30,0.023,fraction,RU,2025-04-29,CCAF,",
]
MINIMAL = [
    "series,period_start,period_end,value,unit",
    "mining_load_mw,2024-07-01,2024-07-31,1107,MW",
    "mining_load_mw,2023-07-01,2023-07-31,842,MW",
]


def _write(tmp_path, lines) -> object:
    return write_variant(tmp_path, FILE, "\n".join(lines) + "\n")


def test_full_file(tmp_path):
    obs = generic.SOURCE.load(_write(tmp_path, FULL))
    assert len(obs) == 3
    first = obs.iloc[0]
    assert (first.series, first.region, first.value, first.unit) == (
        "mining_load_mw",
        "RU-IRK",
        1107.0,
        "MW",
    )
    assert first.published == pd.Timestamp("2024-10-31")
    assert first.observer == "System Operator"
    second = obs.iloc[1]
    assert second.region == "RU"  # empty region defaults to Russia
    assert second.observer == "unspecified"
    assert second.note == "total, 40% legal"


def test_published_from_command_line(tmp_path):
    path = _write(tmp_path, MINIMAL)
    obs = generic.SOURCE.load(path, published=pd.Timestamp("2025-02-01 13:00"))
    assert (obs.published == pd.Timestamp("2025-02-01")).all()
    assert (obs.region == "RU").all()
    # --published overrides dates in the file too
    obs = generic.SOURCE.load(_write(tmp_path, FULL), published=pd.Timestamp("2026-01-01"))
    assert (obs.published == pd.Timestamp("2026-01-01")).all()


def test_no_published_column(tmp_path):
    with pytest.raises(SourceError) as err:
        generic.SOURCE.load(_write(tmp_path, MINIMAL))
    assert FILE in str(err.value)
    assert "no published column: pass --published DATE" in str(err.value)


def test_empty_published_cell(tmp_path):
    lines = FULL[:3] + [FULL[3].replace("2025-04-29", "")]
    with pytest.raises(SourceError) as err:
        generic.SOURCE.load(_write(tmp_path, lines))
    assert "line 4, field 'published'" in str(err.value)
    assert "--published DATE" in str(err.value)


def _replace(ls: list[str], n: int, new: str) -> list[str]:
    return ls[: n - 1] + [new] + ls[n:]


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (
            lambda ls: [ls[0].replace("unit", "units")] + ls[1:],
            "line 1: missing column(s) ['unit']",
        ),
        (
            lambda ls: _replace(ls, 3, ls[2].replace("2025-12-31", "2025-12-32")),
            "line 3, field 'period_end'",
        ),
        (
            lambda ls: _replace(ls, 2, ls[1].replace("2024-10-31", "Oct 2024")),
            "line 2, field 'published'",
        ),
        (lambda ls: _replace(ls, 2, ls[1].replace("1107", "1.1k")), "line 2, field 'value'"),
        (lambda ls: ls + [ls[1]], "line 5: duplicate figure"),
        (
            lambda ls: _replace(ls, 2, ls[1].replace("2024-07-31", "2024-06-30")),
            "line 2, field 'period_end': period ends",
        ),
        (
            lambda ls: _replace(ls, 2, ls[1].replace("RU-IRK", "RU-ATL")),
            "line 2, field 'region': unknown region code 'RU-ATL'",
        ),
        (
            lambda ls: _replace(ls, 2, ls[1].replace("mining_load_mw", "Mining Load")),
            "line 2, field 'series'",
        ),
        (lambda ls: _replace(ls, 4, ls[3].replace("fraction", "")), "line 4, field 'unit'"),
        (lambda ls: [], "file is empty"),
        (lambda ls: ls[:1], "no data rows"),
    ],
    ids=[
        "missing-column",
        "bad-date",
        "bad-published",
        "non-numeric",
        "duplicate",
        "end-before-start",
        "unknown-region",
        "bad-series-name",
        "empty-unit",
        "empty",
        "header-only",
    ],
)
def test_malformed(tmp_path, mutate, expect):
    with pytest.raises(SourceError) as err:
        generic.SOURCE.load(_write(tmp_path, mutate(list(FULL))))
    assert FILE in str(err.value)
    assert expect in str(err.value)


def test_wrong_encoding(tmp_path):
    path = write_variant(tmp_path, FILE, ("\n".join(FULL) + "\n").encode("utf-16"))
    with pytest.raises(SourceError, match="not valid utf-8") as err:
        generic.SOURCE.load(path)
    assert FILE in str(err.value)


def test_areas_of_the_geography_table_are_kept_as_written(tmp_path):
    """An energy system or a joint area (``data/geography.csv``) is a valid area, kept as its
    code, like the regional figures file keeps it; a code in neither list is refused."""
    lines = [
        "series,period_start,period_end,value,unit,region,published",
        "regional_consumption_yoy_pct,2025-01-01,2025-09-30,-3.4,percent,OES-SIBERIA,2025-10-01",
        "regional_consumption_mln_kwh,2016-01-01,2016-08-31,67388,million kWh,RU-MOW+RU-MOS,"
        "2016-09-20",
        "mining_load_mw,2024-07-01,2024-07-31,938,MW,Irkutsk oblast,2024-07-31",
    ]
    obs = generic.SOURCE.load(_write(tmp_path, lines))
    assert obs["region"].tolist() == ["OES-SIBERIA", "RU-MOW+RU-MOS", "RU-IRK"]
    bad = [*lines[:2], lines[1].replace("OES-SIBERIA", "OES-MARS")]
    with pytest.raises(SourceError, match="line 3, field 'region': unknown region code 'OES-MARS'"):
        generic.SOURCE.load(_write(tmp_path, bad))
