from __future__ import annotations

import pandas as pd
import pytest

from nowcast.constants import RUSSIA
from nowcast.errors import SourceError
from nowcast.sources import cbr_key_rate
from tests.conftest import write_variant

FILE = "cbr_key_rate_daily.csv"


def test_real_file(data_dir):
    obs = cbr_key_rate.SOURCE.load(data_dir / FILE)
    rate = obs.set_index("period_start")["value"]
    # 28 February 2022: the emergency hike from 9.5% to 20%
    assert rate.loc["2022-02-25"] == 9.5
    assert rate.loc["2022-02-28"] == 20.0
    # 28 October 2024: 21%, the highest key rate so far
    assert rate.loc["2024-10-28"] == 21.0
    assert rate.max() == 21.0
    assert set(obs.series) == {"key_rate_pct"}
    assert set(obs.unit) == {"% per annum"}
    assert set(obs.region) == {RUSSIA}
    assert set(obs.observer) == {"Bank of Russia"}
    assert obs.period_start.min() == pd.Timestamp("2013-09-17")
    assert obs.period_end.max() == pd.Timestamp("2025-12-30")
    assert len(obs) == 3080  # the provenance notes say 3,079; the file has 3,080 rows
    assert (obs.period_end == obs.period_start).all()
    assert (obs.published == obs.period_start).all()


def _lines(data_dir, n=6):
    return (data_dir / FILE).read_text().splitlines()[:n]


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda ls: ["date,rate"] + ls[1:], "line 1: missing column"),
        (lambda ls: ls[:2] + ["2013-09-31,5.50"] + ls[3:], "line 3, field 'date'"),
        (lambda ls: ls[:3] + ["2013-09-19,5,5"] + ls[4:], "line 4"),
        (lambda ls: ls[:3] + ["2013-09-19,abc"] + ls[4:], "line 4, field 'key_rate_pct'"),
        (lambda ls: ls[:3] + ["2013-09-19,"] + ls[4:], "line 4, field 'key_rate_pct'.*empty"),
        (lambda ls: ls[:3] + ["2013-09-19,550"] + ls[4:], "line 4, field 'key_rate_pct'"),
        (lambda ls: ls + [ls[-1]], "line 7: duplicate date"),
        (lambda ls: [], "empty"),
        (lambda ls: ls[:1], "no data rows"),
    ],
    ids=[
        "missing-column",
        "bad-date",
        "extra-cell",
        "non-numeric",
        "empty-cell",
        "out-of-range",
        "duplicate",
        "empty",
        "header-only",
    ],
)
def test_malformed(tmp_path, data_dir, mutate, expect):
    path = write_variant(tmp_path, FILE, "\n".join(mutate(_lines(data_dir))) + "\n")
    with pytest.raises(SourceError, match=expect) as err:
        cbr_key_rate.SOURCE.load(path)
    assert FILE in str(err.value)


def test_wrong_encoding(tmp_path, data_dir):
    text = "\n".join(_lines(data_dir)) + "\n"
    path = write_variant(tmp_path, FILE, text.encode("utf-16"))
    with pytest.raises(SourceError, match="line 1: .*not valid utf-8") as err:
        cbr_key_rate.SOURCE.load(path)
    assert FILE in str(err.value)
