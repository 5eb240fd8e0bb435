from __future__ import annotations

import pandas as pd
import pytest

from nowcast.constants import WORLD
from nowcast.errors import SourceError
from nowcast.sources import eia_brent
from tests.conftest import write_variant

DAILY = "brent_daily_eia.csv"
MONTHLY = "brent_monthly_eia.csv"
SOURCE = {DAILY: eia_brent.DAILY, MONTHLY: eia_brent.MONTHLY}


def test_sources_listed():
    assert [s.name for s in eia_brent.SOURCES] == ["eia_brent_daily", "eia_brent_monthly"]


def test_real_daily(data_dir):
    obs = eia_brent.DAILY.load(data_dir / DAILY)
    price = obs.set_index("period_start")["value"]
    # 21 April 2020: Brent's pandemic low; 8 March 2022: the post-invasion high
    assert price.loc["2020-04-21"] == 9.12
    assert price.loc["2022-03-08"] == 133.18
    assert price.idxmin() == pd.Timestamp("2020-04-21")
    assert obs.period_start.min() == pd.Timestamp("2015-01-02")
    assert obs.period_end.max() == pd.Timestamp("2025-12-31")
    assert (obs.period_end == obs.period_start).all()
    assert (obs.published == obs.period_end + pd.Timedelta(days=1)).all()
    assert set(obs.series) == {"brent_usd_per_bbl"}
    assert set(obs.unit) == {"USD/bbl"}
    assert set(obs.region) == {WORLD}
    assert set(obs.observer) == {"U.S. EIA"}


def test_real_monthly(data_dir):
    obs = eia_brent.MONTHLY.load(data_dir / MONTHLY)
    jan = obs[obs.period_start == pd.Timestamp("2015-01-01")].iloc[0]
    assert jan["value"] == 47.76
    assert jan["period_end"] == pd.Timestamp("2015-01-31")
    assert jan["published"] == pd.Timestamp("2015-02-07")
    assert (obs.period_start.dt.day == 1).all()
    assert (obs.period_end == obs.period_start + pd.offsets.MonthEnd(0)).all()
    assert (obs.published == obs.period_end + pd.Timedelta(days=7)).all()
    assert len(obs) == 132  # 2015-01 .. 2025-12
    assert set(obs.series) == {"brent_usd_per_bbl"}


def test_monthly_close_to_daily_average(data_dir):
    daily = eia_brent.parse_daily(data_dir / DAILY)
    monthly = eia_brent.parse_monthly(data_dir / MONTHLY).set_index("period_start")
    mean = daily.groupby(daily.period_start.dt.to_period("M").dt.start_time)[
        "brent_usd_per_bbl"
    ].mean()
    gap = (mean - monthly["brent_usd_per_bbl"]).abs()
    # every month's average matches its trading days to rounding, except December 2019, where
    # the monthly figure (67.31) is 0.09 above the mean of the daily file's 21 prices
    assert list(gap[gap > 0.01].index) == [pd.Timestamp("2019-12-01")]
    assert gap.max() < 0.1


def _lines(data_dir, name, n=6):
    return (data_dir / name).read_text().splitlines()[:n]


CASES = [
    (lambda ls: ["Date,Close"] + ls[1:], "line 1: missing column"),
    (lambda ls: ls[:2] + ["2015/01/05,51.08"] + ls[3:], "line 3, field 'Date'"),
    (lambda ls: ls[:3] + [ls[3].split(",")[0] + ",n/a"] + ls[4:], "line 4, field 'Price'"),
    (
        lambda ls: ls[:3] + [ls[3].split(",")[0] + ",-1.5"] + ls[4:],
        "line 4, field 'Price': expected a value greater than 0",
    ),
    (lambda ls: [], "empty"),
]
IDS = ["missing-column", "bad-date", "non-numeric", "negative", "empty"]


@pytest.mark.parametrize("name", [DAILY, MONTHLY])
@pytest.mark.parametrize(("mutate", "expect"), CASES, ids=IDS)
def test_malformed(tmp_path, data_dir, name, mutate, expect):
    path = write_variant(tmp_path, name, "\n".join(mutate(_lines(data_dir, name))) + "\n")
    with pytest.raises(SourceError, match=expect) as err:
        SOURCE[name].load(path)
    assert name in str(err.value)


@pytest.mark.parametrize(
    ("name", "extra", "expect"),
    [
        (DAILY, "2015-01-05,51.08", "line 7: duplicate day"),
        # two rows in one month: the monthly file has one average per month
        (MONTHLY, "2015-01-20,47.80", "line 7: duplicate month"),
    ],
)
def test_duplicate(tmp_path, data_dir, name, extra, expect):
    text = "\n".join([*_lines(data_dir, name), extra]) + "\n"
    path = write_variant(tmp_path, name, text)
    with pytest.raises(SourceError, match=expect) as err:
        SOURCE[name].load(path)
    assert name in str(err.value)


@pytest.mark.parametrize("name", [DAILY, MONTHLY])
def test_wrong_encoding(tmp_path, data_dir, name):
    text = "\n".join(_lines(data_dir, name)) + "\n"
    path = write_variant(tmp_path, name, text.encode("utf-16"))
    with pytest.raises(SourceError, match="line 1: .*not valid utf-8") as err:
        SOURCE[name].load(path)
    assert name in str(err.value)
