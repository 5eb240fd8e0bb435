"""The backtest page from synthetic scores (no model is fitted): its numbers against hand
computations, its verdict in words, a self-contained page, the SIMULATED marks, empty inputs
and the CSVs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nowcast.backtest import MODEL, PERIODS, RANDOM_WALK, USD_RUB
from nowcast.report.backtest import render_backtest_report
from nowcast.report.backtest_summary import (
    SUMMARY_COLUMNS,
    covered,
    horizon_summary,
    period_summary,
    verdict_sentences,
)
from nowcast.scores import block_bootstrap_ratio

LEVELS = (50, 80, 95)
META = {
    "backtest_id": "default-abc123",
    "spec_name": "default",
    "sampler": "nuts, 4 chains x 500",
    "horizons": [1, 3],
    "data_kind": "real",
    "scored_through_ingest": 7,
}


def _usd_row(origin: pd.Timestamp, model: str, h: int, crps: float, pit: float) -> dict:
    target = origin + pd.DateOffset(months=h)
    observed = 90.0
    row = {
        "origin": origin,
        "model": model,
        "target": USD_RUB,
        "quantity": "USD/RUB, monthly mean",
        "unit": "RUB per USD",
        "region": "",
        "observer": "Bank of Russia",
        "period_start": target,
        "period_end": target + pd.offsets.MonthEnd(0),
        "published": pd.NaT,
        "horizon": h,
        "period": PERIODS[1][0] if target.year >= 2022 else PERIODS[0][0],
        "observed": observed,
        "median": observed + 1.0,
        "pit": pit,
        "crps": crps,
        "log_score": 2.0 + crps,
    }
    for k in LEVELS:
        half = k / 10
        row.update(
            {
                f"lower_{k}": observed - half,
                f"upper_{k}": observed + half,
                f"covered_{k}": abs(pit - 0.5) <= k / 200,
                f"width_{k}": 2 * half,
            }
        )
    return row


def _figure_row(origin: pd.Timestamp, pit: float, region: str = "RU") -> dict:
    row = _usd_row(origin, MODEL, 1, 0.5, pit)
    row.update(
        target="electricity_total",
        quantity="electricity consumption",
        unit="TWh",
        region=region,
        observer="Rosstat",
        period_start=origin - pd.DateOffset(months=2),
        period_end=origin - pd.DateOffset(months=2) + pd.offsets.MonthEnd(0),
        published=origin + pd.DateOffset(days=40),
        horizon=pd.NA,
    )
    return row


def _scores(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["horizon"] = pd.array(df["horizon"], dtype="Int64")
    return df


def _origins(months: list[pd.Timestamp], failed: tuple[int, ...] = ()) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin": months,
            "as_of": [m + pd.offsets.MonthEnd(0) for m in months],
            "fitted_through": [m - pd.DateOffset(months=1) for m in months],
            "seconds": 120.0,
            "compile_s": 10.0,
            "sampling_s": 100.0,
            "divergences": [3 if i in failed else 0 for i in range(len(months))],
            "max_rhat": [1.2 if i in failed else 1.005 for i in range(len(months))],
            "min_ess_bulk": 800.0,
            "diagnostics_ok": [i not in failed for i in range(len(months))],
            "problems": ["R-hat above 1.01" if i in failed else "" for i in range(len(months))],
            "worker": "host:1",
            "seed": 1,
            "fingerprint": "f",
            "scored_through_ingest": 7,
            "finished_at": pd.Timestamp("2025-01-01"),
        }
    )


MONTHS = list(pd.date_range("2021-06-01", periods=12, freq="MS"))


@pytest.fixture
def rw_wins() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Twelve origins, h = 1 and 3: the random walk's CRPS is clearly lower at both; a few
    published figures; origin 2 failed its diagnostics."""
    rng = np.random.default_rng(3)
    rows = []
    for o in MONTHS:
        for h in (1, 3):
            rows.append(_usd_row(o, MODEL, h, 3.0 + rng.uniform(0, 0.5), rng.uniform()))
            rows.append(_usd_row(o, RANDOM_WALK, h, 1.0 + rng.uniform(0, 0.5), rng.uniform()))
    rows += [_figure_row(o, p) for o, p in zip(MONTHS[:4], (0.5, 0.99, 0.3, 0.02), strict=True)]
    return _origins(MONTHS, failed=(2,)), _scores(rows)


