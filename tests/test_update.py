"""``nowcast update`` on a replay of real releases: the bundled 2025 data cut at mid-2025,
then monthly slices of Coin Metrics, the Bank of Russia's rates and key rate and Brent, a
balance-of-payments release and Irkutsk's 2024 electricity figures (held back from the first
run), each landing as an update. Every figure is real; only when it landed is replayed."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import replay

from nowcast import pipeline
from nowcast.model.spec import Sampler
from nowcast.reweight import PARETO_K_MAX
from nowcast.store import Store
from nowcast.update import REVISION_FILE, Incoming, update

TODAY = "2026-06-30"
START = "2024-01-01"
SAMPLER = Sampler(draws=150, tune=250, chains=2, seed=3)
ELECTRICITY = "electricity_published_points.csv"


def _month(name: str, month: str, folder) -> Incoming:
    start = pd.Timestamp(f"{month}-01")
    end = start + pd.offsets.MonthEnd(0)
    path = replay.write_slice(name, folder, f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}")
    return Incoming(path, replay.source_of(name))


def _drivers(month: str, folder, coinmetrics: bool = True) -> list[Incoming]:
    names = ["usd_rub_cbr_daily.csv", "cbr_key_rate_daily.csv", "brent_monthly_eia.csv"]
    if coinmetrics:
        names.insert(0, "coinmetrics_btc_daily.csv")
    return [_month(n, month, folder) for n in names]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """A run as of mid-2025, then the releases of the following months, one update each."""
    root = tmp_path_factory.mktemp("update_replay")
    releases = root / "releases"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOWCAST_TODAY", TODAY)
        data = replay.initial_data(root / "data", "2025-06-30", cutoffs={ELECTRICITY: "2023-12-31"})
        store = root / "store"
        pipeline.run(data, store, start=START, sampler=SAMPLER, prior_draws=100)
        steps = {
            "on-chain July": [_month("coinmetrics_btc_daily.csv", "2025-07", releases)],
            "the rest of July": _drivers("2025-07", releases, coinmetrics=False),
            "August": _drivers("2025-08", releases),
            "balance of payments": [
                Incoming(
                    replay.write_slice(
                        "bop_cbr_releases_2019_2025.csv",
                        releases,
                        "2025-09-15",
                        "2025-09-15",
                        as_name="bop_release_2025-09-15.csv",
                    ),
                    "cbr_bop_releases",
                )
            ],
            "Irkutsk 2024": [
                Incoming(
                    replay.write_slice(
                        ELECTRICITY,
                        releases,
                        "2024-01-01",
                        "2024-12-31",
                        as_name="irkutsk_electricity_2024.csv",
                    ),
                    "so_ups_points",
                )
            ],
        }
        results = {}
        for name, files in steps.items():
            results[name] = update(files, store_dir=store)
        results["again"] = update(steps["Irkutsk 2024"], store_dir=store)
    return store, results


def test_each_update_records_one_nowcast_and_nothing_new_records_none(replayed):
    store, results = replayed
    with Store(store, read_only=True) as st:
        history = st.nowcasts()
    # the run, then one row per update that brought something; "again" brought nothing
    assert list(history["path"].iloc[:1]) == ["run"]
    assert len(history) == 1 + 5
    assert results["again"].status == "nothing new" and results["again"].nowcast_id is None
    recorded = [r.nowcast_id for k, r in results.items() if k != "again"]
    assert recorded == list(history["nowcast_id"].iloc[1:])


def test_on_chain_releases_take_the_fast_path(replayed):
    _, results = replayed
    for name in ("on-chain July", "the rest of July", "August"):
        r = results[name]
        assert r.path == "fast", (name, r.reason)
        assert r.pareto_k is not None and r.pareto_k <= PARETO_K_MAX


def test_a_release_waits_for_the_drivers_it_needs(replayed):
    _, results = replayed
    first = results["on-chain July"]
    assert any(w.startswith("usd_rub_mean for 2025-07") for w in first.waiting)
    # the window moved on once the ruble, oil and the key rate landed
    later = results["the rest of July"]
    assert later.waiting == [] and later.revision is not None
    assert "2025-07" in set(later.revision["target"])


def test_a_release_reweighting_cannot_absorb_is_refitted(replayed):
    _, results = replayed
    r = results["Irkutsk 2024"]
    assert r.path == "refit" and r.reason, r.pareto_k


def test_revisions_add_up_to_their_totals(replayed):
    _, results = replayed
    for name, r in results.items():
        if r.run_path is None:
            continue
        table = pd.read_csv(r.run_path / REVISION_FILE)
        assert set(table.columns) == {"target", "release", "kind", "d_median_usd", "d_width80_usd"}
        assert set(table["kind"]) <= {"new", "revised", "other", "total"}
        for target, rows in table.groupby("target"):
            total = rows[rows["release"] == "total"]
            parts = rows[rows["release"] != "total"]
            assert len(total) == 1, (name, target)
            for col in ("d_median_usd", "d_width80_usd"):
                assert abs(parts[col].sum() - total[col].iloc[0]) <= 1e-9 * max(
                    1.0, abs(total[col].iloc[0])
                ), (name, target, col)


def test_the_total_revision_is_the_change_between_recorded_nowcasts(replayed):
    store, results = replayed
    r = results["August"]
    table = pd.read_csv(r.run_path / REVISION_FILE)
    total = table[(table["release"] == "total") & (table["target"] == "2025-08")].iloc[0]
    with Store(store, read_only=True) as st:
        rows = st.estimates("2025-08").set_index("nowcast_id")
    now, before = rows.loc[r.nowcast_id], rows.loc[r.nowcast_id - 1]
    assert before["status"] == "forecast" and now["status"] == "fitted"
    assert total["d_median_usd"] == pytest.approx(now["median"] - before["median"], rel=1e-9)
    width = (now["upper_80"] - now["lower_80"]) - (before["upper_80"] - before["lower_80"])
    assert total["d_width80_usd"] == pytest.approx(width, rel=1e-9)


def test_news_names_each_release_and_separates_drivers_from_evidence(replayed):
    _, results = replayed
    table = results["August"].revision
    releases = set(table["release"])
    assert any("coinmetrics_btc_daily_2025-08.csv [drivers, new]" in x for x in releases)
    assert any("usd_rub_cbr_daily_2025-08.csv [evidence, new]" in x for x in releases)


def test_the_report_carries_the_update(replayed):
    _, results = replayed
    html = (results["August"].run_path / "report.html").read_text(encoding="utf-8")
    assert "This update and the history" in html
    assert "What moved the median of 2025-08" in html
    assert "Pareto k" in html
    assert np.isfinite(results["August"].ess) and results["August"].ess > 10
