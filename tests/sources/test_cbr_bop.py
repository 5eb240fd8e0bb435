from __future__ import annotations

import pandas as pd
import pytest

from nowcast.constants import RUSSIA
from nowcast.errors import SourceError
from nowcast.sources import cbr_bop
from tests.conftest import write_variant

QUARTERLY = "bop_cbr_quarterly_1997_2019.csv"
MONTHLY = "bop_cbr_monthly_2012_2019.csv"
RELEASES = "bop_cbr_releases_2019_2025.csv"


@pytest.fixture(scope="module")
def loaded(data_dir):
    return {
        QUARTERLY: cbr_bop.QUARTERLY.load(data_dir / QUARTERLY),
        MONTHLY: cbr_bop.MONTHLY.load(data_dir / MONTHLY),
        RELEASES: cbr_bop.RELEASES.load(data_dir / RELEASES),
    }


def _annual(obs, series):
    part = obs[obs.series == series]
    return part.groupby(part.period_start.dt.year)["value"].sum()


def test_sources_listed():
    names = [s.name for s in cbr_bop.SOURCES]
    assert names == ["cbr_bop_quarterly", "cbr_bop_monthly", "cbr_bop_releases"]
    assert cbr_bop.RELEASES.published_in_file
    assert not cbr_bop.QUARTERLY.published_in_file


def test_common_fields(loaded):
    for obs in loaded.values():
        assert set(obs.unit) == {"USD bn"}
        assert set(obs.region) == {RUSSIA}
        assert set(obs.observer) == {"Bank of Russia"}
        assert obs.series.str.fullmatch(r"bop_[a-z0-9_]+_usd_bn").all()


def test_real_quarterly(loaded):
    obs = loaded[QUARTERLY]
    eo = _annual(obs, "bop_net_errors_omissions_usd_bn")
    known = {2014: 7.9, 2015: 2.9, 2016: -5.4, 2017: 2.6, 2018: 2.6, 2019: -2.0}
    for year, value in known.items():
        assert eo.loc[year] == pytest.approx(value, abs=0.05)
    first = obs[obs.period_start == pd.Timestamp("1997-01-01")].set_index("series")["value"]
    assert first["bop_current_account_usd_bn"] == pytest.approx(2.73824)  # USD mn 2738.24
    assert first["bop_reserve_assets_change_usd_bn"] == pytest.approx(1.3312)
    assert "bop_goods_exports_lng_usd_bn" not in first.index  # LNG is empty before 2009
    q = obs[obs.series == "bop_current_account_usd_bn"]
    assert len(q) == 92
    assert (q.period_end == q.period_start + pd.offsets.QuarterEnd(0)).all()
    assert q.period_end.max() == pd.Timestamp("2019-12-31")
    assert (obs.published == obs.period_end + pd.Timedelta(days=100)).all()


def test_real_monthly(loaded):
    obs = loaded[MONTHLY]
    first = obs[obs.period_start == pd.Timestamp("2012-01-01")].set_index("series")["value"]
    assert first["bop_current_account_usd_bn"] == 15.0
    assert first["bop_net_errors_omissions_usd_bn"] == -2.7
    assert (obs.period_end == obs.period_start + pd.offsets.MonthEnd(0)).all()
    assert (obs.published == obs.period_end + pd.Timedelta(days=45)).all()
    # the monthly current account adds up to the quarterly table's, year by year
    monthly = _annual(obs, "bop_current_account_usd_bn")
    quarterly = _annual(loaded[QUARTERLY], "bop_current_account_usd_bn").loc[2012:2019]
    assert (monthly - quarterly).abs().max() < 0.2


def test_same_concept_same_series(loaded):
    monthly = set(loaded[MONTHLY].series)
    assert monthly <= set(loaded[QUARTERLY].series)
    releases = set(loaded[RELEASES].series)
    shared = {
        "bop_current_account_usd_bn",
        "bop_trade_balance_goods_usd_bn",
        "bop_goods_exports_usd_bn",
        "bop_goods_imports_usd_bn",
        "bop_services_balance_usd_bn",
        "bop_net_incurrence_of_liabilities_usd_bn",
        "bop_net_acquisition_fin_assets_excl_reserves_usd_bn",
        # the releases table's reserve_assets and financial_account_excl_reserves
        "bop_reserve_assets_change_usd_bn",
        "bop_financial_account_excl_reserves_net_lending_usd_bn",
    }
    assert shared <= releases & monthly
    assert "bop_net_errors_omissions_magnitude_usd_bn" in releases
    assert "bop_net_errors_omissions_usd_bn" not in releases


