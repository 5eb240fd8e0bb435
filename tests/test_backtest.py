"""A small pseudo-real-time backtest of the real bundled data on a local dask cluster of two
workers: what each origin saw, what it was scored against, and that a second run resumes
instead of refitting."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from nowcast.backtest import (
    MODEL,
    RANDOM_WALK,
    USD_RUB,
    BacktestPlan,
    as_of_day,
    origin_seed,
    plan_jobs,
    run_backtest,
)
from nowcast.cli import app
from nowcast.datasets import ingest_dir
from nowcast.model.spec import Sampler
from nowcast.store import Store

# one xdist worker runs the whole file: the fixtures fit once and the last test changes the store
pytestmark = pytest.mark.xdist_group("backtest")

# three origins on two workers: one worker fits two, the second in the compiled model it kept
ORIGINS = (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01"), pd.Timestamp("2025-03-01"))
HORIZONS = (1, 2)


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def store_dir(tmp_path_factory, data_dir):
    path = tmp_path_factory.mktemp("backtest") / "store"
    with Store(path) as st:
        ingest_dir(st, data_dir)
    return path


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def plan(store_dir):
    return BacktestPlan(
        str(store_dir),
        ORIGINS[0],
        ORIGINS[-1],
        HORIZONS,
        sampler=Sampler(draws=100, tune=150, chains=2, seed=11),
    )


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def first_run(plan):
    events: list[str] = []
    run = run_backtest(plan, workers=2, notify=events.append)
    return run, events


def _monthly_mean_usd_rub(store_dir, month: pd.Timestamp, as_of=None) -> float:
    with Store(store_dir, read_only=True) as st:
        daily = st.as_of(as_of, series=["usd_rub_rub_per_usd"])
    inside = daily[daily["period_start"].dt.to_period("M") == month.to_period("M")]
    return float(inside["value"].mean())


def test_every_origin_is_fitted_on_its_as_of_view(first_run):
    run, events = first_run
    assert not run.failed, run.failed
    assert run.ran == list(ORIGINS) and run.reused == []
    assert run.data_kind == "real"
    o = run.origins.set_index("origin")
    for origin in ORIGINS:
        row = o.loc[origin]
        assert pd.Timestamp(row["as_of"]) == as_of_day(origin)
        # nothing after the origin month can be in the window
        assert pd.Timestamp(row["fitted_through"]) <= origin
        assert row["seed"] == origin_seed(origin, 11)
    assert sum("origin 2025-0" in e for e in events) == 3


def test_a_worker_compiles_the_model_once(first_run):
    run, _ = first_run
    o = run.origins
    # every origin fits in the backtest's one fixed shape: a worker's later origins swap
    # their data into the model it compiled for its first
    assert o["compile_reused"].sum() >= 1
    for _, rows in o.groupby("worker"):
        first, *later = rows.sort_values("finished_at").itertuples()
        assert not first.compile_reused
        assert all(r.compile_reused for r in later)
    reused, fresh = o[o["compile_reused"]], o[~o["compile_reused"]]
    assert reused["compile_s"].max() < 0.2 * fresh["compile_s"].min()


def test_usd_rub_is_scored_against_the_published_monthly_mean(first_run, store_dir):
    run, _ = first_run
    fx = run.scores[run.scores["target"] == USD_RUB]
    assert set(fx["model"]) == {MODEL, RANDOM_WALK}
    for origin in ORIGINS:
        for h in HORIZONS:
            target = origin + pd.DateOffset(months=h)
            rows = fx[(fx["origin"] == origin) & (fx["horizon"] == h)]
            assert len(rows) == 2, (origin, h)
            truth = _monthly_mean_usd_rub(store_dir, target)
            assert np.allclose(rows["observed"], truth, rtol=1e-9)
            assert (rows["period_start"] == target).all()
            assert ((rows["pit"] >= 0) & (rows["pit"] <= 1)).all()
            assert (rows["crps"] > 0).all()
            assert (rows["lower_80"] < rows["upper_80"]).all()
        # the random walk starts at the last monthly mean known on the origin's last day
        rw = fx[(fx["origin"] == origin) & (fx["model"] == RANDOM_WALK)]
        anchor = _monthly_mean_usd_rub(store_dir, origin, as_of_day(origin))
        assert np.allclose(rw["median"], anchor, rtol=1e-9)
        # h = 2 is wider than h = 1 for both forecasters
        for model in (MODEL, RANDOM_WALK):
            w = fx[(fx["origin"] == origin) & (fx["model"] == model)].set_index("horizon")
            assert w.loc[2, "width_80"] > w.loc[1, "width_80"]


def test_published_figures_are_those_published_after_the_origin(first_run):
    run, _ = first_run
    figs = run.scores[run.scores["target"] != USD_RUB]
    assert len(figs), "the real data hold figures published in 2025 about earlier months"
    o = run.origins.set_index("origin")
    for origin, rows in figs.groupby("origin"):
        assert (rows["published"] > as_of_day(origin)).all()
        fitted = pd.Timestamp(o.loc[origin, "fitted_through"])
        assert (rows["period_end"] <= fitted + pd.offsets.MonthEnd(0)).all()
        assert (rows["model"] == MODEL).all()
        assert rows["pit"].between(0, 1).all()


def test_a_second_run_resumes_without_refitting(first_run, plan):
    run, _ = first_run
    again = run_backtest(plan, workers=2)
    assert again.ran == [] and again.reused == list(ORIGINS)
    cols = ["origin", "model", "target", "period_start", "horizon", "crps", "pit", "observed"]
    key = ["origin", "model", "target", "period_start", "region", "observer", "period_end"]
    a = run.scores.sort_values(key).reset_index(drop=True)[cols]
    b = again.scores.sort_values(key).reset_index(drop=True)[cols]
    pd.testing.assert_frame_equal(a, b)


def test_the_command_reuses_finished_origins_and_writes_the_page(first_run, store_dir, tmp_path):
    run, _ = first_run
    out = tmp_path / "page"
    args = ["backtest", "--start", "2025-01", "--end", "2025-03", "--horizons", "1,2"]
    args += ["--draws", "100", "--tune", "150", "--chains", "2", "--seed", "11"]
    args += ["--baselines", "none"]  # the baseline's own fits: the slow test below
    result = CliRunner().invoke(app, [*args, "--store", str(store_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "0 origin(s) run, 3 reused" in result.output
    assert run.backtest_id in result.output
    html = (out / "backtest.html").read_text()
    assert "random walk" in html and "2025-03" in html
    usd = pd.read_csv(out / "backtest_usd_rub.csv")
    assert len(usd) == len(run.scores[run.scores["target"] == USD_RUB])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--start", "2025-13", "--end", "2025-12"], "--start"),
        (["--start", "2025-03", "--end", "2025-01"], "before its start"),
        (["--start", "2025-01", "--end", "2025-02", "--horizons", "0,1"], "--horizons"),
        (["--start", "2025-01", "--end", "2025-02", "--horizons", "one"], "--horizons"),
        (["--start", "2025-01", "--end", "2025-02", "--workers", "0"], "--workers"),
        (["--start", "2025-01", "--end", "2025-02", "--draws", "1"], "--draws"),
        (["--start", "2025-01", "--end", "2025-02", "--baselines", "no_such"], "no_such"),
    ],
)
def test_bad_options_are_refused_plainly(args, message, store_dir):
    result = CliRunner().invoke(app, ["backtest", *args, "--store", str(store_dir)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_an_origin_is_run_again_when_its_as_of_data_changed(first_run, plan, store_dir, tmp_path):
    run, _ = first_run
    # a backfilled figure published before the first origin's as-of day changes what that
    # origin saw; the second origin's view changes too (it sees everything the first did)
    extra = tmp_path / "backfill.csv"
    extra.write_text(
        "series,region,period_start,period_end,value,unit,published,observer,note\n"
        "electricity_consumption_mln_kwh,RU-IRK,2019-01-01,2019-12-31,60000,mln kWh,"
        "2024-12-15,test,a backfilled figure\n"
    )
    with Store(store_dir) as st:
        st.ingest(extra, "generic")
    _, _, jobs, reused = plan_jobs(plan)
    assert [j.origin for j in jobs] == list(ORIGINS) and reused == []


def test_an_error_scale_the_origin_never_saw_is_drawn_from_its_prior():
    from nowcast.backtest_origin import _Draws
    from nowcast.model.spec import load_spec

    spec = load_spec()
    post = xr.Dataset({"share_ar_rho": ("sample", np.full(4000, 0.9))})
    data = SimpleNamespace(drivers={"issuance_btc": np.ones(3)})
    q = _Draws(post, data, spec, seed=1)
    assert q["share_ar_rho"].shape == (4000, 1)
    drawn = q["estimate_log_sd"]
    p = spec.priors["estimate_log_sd"]
    assert drawn.shape == (4000, 1) and (drawn > 0).all()
    # a prior draw, not a constant: its spread is the prior's
    assert drawn.std() > 0.1 * drawn.mean()
    assert q["estimate_log_sd"] is drawn  # drawn once, the same for every kind that reads it
    with pytest.raises(KeyError):
        q["not_a_parameter"]
    assert p.dist in {"HalfNormal", "LogNormal", "Exponential", "TruncatedNormal"}


def test_later_regional_figures_are_scored_on_consumption_rebuilt_from_the_draws(
    tmp_path_factory,
):
    """A fit keeps no (unit, month) consumption; the backtest's scores of regional figures
    published after an origin read it rebuilt from the kept parameters, which must give the
    model's own predictions of the fitted figures."""
    from test_report import fitted_run

    from nowcast.backtest_origin import _Draws
    from nowcast.fit import load_run
    from nowcast.model.data import prepare
    from nowcast.model.evidence import REGISTRY
    from nowcast.model.spec import spec_of

    tree = load_run(fitted_run(tmp_path_factory))
    spec = spec_of(tree)
    post = tree["posterior"].to_dataset().stack(sample=("chain", "draw"))
    data = prepare(tree["panel"].to_dataset(), spec)
    q = _Draws(post, data, spec, seed=1)
    assert "electricity_twh" not in post
    kind = REGISTRY["electricity_yoy"]
    block = data.blocks[kind.name]
    assert block.n
    got = kind.predict(q, block, data, np)
    kept = post[kind.predicted_name].transpose("sample", ...).values
    np.testing.assert_allclose(got, kept, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "day, period",
    [
        ("2021-12-31", "before 2022"),
        ("2022-01-01", "2022 to 2024-10"),
        ("2024-10-31", "2022 to 2024-10"),
        ("2024-11-01", "from 2024-11 (legal mining)"),
        ("2016-01-15", "before 2022"),
    ],
)
def test_every_day_falls_in_one_period(day, period):
    from nowcast.backtest import period_of

    assert period_of(pd.Timestamp(day)) == period