def test_ratio_matches_hand_computation():
    """Mean CRPS ratio over origins where both are scored; an origin only one model has is
    left out of the pairing."""
    o = MONTHS[:3]
    rows = [
        _usd_row(o[0], MODEL, 1, 2.0, 0.5),
        _usd_row(o[1], MODEL, 1, 4.0, 0.5),
        _usd_row(o[2], MODEL, 1, 100.0, 0.5),  # no random walk here: not paired
        _usd_row(o[0], RANDOM_WALK, 1, 1.0, 0.5),
        _usd_row(o[1], RANDOM_WALK, 1, 3.0, 0.5),
    ]
    s = horizon_summary(_scores(rows))
    assert list(s.columns) == SUMMARY_COLUMNS
    (r,) = s.itertuples(index=False)
    assert r.horizon == 1 and r.origins == 2
    assert r.ratio == pytest.approx((2.0 + 4.0) / (1.0 + 3.0))
    lo, hi = block_bootstrap_ratio(np.array([2.0, 4.0]), np.array([1.0, 3.0]), block=3, seed=0)[1:]
    assert (r.ratio_lower, r.ratio_upper) == (pytest.approx(lo), pytest.approx(hi))
    # the means are over every row of each model, the coverage a share of rows
    assert r.crps_model == pytest.approx(106 / 3)
    assert r.crps_rw == pytest.approx(2.0)
    assert r.coverage_80_model == 1.0 and r.width_80_rw == pytest.approx(16.0)


def test_random_walk_win_is_said_plainly(rw_wins):
    origins, scores = rw_wins
    s = horizon_summary(scores)
    assert (s["ratio_lower"] > 1).all()
    lines = verdict_sentences(s, scores, origins)
    assert lines[0].startswith("The random walk forecast USD/RUB better than the model at h = 1, 3")
    assert not any("model was better" in line for line in lines)
    assert any("2 of 4 published figures fell inside" in line for line in lines)
    assert any("1 of 12 origins failed" in line for line in lines)


def test_model_win_and_single_origin():
    rows = [_usd_row(o, MODEL, 1, 1.0, 0.5) for o in MONTHS]
    rows += [_usd_row(o, RANDOM_WALK, 1, 2.0, 0.5) for o in MONTHS]
    rows += [_usd_row(MONTHS[0], m, 6, 1.0, 0.5) for m in (MODEL, RANDOM_WALK)]
    scores = _scores(rows)
    lines = verdict_sentences(horizon_summary(scores), scores, horizons=(1, 3, 6))
    text = " ".join(lines)
    assert "The model was better than the random walk at h = 1 months" in text
    assert "At h = 6 months fewer than 2 origins" in text and "cannot be computed" in text
    assert "Nothing has been scored yet at h = 3" in text
    assert "random walk forecast USD/RUB better" not in text


def test_period_summary_splits_by_period(rw_wins):
    _, scores = rw_wins
    per = period_summary(scores)
    assert list(per["period"].unique()) == [PERIODS[0][0], PERIODS[1][0]]
    assert per["origins"].sum() == 2 * len(MONTHS)


def test_coverage_from_pit_when_a_level_is_not_stored():
    df = pd.DataFrame({"pit": [0.01, 0.05, 0.5, 0.95, 0.99]})
    assert covered(df, 90).tolist() == [False, True, True, True, False]


def _html(paths) -> str:
    return Path(paths.html).read_text(encoding="utf-8")


def test_page_is_written_self_contained(rw_wins, tmp_path):
    origins, scores = rw_wins
    paths = render_backtest_report(origins, scores, META, tmp_path)
    html = _html(paths)
    assert "The random walk forecast USD/RUB better than the model" in html
    for title in (
        "USD/RUB by horizon: the model against the random walk",
        "USD/RUB by period of the target month",
        "Published figures before publication",
        "Published figures by kind",
        "Origins",
    ):
        assert f"<figcaption>{title}</figcaption>" in html
    assert html.count("<img") == 3  # ratio, PIT, coverage
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) == 3 and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not any("http" in s for s in srcs)
    assert "<link" not in html and "@import" not in html
    assert "1 of 12 origins failed their convergence diagnostics" in html
    assert "FAILED" in html
    assert "SIMULATED" not in html


