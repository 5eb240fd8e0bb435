"""The panel on the real bundled data: monthly aggregation rules checked against the publishers'
files, period totals as sums of months, partial-month weights, the ragged edge, as-of cuts and
the panel's window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nowcast.constants import MONTH, SERIES
from nowcast.datasets import ingest_dir
from nowcast.errors import NowcastError
from nowcast.panel import build_panel, months_between, period_weights, ragged_edge
from nowcast.store import Store

CONSUMPTION = "electricity_consumption_mln_kwh"
IRKUTSK = "RU-IRK"


@pytest.fixture(scope="module")
def store(tmp_path_factory, data_dir):
    """The whole bundled real data, ingested once for this module (read only from here on)."""
    with Store(tmp_path_factory.mktemp("panel") / "store") as st:
        ingest_dir(st, data_dir)
        yield st


@pytest.fixture(scope="module")
def latest(store):
    return build_panel(store)


@pytest.fixture(scope="module")
def mid2024(store):
    return build_panel(store, as_of="2024-06-15")


@pytest.fixture(scope="module")
def coinmetrics(data_dir) -> pd.DataFrame:
    df = pd.read_csv(data_dir / "coinmetrics_btc_daily.csv", parse_dates=["time"])
    return df.set_index("time")


def _daily(data_dir, name: str, date_col: str, value_col: str) -> pd.Series:
    df = pd.read_csv(data_dir / name, parse_dates=[date_col])
    return df.set_index(date_col)[value_col]


def _at(panel, var: str, month: str) -> float:
    return float(panel[var].sel({MONTH: pd.Timestamp(month)}).item())


def _irkutsk(panel) -> pd.DataFrame:
    """Irkutsk consumption period observations: value, period and weight row."""
    sel = (panel["obs_series"] == CONSUMPTION) & (panel["obs_region"] == IRKUTSK)
    idx = np.nonzero(sel.values)[0]
    return pd.DataFrame(
        {
            "start": pd.to_datetime(panel["obs_period_start"].values[idx]),
            "end": pd.to_datetime(panel["obs_period_end"].values[idx]),
            "value": panel["obs_value"].values[idx],
            "observer": panel["obs_observer"].values[idx],
            "weights": list(panel["period_weight"].values[idx]),
        }
    )


# ----------------------------------------------------------------- monthly aggregation rules


@pytest.mark.parametrize("month", ["2021-05", "2024-02"])
def test_miner_revenue_is_the_sum_of_the_days(latest, coinmetrics, month):
    days = coinmetrics.loc[month]
    revenue = (days["IssTotNtv"] + days["FeeTotNtv"].fillna(0.0)) * days["PriceUSD"]
    got = _at(latest, "btc_miner_revenue_usd", f"{month}-01")
    assert got == pytest.approx(revenue.sum(), rel=1e-12)
    # the file's own derived revenue column agrees to rounding
    assert got == pytest.approx(days["RevUSD_derived"].sum(), rel=1e-9)
    assert _at(latest, "btc_miner_revenue_usd_days_observed", f"{month}-01") == len(days)
    assert _at(latest, "btc_issuance_btc", f"{month}-01") == pytest.approx(
        days["IssTotNtv"].sum(), rel=1e-12
    )


@pytest.mark.parametrize("month", ["2016-01", "2024-02", "2025-12"])
def test_hashrate_eh_s_is_the_mean_th_s_scaled(latest, coinmetrics, month):
    expected = coinmetrics.loc[month, "HashRate"].mean() * 1e-6
    assert _at(latest, "btc_hashrate_eh_s", f"{month}-01") == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("month", ["2022-03", "2025-12"])
def test_usd_rub_monthly_mean_and_end(latest, data_dir, month):
    fx = _daily(data_dir, "usd_rub_cbr_daily.csv", "date", "usd_rub_cbr").loc[month]
    assert len(fx) == pd.Period(month).days_in_month  # calendar-daily file
    assert _at(latest, "usd_rub_mean", f"{month}-01") == pytest.approx(fx.mean(), rel=1e-12)
    assert _at(latest, "usd_rub_end", f"{month}-01") == fx.iloc[-1]


@pytest.mark.parametrize("month", ["2022-03", "2024-05", "2025-12"])
def test_key_rate_mean_of_working_days(latest, data_dir, month):
    """The key rate is published on working days only; its month is the mean of those days,
    and the file's last month (last figure 2025-12-30) counts as complete."""
    rate = _daily(data_dir, "cbr_key_rate_daily.csv", "date", "key_rate_pct").loc[month]
    assert len(rate) < pd.Period(month).days_in_month
    assert _at(latest, "key_rate_pct", f"{month}-01") == pytest.approx(rate.mean(), rel=1e-12)
    assert _at(latest, "key_rate_pct_days_observed", f"{month}-01") == len(rate)