def test_real_releases(loaded):
    obs = loaded[RELEASES]
    assert len(obs) == 413
    ca = obs[
        (obs.series == "bop_current_account_usd_bn")
        & (obs.period_start == pd.Timestamp("2024-01-01"))
        & (obs.period_end == pd.Timestamp("2024-03-31"))
    ].sort_values("published")
    assert ca["value"].tolist() == [22.6, 24.9]
    assert ca["published"].tolist() == [pd.Timestamp("2024-06-28"), pd.Timestamp("2025-06-30")]
    assert ca["note"].iloc[0].startswith("source: https://cbr.ru/eng/statistics/")
    eo = obs[
        (obs.series == "bop_net_errors_omissions_magnitude_usd_bn")
        & (obs.period_start == pd.Timestamp("2025-01-01"))
        & (obs.period_end == pd.Timestamp("2025-03-31"))
    ].sort_values("published")
    assert eo["value"].tolist() == [12.3, 10.4]
    # a year-to-date range: January to April 2025
    ytd = obs[(obs.series == "bop_net_errors_omissions_magnitude_usd_bn")]
    ytd = ytd[ytd.period_end == pd.Timestamp("2025-04-30")].iloc[0]
    assert ytd["period_start"] == pd.Timestamp("2025-01-01")
    assert ytd["value"] == 14.7
    # seasonally adjusted rows are in USD mn in the file
    sa = obs[
        (obs.series == "bop_current_account_sa_usd_bn")
        & (obs.period_start == pd.Timestamp("2024-07-01"))
    ].iloc[0]
    assert sa["value"] == pytest.approx(9.698)
    assert "published in USD mn, converted to USD bn" in sa["note"]
    # 'same' in source_url stands for the previous row's page
    jan_sep = obs[obs.note.str.contains("Jan-Sep 2023 release")]
    assert len(jan_sep) == 6
    assert not obs.note.str.contains("source: same").any()


# --------------------------------------------------------------------------- malformed


def _lines(data_dir, name, n=6):
    return (data_dir / name).read_text(encoding="utf-8").splitlines()[:n]


def _set(line, i, value):
    cells = line.split(",")
    cells[i] = value
    return ",".join(cells)


def _raises(tmp_path, source, name, lines, expect):
    path = write_variant(tmp_path, name, "\n".join(lines) + "\n" if lines else "")
    with pytest.raises(SourceError, match=expect) as err:
        source.load(path)
    assert name in str(err.value)


# file -> (source, date column, a value column's index and name, what one row is)
WIDE = {
    QUARTERLY: (cbr_bop.QUARTERLY, "quarter_start", 3, "trade_balance_goods", "quarter"),
    MONTHLY: (cbr_bop.MONTHLY, "month", 2, "trade_balance_goods", "month"),
}
WIDE_CASES = [
    (lambda ls, d, i: [ls[0].replace("current_account,", "ca,")] + ls[1:], "line 1: missing"),
    (lambda ls, d, i: ls[:2] + [_set(ls[2], 0, "2012-04-31")] + ls[3:], "line 3, field '{d}'"),
    (lambda ls, d, i: ls[:3] + [_set(ls[3], i, "abc")] + ls[4:], "line 4, field '{c}'"),
    (lambda ls, d, i: ls[:3] + [_set(ls[3], i, "")] + ls[4:], "line 4, field '{c}'.*empty"),
    (lambda ls, d, i: ls[:3] + [ls[3] + ",1.0"] + ls[4:], "line 4"),
    (lambda ls, d, i: ls + [ls[-1]], "line 7: duplicate {what}"),
    (lambda ls, d, i: [], "empty"),
    (lambda ls, d, i: ls[:1], "no data rows"),
]
WIDE_IDS = [
    "missing-column",
    "bad-date",
    "non-numeric",
    "empty-cell",
    "extra-cell",
    "duplicate",
    "empty",
    "header-only",
]


