"""The pipeline's steps on their own (``nowcast run`` itself, which fits, is in test_cli.py):
ingest, the store overview, real vs SIMULATED panels, the ragged edge by kind of evidence,
sampler options, scenarios and forecasts, run lookup."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import xarray as xr

from nowcast import pipeline
from nowcast.errors import NowcastError
from nowcast.forecast import Scenario, forecast
from nowcast.model.spec import load_spec
from nowcast.store import SIMULATED_MARKER, Store

START = "2023-01-01"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory, data_dir):
    """The bundled real data ingested once for this module."""
    store = tmp_path_factory.mktemp("pipeline") / "store"
    done = pipeline.ingest(data_dir, store)
    assert done.files == 16 and done.new_figures > 0
    return store


@pytest.fixture(scope="module")
def panel(store_dir) -> xr.Dataset:
    return pipeline.load_panel(store_dir, start=START)


def test_ingest_again_adds_nothing(store_dir, data_dir):
    again = pipeline.ingest(data_dir, store_dir)
    assert again.files == 16 and again.new_figures == 0
    assert str(again).startswith("Ingested 16 files") and ": 0 new figures" in str(again)


def test_store_overview_is_one_row_per_source(store_dir):
    overview = pipeline.store_overview(store_dir)
    with Store(store_dir, read_only=True) as st:
        full = st.summary()
    assert list(overview.columns) == ["source", "kind", "series", "last_period", "last_published"]
    assert sorted(overview["source"]) == sorted(full["source"].unique())
    assert overview["series"].sum() == len(full)
    assert (overview["kind"] == "real").all()
    assert len(overview) < len(full) / 2  # short enough to print on every run
    cm = overview.set_index("source").loc["coinmetrics"]
    expected = full.loc[full["source"] == "coinmetrics", "last_period"].max()
    assert cm["last_period"] == pd.Timestamp(expected)


def test_panel_is_real_from_the_asked_start(panel):
    assert panel.attrs["data_kind"] == "real"
    assert pd.Timestamp(panel["month"].values[0]) == pd.Timestamp(START)


def test_panel_is_simulated_when_the_store_holds_only_simulated_figures(tmp_path, data_dir):
    sim = tmp_path / "sim"
    sim.mkdir()
    (sim / SIMULATED_MARKER).write_text("simulated by tests\n")
    shutil.copy(data_dir / "coinmetrics_btc_daily.csv", sim)
    (sim / "MANIFEST.toml").write_text('[files]\n"coinmetrics_btc_daily.csv" = "coinmetrics"\n')
    store = tmp_path / "store"
    pipeline.ingest(sim, store)
    panel = pipeline.load_panel(store, start=START)
    assert panel.attrs["data_kind"] == "SIMULATED"
    overview = pipeline.store_overview(store)
    assert list(overview["kind"]) == ["SIMULATED"]


def test_panel_without_a_store_is_a_clear_error(tmp_path):
    with pytest.raises(NowcastError, match="no store"):
        pipeline.load_panel(tmp_path / "nothing")


def test_evidence_edge_by_kind(panel):
    edge = pipeline.evidence_edge(panel)
    end = pd.Timestamp(panel["month"].values[-1])
    assert list(edge.columns) == ["evidence", "figures", "last_month", "months_behind"]
    assert edge.iloc[0]["evidence"].startswith("drivers") and edge.iloc[0]["last_month"] == end
    assert (edge["last_month"] <= end).all() and (edge["figures"] > 0).all()
    behind = [(end.to_period("M") - m.to_period("M")).n for m in edge["last_month"]]
    assert list(edge["months_behind"]) == behind
    assert edge["months_behind"].max() > 0  # the real data have a ragged edge
    # one row per kind of evidence the spec's data preparation finds in the window
    assert edge["evidence"].is_unique and len(edge) >= 4


def test_sampler_settings_apply_and_validate_options():
    spec = load_spec()
    s = pipeline.sampler_settings(spec, draws=123, chains=None)
    assert s.draws == 123 and s.chains == spec.sampler.chains
    with pytest.raises(NowcastError, match="option --draws"):
        pipeline.sampler_settings(spec, draws=5)
    with pytest.raises(NowcastError, match="option --sampler"):
        pipeline.sampler_settings(spec, sampler="emcee")


def test_a_scenario_cannot_take_the_baselines_name():
    pipeline.check_scenario(None)
    pipeline.check_scenario(Scenario("btc at 60k"))
    with pytest.raises(NowcastError, match="'baseline' names the forecast without a scenario"):
        pipeline.check_scenario(Scenario("baseline", source="mine.toml"))


def test_latest_run(tmp_path):
    with pytest.raises(NowcastError, match="no fitted runs"):
        pipeline.latest_run(tmp_path)
    for name in ("20260101T000000_default_a", "20260201T000000_default_b"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "posterior.nc").write_bytes(b"")
    assert pipeline.latest_run(tmp_path).name == "20260201T000000_default_b"


def test_forecasts_use_the_runs_seed(tmp_path_factory):
    from test_report import fitted_run

    from nowcast.fit import load_run

    tree = load_run(fitted_run(tmp_path_factory))
    months = pd.date_range(
        pd.Timestamp(tree["posterior"]["month"].values[-1]) + pd.offsets.MonthBegin(1),
        periods=2,
        freq="MS",
    )
    sc = Scenario("btc at 60k", {"btc_price_usd": {m: 60000.0 for m in months}})
    out = pipeline.make_forecasts(tree, 2, sc)
    assert list(out) == ["baseline", "btc at 60k"]
    seed = int(tree.attrs["seed"])
    xr.testing.assert_identical(out["baseline"], forecast(tree, 2, seed=seed))
    assert (out["btc at 60k"]["btc_price_usd"] == 60000.0).all()