def test_simulated_page_is_marked(rw_wins, tmp_path):
    origins, scores = rw_wins
    html = _html(
        render_backtest_report(origins, scores, {**META, "data_kind": "simulated"}, tmp_path)
    )
    assert 'id="simulated-banner"' in html
    assert "<title>SIMULATED: Backtest" in html
    alts = re.findall(r'<img src="[^"]*" alt="([^"]*)"', html)
    assert len(alts) == 3 and all(a.startswith("SIMULATED: ") for a in alts)


def test_empty_scores_render_with_explanation(tmp_path):
    paths = render_backtest_report(
        pd.DataFrame(columns=["origin", "fingerprint"]), pd.DataFrame(), META, tmp_path
    )
    html = _html(paths)
    assert "No USD/RUB forecast has been scored yet" in html
    assert "No published figure has been scored yet" in html
    assert "No origin has finished yet" in html
    assert "<img" not in html
    assert list(pd.read_csv(paths.summary_csv).columns) == SUMMARY_COLUMNS
    assert "crps" in pd.read_csv(paths.usd_rub_csv).columns


@pytest.mark.parametrize("keep", ["usd_rub", "figures"])
def test_one_kind_of_score_only(rw_wins, tmp_path, keep):
    origins, scores = rw_wins
    usd = scores["target"] == USD_RUB
    part = scores[usd if keep == "usd_rub" else ~usd].reset_index(drop=True)
    html = _html(render_backtest_report(origins, part, META, tmp_path))
    if keep == "usd_rub":
        assert "No published figure has been scored yet" in html
        assert html.count("<img") == 3
    else:
        assert "No USD/RUB forecast has been scored yet" in html
        assert "4 published figures fell inside" in html
        assert html.count("<img") == 2  # PIT and coverage; no ratio


def test_csvs_have_expected_columns(rw_wins, tmp_path):
    origins, scores = rw_wins
    paths = render_backtest_report(origins, scores, META, tmp_path)
    usd = pd.read_csv(paths.usd_rub_csv)
    figs = pd.read_csv(paths.figures_csv)
    summary = pd.read_csv(paths.summary_csv)
    assert list(usd.columns) == list(scores.columns)
    assert set(usd["target"]) == {USD_RUB} and len(usd) == 4 * len(MONTHS)
    assert list(figs.columns) == list(scores.columns) and len(figs) == 4
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert summary["horizon"].tolist() == [1, 3]
    assert not list(tmp_path.glob(".*.tmp"))


def test_stored_90_bounds_are_used_for_figures(rw_wins, tmp_path):
    """When the backtest stores 90% bounds, the figures' table shows them and judges inside or
    outside by them, not by the PIT."""
    origins, scores = rw_wins
    scores = scores.assign(lower_90=80.0, upper_90=100.0, covered_90=True, width_90=20.0)
    html = _html(render_backtest_report(origins, scores, META, tmp_path))
    assert "4 of 4 published figures fell inside" in html
    assert "80.00 to 100.00" in html and "not stored" not in html


def test_a_period_where_the_random_walk_won_is_said_in_the_verdict():

    rows = []
    for i, origin in enumerate(pd.date_range("2024-01-01", periods=12, freq="MS")):
        late = origin + pd.DateOffset(months=1) >= pd.Timestamp("2024-11-01")
        for model, crps in (("nowcast", 3.0 if late else 1.0), ("random_walk", 1.0 + 0.01 * i)):
            row = _usd_row(origin, model, 1, crps, 0.5)
            row["period"] = PERIODS[2][0] if late else PERIODS[1][0]
            rows.append(row)
    scores = pd.DataFrame(rows)
    sentences = verdict_sentences(horizon_summary(scores), scores)
    said = [s for s in sentences if s.startswith("By period")]
    assert said and PERIODS[2][0] in said[0] and "random walk" in said[0]
    assert not any(
        s.startswith("By period")
        for s in verdict_sentences(
            horizon_summary(scores[scores["period"] == PERIODS[1][0]]),
            scores[scores["period"] == PERIODS[1][0]],
        )
    )


NO_INFLOW = "no_ruble_inflow"