@pytest.mark.parametrize("name", [QUARTERLY, MONTHLY])
@pytest.mark.parametrize(("mutate", "expect"), WIDE_CASES, ids=WIDE_IDS)
def test_wide_malformed(tmp_path, data_dir, name, mutate, expect):
    source, date, i, column, what = WIDE[name]
    lines = mutate(_lines(data_dir, name), date, i)
    _raises(tmp_path, source, name, lines, expect.format(d=date, c=column, what=what))


def test_quarter_label_mismatch(tmp_path, data_dir):
    lines = _lines(data_dir, QUARTERLY)
    lines[2] = _set(lines[2], 1, "1997Q3")  # quarter_start is 1997-04-01
    _raises(tmp_path, cbr_bop.QUARTERLY, QUARTERLY, lines, "line 3, field 'quarter'")
    lines[2] = _set(lines[2], 1, "1997-Q2")
    _raises(tmp_path, cbr_bop.QUARTERLY, QUARTERLY, lines, "line 3, field 'quarter'")


@pytest.mark.parametrize(
    ("name", "source", "column", "expect"),
    [
        (QUARTERLY, cbr_bop.QUARTERLY, 2, "line 4, field 'current_account'.*USD mn"),
        (QUARTERLY, cbr_bop.QUARTERLY, 9, "line 4, field 'goods_exports'.*crude_oil"),
        (MONTHLY, cbr_bop.MONTHLY, 16, "line 4, field 'net_errors_omissions'"),
    ],
    ids=["quarterly-ca", "quarterly-exports", "monthly-eo"],
)
def test_identity_broken(tmp_path, data_dir, name, source, column, expect):
    lines = _lines(data_dir, name)
    lines[3] = _set(lines[3], column, str(float(lines[3].split(",")[column]) + 5))
    _raises(tmp_path, source, name, lines, expect)


def test_negative_exports(tmp_path, data_dir):
    lines = _lines(data_dir, MONTHLY)
    lines[3] = _set(lines[3], 3, "-1.0")
    _raises(
        tmp_path,
        cbr_bop.MONTHLY,
        MONTHLY,
        lines,
        "line 4, field 'goods_exports': expected a value of at least 0",
    )


def test_unit_mistake(tmp_path, data_dir):
    """A USD mn figure in the monthly (USD bn) file is out of range."""
    lines = _lines(data_dir, MONTHLY)
    lines[3] = _set(lines[3], 12, "4200")  # capital_account
    _raises(
        tmp_path,
        cbr_bop.MONTHLY,
        MONTHLY,
        lines,
        "line 4, field 'capital_account': expected a value from -1000",
    )


@pytest.mark.parametrize("name", [QUARTERLY, MONTHLY, RELEASES])
def test_wrong_encoding(tmp_path, data_dir, name):
    text = "\n".join(_lines(data_dir, name)) + "\n"
    source = {QUARTERLY: cbr_bop.QUARTERLY, MONTHLY: cbr_bop.MONTHLY, RELEASES: cbr_bop.RELEASES}
    path = write_variant(tmp_path, name, text.encode("utf-16"))
    with pytest.raises(SourceError, match="line 1: .*not valid utf-8") as err:
        source[name].load(path)
    assert name in str(err.value)


HEADER = "period,freq,item,value,unit,published,source_url,note"
ROW = "2024-01/2024-06,YTD,current_account,35.1,USD bn,2024-08-15,https://cbr.ru/x,"


def _release(**cells):
    names = HEADER.split(",")
    values = ROW.split(",")
    for k, v in cells.items():
        values[names.index(k)] = v
    return ",".join(values)


