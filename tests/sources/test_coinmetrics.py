from __future__ import annotations

import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.sources import coinmetrics
from tests.conftest import write_variant

FILE = "coinmetrics_btc_daily.csv"


def test_real_file(data_dir):
    obs = coinmetrics.SOURCE.load(data_dir / FILE)
    rev = obs[obs.series == "btc_miner_revenue_usd"].set_index("period_start")["value"]
    # 2024-04-20 is the halving day; revenue that day is known to exceed USD 100m (fees spike)
    assert rev.loc["2024-04-20"] > 1e8
    assert set(obs.series) == set(coinmetrics.UNITS)
    day = obs[obs.series == "btc_hashrate_th_s"]
    assert day.period_start.min() == pd.Timestamp("2015-01-01")
    assert day.period_end.max() == pd.Timestamp("2025-12-31")
    assert (obs.published == obs.period_end + pd.Timedelta(days=1)).all()


def _set_field(line: str, i: int, value: str) -> str:
    cells = line.split(",")
    cells[i] = value
    return ",".join(cells)


def _lines(data_dir, n=6):
    return (data_dir / FILE).read_text().splitlines()[:n]


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda ls: [ls[0].replace("HashRate", "Hash")] + ls[1:], "missing column"),
        (lambda ls: ls[:2] + [ls[2].replace("2015-01-02", "2015-13-02")] + ls[3:], "line 3"),
        (lambda ls: ls[:3] + [_set_field(ls[3], 3, "abc")] + ls[4:], "line 4, field 'BlkCnt'"),
        (lambda ls: ls + [ls[-1]], "duplicate day"),
        (lambda ls: [], "empty"),
    ],
    ids=["missing-column", "bad-date", "non-numeric", "duplicate", "empty"],
)
def test_malformed(tmp_path, data_dir, mutate, expect):
    path = write_variant(tmp_path, FILE, "\n".join(mutate(_lines(data_dir))) + "\n")
    with pytest.raises(SourceError, match=expect) as err:
        coinmetrics.SOURCE.load(path)
    assert FILE in str(err.value)


def test_wrong_encoding(tmp_path, data_dir):
    text = "\n".join(_lines(data_dir)) + "\n"
    path = write_variant(tmp_path, FILE, text.encode("utf-16"))
    with pytest.raises(SourceError, match="not valid utf-8"):
        coinmetrics.SOURCE.load(path)
