from __future__ import annotations

import pandas as pd
import pytest

from nowcast.constants import RUSSIA
from nowcast.errors import SourceError
from nowcast.sources import cbr_trade
from tests.conftest import write_variant

TRADE = "cbr_goods_trade_monthly_1997_2020.csv"
EXPORTS = "cbr_goods_exports_monthly_2013_2023.csv"
SOURCE = {TRADE: cbr_trade.TRADE, EXPORTS: cbr_trade.EXPORTS}


def test_sources_listed():
    assert [s.name for s in cbr_trade.SOURCES] == ["cbr_goods_trade", "cbr_goods_exports"]


def _annual(obs, series):
    part = obs[obs.series == series]
    return part.groupby(part.period_start.dt.year)["value"].sum()


def test_real_trade(data_dir):
    obs = cbr_trade.TRADE.load(data_dir / TRADE)
    assert set(obs.series) == set(cbr_trade.TRADE_COLUMNS.values())
    jan = obs[obs.period_start == pd.Timestamp("1997-01-01")].set_index("series")["value"]
    # first row of the file, USD mn 6654 / 4704 / 1950 -> USD bn
    assert jan["goods_exports_usd_bn"] == pytest.approx(6.654)
    assert jan["goods_imports_usd_bn"] == pytest.approx(4.704)
    assert jan["goods_trade_balance_usd_bn"] == pytest.approx(1.950)
    assert jan["goods_exports_cis_usd_bn"] == pytest.approx(1.486)
    # 2019 goods exports: USD 418.684 bn in this vintage (the BoP quarterly table: 418.687)
    assert _annual(obs, "goods_exports_usd_bn").loc[2019] == pytest.approx(418.684)
    assert obs.period_start.min() == pd.Timestamp("1997-01-01")
    assert obs.period_end.max() == pd.Timestamp("2020-02-29")
    assert (obs.published == obs.period_end + pd.Timedelta(days=45)).all()
    assert set(obs.unit) == {"USD bn"}
    assert set(obs.region) == {RUSSIA}
    assert set(obs.observer) == {"Bank of Russia"}


def test_real_exports(data_dir):
    obs = cbr_trade.EXPORTS.load(data_dir / EXPORTS)
    assert set(obs.series) == {"goods_exports_usd_bn"}
    annual = _annual(obs, "goods_exports_usd_bn")
    assert annual.loc[2021] == pytest.approx(493.8, abs=0.05)
    assert annual.loc[2022] == pytest.approx(588.1, abs=0.05)
    assert obs.period_start.min() == pd.Timestamp("2013-05-01")
    assert obs.period_end.max() == pd.Timestamp("2023-03-31")
    assert (obs.published == obs.period_end + pd.Timedelta(days=45)).all()


def test_exports_files_agree_before_revisions(data_dir):
    """Both files give goods exports: equal through 2017-09, revised from 2017-10 on."""
    a = cbr_trade.EXPORTS.load(data_dir / EXPORTS).set_index("period_start")["value"]
    b = cbr_trade.TRADE.load(data_dir / TRADE)
    b = b[b.series == "goods_exports_usd_bn"].set_index("period_start")["value"]
    both = pd.concat([a, b], axis=1, join="inner", keys=["later", "earlier"])
    assert len(both) == 82
    gap = (both["later"] - both["earlier"]).abs()
    assert (gap[:"2017-09-01"] < 1e-9).all()
    assert gap.max() == pytest.approx(0.625)  # 2019-12: 39.623 against 38.998


def _lines(data_dir, name, n=6):
    return (data_dir / name).read_text().splitlines()[:n]


def _set(line, i, value):
    cells = line.split(",")
    cells[i] = value
    return ",".join(cells)


CASES = [
    (lambda ls: [ls[0].replace("month", "date")] + ls[1:], "line 1: missing column"),
    (lambda ls: ls[:2] + [_set(ls[2], 0, "1997-02")] + ls[3:], "line 3, field 'month'"),
    (lambda ls: ls[:3] + [_set(ls[3], 1, "1,2")] + ls[4:], "line 4"),
    (lambda ls: ls[:3] + [_set(ls[3], 1, "x")] + ls[4:], "line 4, field 'goods_exports_"),
    (lambda ls: ls[:3] + [_set(ls[3], 1, "-5")] + ls[4:], "line 4, field 'goods_exports_"),
    (lambda ls: ls + [ls[-1]], "line 7: duplicate month"),
    (lambda ls: [], "empty"),
]
IDS = ["missing-column", "bad-date", "extra-cell", "non-numeric", "negative", "dup", "empty"]


@pytest.mark.parametrize("name", [TRADE, EXPORTS])
@pytest.mark.parametrize(("mutate", "expect"), CASES, ids=IDS)
def test_malformed(tmp_path, data_dir, name, mutate, expect):
    path = write_variant(tmp_path, name, "\n".join(mutate(_lines(data_dir, name))) + "\n")
    with pytest.raises(SourceError, match=expect) as err:
        SOURCE[name].load(path)
    assert name in str(err.value)


@pytest.mark.parametrize(
    ("column", "expect"),
    [
        (7, "line 4, field 'trade_balance'.*goods_exports - goods_imports"),
        (2, "line 4, field 'goods_exports_fob'.*far_abroad"),
    ],
    ids=["balance", "total"],
)
def test_identity_broken(tmp_path, data_dir, column, expect):
    lines = _lines(data_dir, TRADE)
    cells = lines[3].split(",")
    lines[3] = _set(lines[3], column, str(float(cells[column]) + 100))
    path = write_variant(tmp_path, TRADE, "\n".join(lines) + "\n")
    with pytest.raises(SourceError, match=expect) as err:
        cbr_trade.TRADE.load(path)
    assert TRADE in str(err.value)


@pytest.mark.parametrize("name", [TRADE, EXPORTS])
def test_wrong_encoding(tmp_path, data_dir, name):
    text = "\n".join(_lines(data_dir, name)) + "\n"
    path = write_variant(tmp_path, name, text.encode("utf-16"))
    with pytest.raises(SourceError, match="line 1: .*not valid utf-8") as err:
        SOURCE[name].load(path)
    assert name in str(err.value)