@pytest.mark.slow
def test_the_no_inflow_baseline_is_backtested_beside_the_model(data_dir, tmp_path):
    """``nowcast backtest`` by default also backtests the model with the inflow switched off
    in the ruble equation, on the same origins, and sets the two side by side."""
    store = tmp_path / "store"
    with Store(store) as st:
        ingest_dir(st, data_dir)
    out = tmp_path / "page"
    args = ["backtest", "--start", "2025-01", "--end", "2025-03", "--horizons", "1"]
    args += ["--draws", "100", "--tune", "150", "--chains", "2", "--seed", "3", "--workers", "2"]
    result = CliRunner().invoke(app, [*args, "--store", str(store), "--out", str(out)])
    assert result.exit_code in (0, 1), result.output  # 1: an origin failed its diagnostics
    assert "no_ruble_inflow: 3 run, 0 reused" in result.output
    assert "Against no_ruble_inflow (default with the inflow switched off" in result.output
    table = pd.read_csv(out / "backtest_baselines.csv")
    (row,) = table.itertuples(index=False)
    assert row.baseline == "no_ruble_inflow" and row.origins == 3
    # a different model: its forecasts differ from the model's on the same origins
    assert row.crps_baseline != pytest.approx(row.crps_model, rel=1e-6)
    assert "USD/RUB: the model against its baselines" in (out / "backtest.html").read_text()
