"""As-of queries with revisions on the REAL bundled files: the Bank of Russia release table
(several vintages of one period side by side), the quarterly balance of payments file, the two
goods-exports files, and the whole bundle ingested twice."""

from __future__ import annotations

import shutil
import time
from datetime import datetime

import pandas as pd
import pytest

from nowcast.datasets import ingest_dir, read_manifest
from nowcast.store import Store

RELEASES = "bop_cbr_releases_2019_2025.csv"
QUARTERLY = "bop_cbr_quarterly_1997_2019.csv"
TRADE = "cbr_goods_trade_monthly_1997_2020.csv"
EXPORTS = "cbr_goods_exports_monthly_2013_2023.csv"
CA = "bop_current_account_usd_bn"
EO = "bop_net_errors_omissions_magnitude_usd_bn"
Q1_2024 = (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-31"))
Q1_2025 = (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-03-31"))
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def release_table(data_dir) -> pd.DataFrame:
    """The release table as the file states it (value, published), read independently."""
    df = pd.read_csv(data_dir / RELEASES, dtype=str, keep_default_na=False)
    return df.assign(value=df["value"].astype(float), published=pd.to_datetime(df["published"]))


@pytest.fixture(scope="module")
def releases_store(tmp_path_factory, data_dir):
    with Store(tmp_path_factory.mktemp("releases") / "store") as st:
        st.ingest(data_dir / RELEASES, "cbr_bop_releases")
        yield st


def _file_vintages(table: pd.DataFrame, period: str, item: str) -> list[tuple[pd.Timestamp, float]]:
    rows = table[(table["period"] == period) & (table["item"] == item)].sort_values("published")
    return list(zip(rows["published"], rows["value"], strict=True))


def _as_of(store: Store, series: str, period: tuple, day) -> list[tuple[pd.Timestamp, float]]:
    df = store.as_of(day, series=[series])
    hit = df[(df["period_start"] == period[0]) & (df["period_end"] == period[1])]
    return list(zip(hit["published"], hit["value"], strict=True))


@pytest.mark.parametrize(
    ("series", "item", "period", "label", "values"),
    [
        (CA, "current_account", Q1_2024, "2024Q1", [22.6, 24.9]),
        (EO, "net_errors_omissions_magnitude", Q1_2025, "2025Q1", [12.3, 10.4]),
    ],
)
def test_as_of_sees_each_release_vintage(
    releases_store, release_table, series, item, period, label, values
):
    vintages = _file_vintages(release_table, label, item)
    assert [v for _, v in vintages] == values
    (first_day, first), (second_day, second) = vintages
    assert first_day < second_day

    # before the first release: nothing for that period
    assert _as_of(releases_store, series, period, first_day - DAY) == []
    # the release day itself and any day up to the next release: the first figure
    between = first_day + (second_day - first_day) / 2
    for day in (first_day, between.normalize(), second_day - DAY):
        assert _as_of(releases_store, series, period, day) == [(first_day, first)]
    # from the second release on: the revision
    for day in (second_day, second_day + DAY, None):
        assert _as_of(releases_store, series, period, day) == [(second_day, second)]


def test_release_dates_are_the_files(releases_store, release_table):
    """Every row is stored with the publication date the file states (no lag rule)."""
    stored = releases_store.snapshot()
    assert set(stored["source"]) == {"cbr_bop_releases"}
    assert sorted(pd.to_datetime(stored["published"])) == sorted(release_table["published"])


def test_quarterly_then_releases_keeps_both(tmp_path, data_dir, release_table):
    with Store(tmp_path / "store") as st:
        q = st.ingest(data_dir / QUARTERLY, "cbr_bop_quarterly")
        r = st.ingest(data_dir / RELEASES, "cbr_bop_releases")
        assert q.rows_added == q.rows_in_file
        # 1997-2019 quarters and 2019-2025 releases do not share a period: nothing is dropped
        assert r.rows_added == r.rows_in_file == len(release_table)
        vint = st.vintages(CA)
        latest = st.as_of(series=[CA])

    n_quarters = len(pd.read_csv(data_dir / QUARTERLY))
    n_release_rows = int((release_table["item"] == "current_account").sum())
    assert vint["source"].value_counts().to_dict() == {
        "cbr_bop_quarterly": n_quarters,
        "cbr_bop_releases": n_release_rows,
    }
    # oldest first: periods in order, and within one period its vintages by publication date
    assert vint["period_start"].is_monotonic_increasing
    key = ["region", "period_start", "period_end", "observer"]
    for _, g in vint.groupby(key):
        assert g["published"].is_monotonic_increasing
    q1 = vint[vint["period_start"].eq(Q1_2024[0]) & vint["period_end"].eq(Q1_2024[1])]
    assert q1["value"].tolist() == [22.6, 24.9]
    assert vint.iloc[0]["period_start"] == pd.Timestamp("1997-01-01")

    # as of now both files answer: the quarterly file's 1997Q1 and the release's latest 2024Q1
    by_period = latest.set_index("period_start")
    assert by_period.loc[pd.Timestamp("1997-01-01"), "source"] == "cbr_bop_quarterly"
    q1_latest = latest[latest["period_start"].eq(Q1_2024[0]) & latest["period_end"].eq(Q1_2024[1])]
    assert q1_latest["value"].tolist() == [24.9]


def test_goods_exports_files_disagree_and_later_file_is_a_dated_revision(tmp_path, data_dir):
    """The two goods-exports files disagree in 29 of 82 overlapping months (2017-10..2020-02);
    the later file states no publication dates, so its differing figures are revisions dated the
    day they are ingested, and an as-of query before that day still sees the older figures."""
    trade = pd.read_csv(data_dir / TRADE)
    exports = pd.read_csv(data_dir / EXPORTS)
    both = trade.merge(exports, on="month")
    differ = both[both["goods_exports_fob"] != both["goods_exports_musd"]]
    assert (len(both), len(differ)) == (82, 29)
    ingest_day = datetime(2026, 1, 2)
    with Store(tmp_path / "store") as st:
        st.ingest(data_dir / TRADE, "cbr_goods_trade", now=datetime(2026, 1, 1))
        res = st.ingest(data_dir / EXPORTS, "cbr_goods_exports", now=ingest_day)
        vint = st.vintages("goods_exports_usd_bn")
        before = st.as_of("2026-01-01", series=["goods_exports_usd_bn"])
        after = st.as_of("2026-01-02", series=["goods_exports_usd_bn"])
    # new: the months after 2020-02 plus the 29 revisions
    assert res.rows_added == len(exports) - len(both) + len(differ)
    revised = vint[vint["ingest_id"] == 2]
    revised = revised[revised["period_start"] <= pd.Timestamp("2020-02-01")]
    assert len(revised) == len(differ)
    assert set(pd.to_datetime(revised["published"])) == {pd.Timestamp(ingest_day)}
    month = pd.Timestamp("2019-12-01")
    old = differ.loc[differ["month"] == "2019-12-01"].iloc[0]
    assert before.set_index("period_start").loc[month, "value"] == old["goods_exports_fob"] / 1000
    assert after.set_index("period_start").loc[month, "value"] == old["goods_exports_musd"] / 1000


def test_reingesting_a_copy_of_a_revising_file_adds_nothing(tmp_path, data_dir):
    copy = tmp_path / "copy" / EXPORTS
    copy.parent.mkdir()
    shutil.copy(data_dir / EXPORTS, copy)
    with copy.open("a") as f:
        f.write("\n")  # same figures, different bytes
    with Store(tmp_path / "store") as st:
        st.ingest(data_dir / TRADE, "cbr_goods_trade", now=datetime(2026, 1, 1))
        st.ingest(data_dir / EXPORTS, "cbr_goods_exports", now=datetime(2026, 1, 2))
        res = st.ingest(copy, "cbr_goods_exports", now=datetime(2026, 1, 3))
    assert res.rows_added == 0


def test_whole_bundle_twice_changes_nothing(tmp_path, data_dir):
    manifest = read_manifest(data_dir)
    with Store(tmp_path / "store") as st:
        t0 = time.perf_counter()
        first = ingest_dir(st, data_dir)
        t1 = time.perf_counter()
        before = st.snapshot()
        second = ingest_dir(st, data_dir)
        t2 = time.perf_counter()
        after = st.snapshot()
        log = st.ingests()
    print(f"bundle ingest: first {t1 - t0:.2f} s, again {t2 - t1:.2f} s")
    assert len(first) == len(manifest) == 16
    assert all(r.rows_added > 0 and not r.already_ingested for r in first)
    assert all(r.already_ingested and r.rows_added == 0 for r in second)
    pd.testing.assert_frame_equal(after, before)
    assert list(log["file_name"]) == list(manifest)