def test_a_month_counts_only_when_complete_as_of(store):
    """As of 2024-06-15 June is half published: on-chain sums and means and the key rate
    (last figure 2024-06-14, more than the slack before month end) are missing, not partial."""
    panel = build_panel(store, as_of="2024-06-15", end="2024-06-01")
    for var in ("btc_miner_revenue_usd", "btc_hashrate_eh_s", "key_rate_pct", "usd_rub_mean"):
        assert np.isnan(_at(panel, var, "2024-06-01")), var
        assert np.isfinite(_at(panel, var, "2024-05-01")), var
    assert _at(panel, "btc_miner_revenue_usd_days_observed", "2024-06-01") == 14


# ----------------------------------------------------------------- period observations


def test_period_totals_are_observations_weighted_by_months(latest, data_dir):
    obs = _irkutsk(latest)
    months = pd.DatetimeIndex(latest[MONTH].values)
    points = pd.read_csv(data_dir / "electricity_published_points.csv", parse_dates=[1, 2])
    points = points[points["area"] == "Irkutsk oblast energy system"]
    cases = [("2020-01-01", "2020-12-31", 12), ("2021-01-01", "2021-11-30", 11)]
    cases += [("2022-01-01", "2022-06-30", 6), ("2022-06-01", "2022-06-30", 1)]
    for start, end, n_months in cases:
        row = obs[(obs["start"] == start) & (obs["end"] == end)]
        assert len(row) == 1, (start, end)
        w = row["weights"].iloc[0]
        assert w.sum() == pytest.approx(n_months)
        covered = (months >= start) & (months <= end)
        np.testing.assert_array_equal(w[covered], 1.0)
        np.testing.assert_array_equal(w[~covered], 0.0)
        # the published total itself, not split over months
        stated = points[(points["period_start"] == start) & (points["period_end"] == end)]
        assert row["value"].iloc[0] == stated["consumption_mln_kwh"].item()
    # two official 2024 figures that disagree: two observations, one per observer
    y2024 = obs[obs["start"] == pd.Timestamp("2024-01-01")]
    assert sorted(y2024["value"]) == [71800.0, 72600.0]
    assert y2024["observer"].nunique() == 2


def test_period_totals_are_never_interpolated(latest):
    """No monthly consumption variable exists: consumption enters only as period totals."""
    assert CONSUMPTION not in latest.data_vars
    grid = [v for v in latest.data_vars if latest[v].dims[:1] == (MONTH,)]
    assert not [v for v in grid if "consumption" in v]
    # the mask says which months a published total covers: of 2016-2019 only Irkutsk's
    # January 2018, and of 2020-2024 all but December 2021 (Irkutsk's 2021 figure is Jan-Nov)
    mask = latest["published_mask"].sel({SERIES: CONSUMPTION}).to_series()
    early = mask.loc["2016-01-01":"2019-12-01"]
    assert list(early[early].index) == [pd.Timestamp("2018-01-01")]
    uncovered = mask.loc["2020-01-01":"2024-12-01"]
    assert list(uncovered[~uncovered].index) == [pd.Timestamp("2021-12-01")]


def test_partial_month_weights():
    months = months_between("2024-01-01", "2024-03-01")
    w = period_weights(
        pd.Series(pd.to_datetime(["2024-01-15", "2024-02-01"])),
        pd.Series(pd.to_datetime(["2024-02-29", "2024-03-10"])),
        months,
    )
    np.testing.assert_allclose(w[0], [17 / 31, 1.0, 0.0])
    np.testing.assert_allclose(w[1], [0.0, 1.0, 10 / 31])


# ----------------------------------------------------------------- as-of and the ragged edge