def _baseline_scores(crps_of, origins=MONTHS) -> pd.DataFrame:
    """A baseline backtest's USD/RUB rows: its model's CRPS by origin index, the random walk
    at 2.0."""
    rows = []
    for i, o in enumerate(origins):
        rows.append(_usd_row(o, MODEL, 1, crps_of(i), 0.5))
        rows.append(_usd_row(o, RANDOM_WALK, 1, 2.0, 0.5))
    return _scores(rows)


def test_the_model_against_a_baseline_matches_hand_computation():
    from nowcast.report.backtest_summary import BASELINE_COLUMNS, baseline_summary

    mine = _scores([_usd_row(o, MODEL, 1, 1.0 + i, 0.5) for i, o in enumerate(MONTHS[:4])])
    # the baseline scored one origin the model did not: left out of the pairing
    theirs = _baseline_scores(lambda i: 2.0 * (i + 1), MONTHS[:5])
    t = baseline_summary(mine, {NO_INFLOW: theirs})
    assert list(t.columns) == BASELINE_COLUMNS
    (r,) = t.itertuples(index=False)
    assert r.baseline == NO_INFLOW and r.horizon == 1 and r.origins == 4
    assert r.ratio == pytest.approx((1 + 2 + 3 + 4) / (2 + 4 + 6 + 8))
    lo, hi = block_bootstrap_ratio(
        np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0, 8.0]), block=3, seed=0
    )[1:]
    assert (r.ratio_lower, r.ratio_upper) == (pytest.approx(lo), pytest.approx(hi))
    assert r.crps_model == pytest.approx(2.5) and r.crps_baseline == pytest.approx(5.0)
    # the baseline's own ratio to the random walk, over all its origins
    assert r.baseline_ratio_rw == pytest.approx((2 + 4 + 6 + 8 + 10) / 5 / 2.0)


def test_each_horizon_of_a_baseline_is_its_own_comparison():
    from nowcast.report.backtest_summary import baseline_summary

    mine = _scores([_usd_row(o, MODEL, h, float(h), 0.5) for o in MONTHS[:4] for h in (1, 3)])
    rows = []
    for o in MONTHS[:4]:
        for h, crps in ((1, 2.0), (3, 1.0)):
            rows += [_usd_row(o, MODEL, h, crps, 0.5), _usd_row(o, RANDOM_WALK, h, 4.0, 0.5)]
    t = baseline_summary(mine, {NO_INFLOW: _scores(rows)}).set_index("horizon")
    assert t.loc[1, "ratio"] == pytest.approx(1.0 / 2.0) and t.loc[3, "ratio"] == pytest.approx(3.0)
    assert t.loc[1, "baseline_ratio_rw"] == pytest.approx(0.5)
    assert t.loc[3, "baseline_ratio_rw"] == pytest.approx(0.25)


@pytest.mark.parametrize("baseline_better", [True, False])
def test_the_page_sets_the_baseline_beside_the_model(rw_wins, tmp_path, baseline_better):
    from nowcast.report.backtest import Baseline

    origins, scores = rw_wins
    # the model's CRPS is 3.0-3.5 at h = 1 in rw_wins
    theirs = _baseline_scores(lambda i: 1.0 if baseline_better else 9.0)
    label = "default with the inflow switched off in the ruble equation"
    paths = render_backtest_report(
        origins, scores, META, tmp_path, {NO_INFLOW: Baseline(label, "no_ruble_inflow-1", theirs)}
    )
    html = _html(paths)
    assert "<figcaption>USD/RUB: the model against its baselines</figcaption>" in html
    assert label in html and "no_ruble_inflow-1" in html
    said = f"Against {NO_INFLOW} ({label})"
    assert said in html
    if baseline_better:
        assert f"{NO_INFLOW} better" in html and "the baseline was better" in html
    else:
        assert "the model better" in html
    table = pd.read_csv(paths.baselines_csv)
    assert set(table["baseline"]) == {NO_INFLOW} and set(table["horizon"]) == {1}


def test_a_page_without_baselines_says_how_to_add_them(rw_wins, tmp_path):
    origins, scores = rw_wins
    paths = render_backtest_report(origins, scores, META, tmp_path)
    assert "No baseline spec was backtested" in _html(paths)
    assert paths.baselines_csv is None