@pytest.mark.parametrize(
    ("lines", "expect"),
    [
        ([HEADER.replace(",published", ""), ROW.replace(",2024-08-15", "")], "line 1: missing"),
        ([HEADER, _release(published="2024-08-32")], "line 2, field 'published'"),
        ([HEADER, _release(published="15.08.2024")], "line 2, field 'published'"),
        ([HEADER, _release(value="35,1")], "line 2"),
        ([HEADER, _release(value="n/a")], "line 2, field 'value'"),
        ([HEADER, ROW, _release(value="35.2")], "line 3: duplicate release figure.*line 2"),
        ([], "empty"),
        ([HEADER], "no data rows"),
        # a year-to-date range running backwards
        ([HEADER, ROW, _release(period="2024-06/2024-01")], "line 3, field 'period'.*ends before"),
        ([HEADER, _release(period="2024-03/2024-06")], "line 2, field 'period'.*January"),
        ([HEADER, _release(period="2023-01/2024-06")], "line 2, field 'period'.*same year"),
        ([HEADER, _release(period="2024-03", freq="Q")], "line 2, field 'period'.*like 2024Q1"),
        ([HEADER, _release(period="2024Q5", freq="Q")], "line 2, field 'period'.*like 2024Q1"),
        ([HEADER, _release(period="2024-13", freq="M")], "line 2, field 'period'.*like 2024-03"),
        ([HEADER, _release(period="2024Q1", freq="A")], "line 2, field 'period'.*like 2024"),
        ([HEADER, _release(period="2024-06")], "line 2, field 'period'.*2024-01/2024-06"),
        ([HEADER, _release(freq="H")], "line 2, field 'freq'"),
        ([HEADER, _release(unit="RUB bn")], "line 2, field 'unit'"),
        ([HEADER, _release(item="Current account")], "line 2, field 'item'"),
        ([HEADER, _release(published="2024-06-30")], "line 2, field 'published'.*after"),
        ([HEADER, _release(value="35100")], "line 2, field 'value': expected a value from -1000"),
        (
            [HEADER, _release(item="net_errors_omissions_magnitude", value="-3.0")],
            "line 2, field 'value'.*>= 0",
        ),
        ([HEADER, _release(source_url="same")], "line 2, field 'source_url'"),
        # two names of one concept for one period and vintage
        (
            [HEADER, _release(item="reserve_assets"), _release(item="reserve_assets_change")],
            "line 3: duplicate figure for a period",
        ),
        # the annual figure and a full-year YTD range are the same figure
        (
            [
                HEADER,
                _release(period="2024", freq="A", published="2025-03-31"),
                _release(period="2024-01/2024-12", published="2025-03-31"),
            ],
            "line 3: duplicate figure for a period",
        ),
    ],
    ids=[
        "missing-column",
        "bad-date",
        "date-format",
        "extra-cell",
        "non-numeric",
        "duplicate",
        "empty",
        "header-only",
        "ytd-backwards",
        "ytd-not-january",
        "ytd-two-years",
        "q-as-month",
        "q5",
        "month-13",
        "annual-as-quarter",
        "ytd-as-month",
        "freq",
        "unit",
        "item",
        "published-too-early",
        "unit-mistake",
        "negative-magnitude",
        "same-first",
        "alias-collision",
        "annual-vs-ytd",
    ],
)
def test_releases_malformed(tmp_path, lines, expect):
    _raises(tmp_path, cbr_bop.RELEASES, RELEASES, lines, expect)


def test_releases_small_file(tmp_path):
    lines = [
        HEADER,
        ROW,
        "2024Q2,Q,reserve_assets,-1.3,USD bn,2024-09-30,same,first estimate",
        "2024Q2,Q,current_account_sa,9698,USD mn,2024-12-31,https://cbr.ru/y,",
    ]
    path = write_variant(tmp_path, RELEASES, "\n".join(lines) + "\n")
    obs = cbr_bop.RELEASES.load(path).set_index("series")
    assert obs.loc["bop_current_account_usd_bn", "period_start"] == pd.Timestamp("2024-01-01")
    assert obs.loc["bop_current_account_usd_bn", "period_end"] == pd.Timestamp("2024-06-30")
    assert obs.loc["bop_current_account_usd_bn", "note"] == "source: https://cbr.ru/x"
    assert obs.loc["bop_reserve_assets_change_usd_bn", "note"] == (
        "first estimate; source: https://cbr.ru/x"
    )
    assert obs.loc["bop_current_account_sa_usd_bn", "value"] == pytest.approx(9.698)
