"""Each source's rule for figures near the ingest day (``today``): which running periods it
publishes (a rate set in advance, a point-in-time figure) and which it does not."""

from __future__ import annotations

import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.sources import cbr_fx, cbr_key_rate, coinmetrics, eia_brent, estimates, generic
from nowcast.sources.base import TODAY_ENV, ingest_day
from tests.conftest import write_variant

TODAY = pd.Timestamp("2026-06-30")


def _days(n: int) -> str:
    return f"{TODAY + pd.Timedelta(days=n):%Y-%m-%d}"


def _fx(tmp_path, *days: int):
    rows = [f"{_days(d)},78.2200" for d in days]
    return write_variant(tmp_path, "fx.csv", "\n".join(["date,usd_rub_cbr", *rows]) + "\n")


def test_usd_rub_rate_for_tomorrow_is_known_today(tmp_path):
    obs = cbr_fx.SOURCE.load(_fx(tmp_path, -1, 0, 1), today=TODAY)
    assert obs["period_start"].max() == TODAY + pd.Timedelta(days=1)
    assert obs["published"].max() == TODAY
    with pytest.raises(SourceError, match=r"fx.csv, line 4, field 'date'.*after the ingest day"):
        cbr_fx.SOURCE.load(_fx(tmp_path, 0, 1, 2), today=TODAY)


def test_key_rate_of_the_ingest_day_is_known_but_not_tomorrows(tmp_path):
    def load(*days):
        rows = [f"{_days(d)},21.0" for d in days]
        path = write_variant(tmp_path, "key.csv", "\n".join(["date,key_rate_pct", *rows]) + "\n")
        return cbr_key_rate.SOURCE.load(path, today=TODAY)

    assert load(-1, 0)["period_start"].max() == TODAY
    with pytest.raises(SourceError, match=r"line 3, field 'date'"):
        load(0, 1)


def test_coinmetrics_day_is_complete_only_after_it_ends(tmp_path, data_dir):
    header, first = (data_dir / "coinmetrics_btc_daily.csv").read_text().splitlines()[:2]
    cells = first.split(",")

    def load(day: int):
        row = ",".join([_days(day), *cells[1:]])
        return coinmetrics.SOURCE.load(write_variant(tmp_path, "cm.csv", f"{header}\n{row}\n"))

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(TODAY_ENV, f"{TODAY:%Y-%m-%d}")
        assert load(-1)["published"].max() == TODAY
        with pytest.raises(SourceError, match=r"line 2, field 'time': the figure for 2026-06-30"):
            load(0)


def test_brent_month_is_refused_until_its_rule_date(tmp_path):
    path = write_variant(tmp_path, "m.csv", "Date,Price\n2026-05-15,70.1\n2026-06-15,71.2\n")
    # June is still running on 30 June; May's average is published 7 June
    with pytest.raises(SourceError, match=r"line 3, field 'Date'"):
        eia_brent.MONTHLY.load(path, today=TODAY)
    assert len(eia_brent.MONTHLY.load(path, today=pd.Timestamp("2026-07-07"))) == 2
    with pytest.raises(SourceError, match=r"2026-06-01\.\.2026-06-30 is published 2026-07-07"):
        eia_brent.MONTHLY.load(path, today=pd.Timestamp("2026-07-06"))


def test_published_before_a_complete_period_ended_is_refused(tmp_path):
    path = write_variant(tmp_path, "m.csv", "Date,Price\n2026-05-15,70.1\n")
    with pytest.raises(SourceError, match=r"field '--published'.*before its period ended"):
        eia_brent.MONTHLY.load(path, published=pd.Timestamp("2026-05-20"), today=TODAY)


def _estimate(start: str, end: str, published: str) -> str:
    return f"mining_power_gw,RU,{start},{end},2.5,GW,press,{published},,point in time"


def test_point_in_time_estimate_of_the_running_month_is_accepted(tmp_path):
    header = ",".join(estimates.COLUMNS)
    ok = _estimate("2026-06-01", "2026-06-30", "2026-06-15")
    path = write_variant(tmp_path, "e.csv", f"{header}\n{ok}\n")
    assert len(estimates.SOURCE.load(path, today=TODAY)) == 1
    for bad, field in [
        (_estimate("2026-06-01", "2026-06-30", "2026-07-01"), "published"),
        (_estimate("2026-07-01", "2026-07-31", "2026-06-15"), "period_start"),
    ]:
        path = write_variant(tmp_path, "e.csv", f"{header}\n{ok}\n{bad}\n")
        with pytest.raises(SourceError, match=rf"e\.csv, line 3, field '{field}'"):
            estimates.SOURCE.load(path, today=TODAY)


def test_generic_without_published_takes_the_option_and_checks_it(tmp_path):
    text = "series,period_start,period_end,value,unit\nmining_load_mw,2026-06-01,2026-06-30,1,MW\n"
    path = write_variant(tmp_path, "g.csv", text)
    obs = generic.SOURCE.load(path, published=TODAY, today=TODAY)
    assert obs["published"].tolist() == [TODAY]
    with pytest.raises(SourceError, match="field '--published'"):
        generic.SOURCE.load(path, published=TODAY + pd.Timedelta(days=1), today=TODAY)


def test_ingest_day_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(TODAY_ENV, "2024-02-29")
    assert ingest_day() == pd.Timestamp("2024-02-29")
    monkeypatch.setenv(TODAY_ENV, "29.02.2024")
    with pytest.raises(Exception, match="NOWCAST_TODAY: expected a date as YYYY-MM-DD"):
        ingest_day()
    monkeypatch.delenv(TODAY_ENV)
    assert ingest_day() == pd.Timestamp.now("UTC").normalize().tz_localize(None)