def test_ragged_edge_as_of_mid_2024(mid2024):
    edge = ragged_edge(mid2024).set_index("series")
    assert pd.Timestamp(mid2024[MONTH].values[-1]) == pd.Timestamp("2024-05-01")
    for s in ("btc_hashrate_eh_s", "btc_miner_revenue_usd", "usd_rub_mean", "key_rate_pct"):
        assert edge.loc[s, "last_month"] == pd.Timestamp("2024-05-01")
        assert edge.loc[s, "months_missing_at_end"] == 0
    # electricity: the Irkutsk 2023 total (year end + 30 days); Ember 2023 (year end + 120)
    # BoP: the 2023 annual current account, as the 2024Q1 release came out 2024-06-28
    for s in (CONSUMPTION, "electricity_demand_twh", "bop_current_account_usd_bn"):
        assert edge.loc[s, "last_month"] == pd.Timestamp("2023-12-01"), s
        assert edge.loc[s, "months_missing_at_end"] == 5, s
    # goods exports (monthly grid) end with the 2013-2023 file
    assert edge.loc["goods_exports_usd_bn", "last_month"] == pd.Timestamp("2023-03-01")
    # the mask agrees with the table
    mask = mid2024["published_mask"].sel({SERIES: CONSUMPTION}).values
    assert mask[-5:].sum() == 0 and mask[-6]


def test_panel_as_of_excludes_later_publications(store):
    """The Irkutsk 2020 total (published 2021-01-30 by the +30-day rule) is absent as of
    2020-06-01 even when the window covers 2020, and present once it was published."""
    early = build_panel(store, as_of="2020-06-01", end="2020-12-01")
    later = build_panel(store, as_of="2021-02-01", end="2020-12-01")
    is_2020 = (_irkutsk(early)["start"] == "2020-01-01") & (_irkutsk(early)["end"] == "2020-12-31")
    assert not is_2020.any()
    row = _irkutsk(later)
    row = row[(row["start"] == "2020-01-01") & (row["end"] == "2020-12-31")]
    assert row["value"].tolist() == [55976.4]
    # nothing published after the as-of date reaches the panel
    assert pd.to_datetime(early["obs_published"].values).max() <= pd.Timestamp("2020-06-01")
    assert early.attrs["as_of"] == "2020-06-01"
    # on-chain data of June 2020 onwards is not known either
    assert np.isnan(_at(early, "btc_hashrate_eh_s", "2020-06-01"))


@pytest.mark.parametrize(
    ("as_of", "end"),
    [
        (None, "2025-12-01"),  # Coin Metrics ends 2025-12-31
        ("2024-06-15", "2024-05-01"),
        ("2024-06-01", "2024-05-01"),  # 2024-05-31 was published on 2024-06-01
        ("2024-05-31", "2024-04-01"),
    ],
)
def test_end_is_the_last_complete_onchain_month(store, as_of, end):
    panel = build_panel(store, as_of=as_of)
    months = pd.DatetimeIndex(panel[MONTH].values)
    assert months[-1] == pd.Timestamp(end)
    assert months[0] == pd.Timestamp("2016-01-01")  # the default start
    assert np.isfinite(panel["btc_miner_revenue_usd"].values[-1])


def test_empty_store_raises(tmp_path):
    with Store(tmp_path / "empty") as st:
        with pytest.raises(NowcastError, match="holds no real figures"):
            build_panel(st)
        with pytest.raises(NowcastError, match="holds no simulated figures"):
            build_panel(st, simulated=True)


def test_store_without_onchain_data_raises(tmp_path, data_dir):
    with Store(tmp_path / "fx") as st:
        st.ingest(data_dir / "usd_rub_cbr_daily.csv", "cbr_usd_rub")
        with pytest.raises(NowcastError, match="no Bitcoin hashrate"):
            build_panel(st)


def test_as_of_before_any_publication_raises(store):
    with pytest.raises(NowcastError, match="holds no real figures published by 1990-01-01"):
        build_panel(store, as_of="1990-01-01")
    # figures exist by 2010 (balance of payments), but no on-chain data yet
    with pytest.raises(NowcastError, match="no Bitcoin hashrate"):
        build_panel(store, as_of="2010-01-01")


def test_brent_grid_is_the_eia_monthly_average(latest, data_dir):
    monthly = _daily(data_dir, "brent_monthly_eia.csv", "Date", "Price")
    monthly.index = monthly.index.to_period("M").to_timestamp()
    got = latest["brent_usd_per_bbl"].to_series()
    pd.testing.assert_series_equal(got, monthly.reindex(got.index), check_names=False)
