"""``nowcast update`` on a replay of real releases: the bundled 2025 data cut at mid-2025,
then monthly slices of Coin Metrics, the Bank of Russia's rates and key rate and Brent, a
balance-of-payments release and Irkutsk's 2024 electricity figures (held back from the first
run), each landing as an update. Every figure is real; only when it landed is replayed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import replay
import xarray as xr

from nowcast import pipeline
from nowcast.model.spec import Sampler
from nowcast.reweight import PARETO_K_MAX
from nowcast.store import Store
from nowcast.update import REVISION_FILE, Incoming, update

# every test here reads the one replay: on one xdist worker, so it is built once
pytestmark = pytest.mark.xdist_group(name="update_replay")

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


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
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


def test_a_refit_carries_the_previous_runs_prior_draws_forward(replayed):
    """As the fast path does: the prior group of a refit holds the previous run's prior draws
    (here the window did not grow, so every free variable's draws are those), with the new
    model's derived quantities at them, and no prior predictive draws (a run's own)."""
    import json

    from nowcast.fit import FREE_VARIABLES, load_run
    from nowcast.update import UPDATE_FILE

    _, results = replayed
    r = results["Irkutsk 2024"]
    info = json.loads((r.run_path / UPDATE_FILE).read_text(encoding="utf-8"))
    new, old = load_run(r.run_path), load_run(Path(info["previous_run"]))
    assert "prior" in new.children and "prior_predictive" not in new.children
    for name in json.loads(old.attrs[FREE_VARIABLES]):
        np.testing.assert_array_equal(
            new["prior"][name].values, old["prior"][name].values, err_msg=name
        )
    # the Irkutsk figures are evidence, not drivers: the prior's inflow is the one before
    np.testing.assert_allclose(
        new["prior"]["hidden_inflow_usd"].values,
        old["prior"]["hidden_inflow_usd"].values,
        rtol=1e-9,
    )
    assert new["prior"]["hidden_inflow_usd"].std() > 0


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


def test_a_runs_files_read_directly_are_what_xarray_reads(replayed):
    # what an update reads of the previous run (nowcast.netcdf_read), on real runs of both paths
    import h5py

    from nowcast.netcdf_read import read_group

    _, results = replayed
    for name in ("August", "Irkutsk 2024"):
        folder = results[name].run_path
        for file in ("posterior.nc", "log_likelihood.nc", "forecast_paths.nc"):
            with h5py.File(folder / file, "r") as fh:
                groups = [None, *(k for k, v in fh.items() if isinstance(v, h5py.Group))]
            for group in groups:
                with xr.open_dataset(folder / file, group=group, engine="h5netcdf") as ref:
                    mine, expected = read_group(folder / file, group), ref.load()
                assert mine.identical(expected), (name, file, group)
                assert all(mine[v].dtype == expected[v].dtype for v in expected.variables)


def test_the_report_carries_the_update(replayed):
    _, results = replayed
    html = (results["August"].run_path / "report.html").read_text(encoding="utf-8")
    assert "This update and the history" in html
    assert "What moved the median of 2025-08" in html
    assert "Pareto k" in html
    assert np.isfinite(results["August"].ess) and results["August"].ess > 10


# --------------------------------------------------------------------------- kills and locks

CLI = [sys.executable, "-c", "from nowcast.cli import app; app()"]


def _copy_store(store: Path, target: Path) -> Path:
    shutil.copytree(store, target)
    return target


def _september(folder: Path, names: list[str] | None = None) -> Path:
    """An incoming folder holding September's driver releases, with a manifest naming their
    sources (a one-row Brent file could be either Brent source)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOWCAST_TODAY", TODAY)
        files = _drivers("2025-09", folder)
    lines = ["[files]"]
    for f in files:
        if names is None or f.path.name in names:
            lines.append(f'"{f.path.name}" = "{f.source}"')
        else:
            f.path.unlink()
    (folder / "MANIFEST.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _history(store: Path) -> pd.DataFrame:
    with Store(store, read_only=True) as st:
        return st.nowcasts()


def _wait_for(condition, proc: subprocess.Popen, limit: float = 600.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the update ended before the moment to kill it: {_output(proc)}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("the moment to kill the update never came")
        time.sleep(0.05)


def _start(args: list[str], log: Path) -> subprocess.Popen:
    """Start a command with its output in ``log`` (a file: an unread pipe could block it)."""
    env = {**os.environ, "NOWCAST_TODAY": TODAY}
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def _output(proc: subprocess.Popen) -> str:
    return Path(proc.log).read_text(encoding="utf-8")  # type: ignore[attr-defined]


def _stored_files(store: Path) -> set[str]:
    with Store(store, read_only=True) as st:
        return set(st.ingests()["file_name"])


def _new_runs(store: Path, before: set[Path]) -> list[Path]:
    return sorted(set((store / "runs").glob("*")) - before)


@pytest.mark.parametrize("moment", ["fit", "report"])
def test_a_killed_update_leaves_the_previous_nowcast_current_and_the_next_completes(
    replayed, tmp_path, moment
):
    store = _copy_store(replayed[0], tmp_path / "store")
    incoming = _september(tmp_path / "incoming")
    names = {p.name for p in incoming.glob("*.csv")}
    before = _history(store)
    runs_before = set((store / "runs").glob("*"))
    args = [*CLI, "update", "--incoming", str(incoming), "--store", str(store)]
    if moment == "fit":
        args.append("--refit")  # a fit to kill: the update refits after storing the files
    proc = _start(args, tmp_path / "update.log")
    if moment == "fit":
        _wait_for(lambda: names <= _stored_files(store), proc)
        time.sleep(3.0)  # the panel is built and sampling has begun
    else:
        # the fast path saves its posterior, then renders the report
        _wait_for(
            lambda: any((r / "posterior.nc").exists() for r in _new_runs(store, runs_before)),
            proc,
        )
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # the previous nowcast stays current: nothing half-written was recorded
    pd.testing.assert_frame_equal(_history(store), before)
    with Store(store, read_only=True) as st:
        assert st.current_nowcast()["nowcast_id"] == before["nowcast_id"].iloc[-1]
    # a folder the killed update left is not taken for the latest run (`nowcast report`)
    assert pipeline.latest_run(store) == Path(before["run_path"].iloc[-1])
    # the files were stored (each all or nothing) and are still waiting in the folder; the
    # next update finds them stored and completes the nowcast they belong to
    assert names <= {p.name for p in incoming.glob("*.csv")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOWCAST_TODAY", TODAY)
        done = update([], store_dir=store, incoming_dir=incoming)
    assert sorted(done.unchanged) == sorted(names) and not done.stored
    assert done.status == "updated" and done.nowcast_id == before["nowcast_id"].iloc[-1] + 1
    assert "2025-09" in set(done.revision["target"])
    assert len(_history(store)) == len(before) + 1
    assert names == {p.name for p in (incoming / "done").glob("*.csv")}


def test_a_second_update_at_once_is_refused_clearly_and_changes_nothing(replayed, tmp_path):
    store = _copy_store(replayed[0], tmp_path / "store")
    first_names = ["coinmetrics_btc_daily_2025-09.csv", "usd_rub_cbr_daily_2025-09.csv"]
    first_in = _september(tmp_path / "first", first_names)
    second_in = _september(
        tmp_path / "second", ["cbr_key_rate_daily_2025-09.csv", "brent_monthly_eia_2025-09.csv"]
    )
    before = _history(store)
    first = _start(
        [*CLI, "update", "--incoming", str(first_in), "--store", str(store)],
        tmp_path / "first.log",
    )
    lock = store / "nowcast.lock"
    _wait_for(lambda: lock.exists() and lock.stat().st_size > 0, first)
    env = {**os.environ, "NOWCAST_TODAY": TODAY, "NOWCAST_LOCK_TIMEOUT": "0.5"}
    second = subprocess.run(
        [*CLI, "update", "--incoming", str(second_in), "--store", str(store)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 2, second.stdout + second.stderr
    assert "is being written by pid" in second.stdout and "Traceback" not in second.stderr
    assert first.wait(timeout=600) == 0, _output(first)
    assert len(_history(store)) == len(before) + 1  # the first update only
    assert not (second_in / "done").exists() and not (second_in / "refused").exists()
    assert {"cbr_key_rate_daily_2025-09.csv"}.isdisjoint(_stored_files(store))


@pytest.mark.parametrize("refit", [False, True], ids=["fast", "refit"])
def test_an_update_with_the_sidecar_equals_one_without(replayed, tmp_path, refit):
    """What the sidecar computes changes nothing: on the fast path the new model's evaluator
    and two charts; on the refit path the convergence checks, the previous data's
    log-likelihood evaluator (for the news) and the same charts (the prior's draws are the
    previous run's, carried). The same path, the same posterior and the same revision, bit
    for bit."""
    from nowcast.fit import load_run
    from nowcast.sidecar import Sidecar

    store, _ = replayed
    outcomes = {}
    for name in ("alone", "with sidecar"):
        copy = _copy_store(store, tmp_path / name.replace(" ", "_"))
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("NOWCAST_TODAY", TODAY)
            files = _drivers("2025-09", tmp_path / f"releases_{name[0]}")
            if name == "alone":
                outcomes[name] = update(files, store_dir=copy, refit=refit)
            else:
                with Sidecar() as side:
                    outcomes[name] = update(files, store_dir=copy, refit=refit, sidecar=side)
                    assert side.answered == (4 if refit else 3)
    alone, with_side = outcomes["alone"], outcomes["with sidecar"]
    assert alone.path == with_side.path == ("refit" if refit else "fast")
    if refit:  # the news was computed, from the previous data's log likelihoods
        assert alone.revision["kind"].isin(["new", "revised"]).any()
    pd.testing.assert_frame_equal(alone.revision, with_side.revision)
    a, b = load_run(alone.run_path), load_run(with_side.run_path)
    for name in b["posterior"].data_vars:
        np.testing.assert_array_equal(
            a["posterior"][name].values, b["posterior"][name].values, err_msg=name
        )


def _brent_revision(folder: Path) -> Incoming:
    """August 2025's Brent, revised up by 5%: a SIMULATED revision (the bundled figure
    times 1.05), so that a driver of months the previous run saw moves."""
    path = replay.write_slice(
        "brent_monthly_eia.csv",
        folder,
        "2025-08-01",
        "2025-08-31",
        as_name="brent_revision_2025-08_SIMULATED.csv",
    )
    table = pd.read_csv(path)
    table["Price"] = table["Price"] * 1.05
    table.to_csv(path, index=False)
    return Incoming(path, replay.source_of("brent_monthly_eia.csv"))


@pytest.mark.parametrize("release", ["new month", "revised driver"])
def test_likelihoods_the_releases_left_as_they_were_are_not_evaluated_again(
    replayed, tmp_path, release
):
    """The fast path evaluates at the carried draws only the likelihoods of the kinds of
    evidence whose figures a release changed, and takes the others from the previous run,
    unless a revised driver moved their predictions (then they are evaluated too). The
    update is the one that evaluates every likelihood: the same weights, posterior and
    revision to rounding."""
    from nowcast import reweight
    from nowcast.fit import load_run
    from nowcast.pipeline import LOG_LIKELIHOOD_FILE

    store, _ = replayed
    seen: dict[str, list] = {}
    outcomes = {}
    for name in ("every likelihood", "changed only"):
        copy = _copy_store(store, tmp_path / name.replace(" ", "_"))
        folder = tmp_path / f"releases_{name[0]}"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("NOWCAST_TODAY", TODAY)
            choose, reuse = reweight.likelihoods_to_evaluate, reweight.unchanged_likelihoods

            def chosen(old, new, spec, _choose=choose, _name=name):
                names = _choose(old, new, spec)
                seen.setdefault(_name, []).append(("evaluated", names))
                if _name == "every likelihood":
                    return [f"obs_{k}" for k in new.blocks if new.blocks[k].n]
                return names

            def reused(*args, _reuse=reuse, _name=name):
                same, moved = _reuse(*args)
                seen.setdefault(_name, []).append(("reused", sorted(same), moved))
                return same, moved

            mp.setattr(reweight, "likelihoods_to_evaluate", chosen)
            mp.setattr(reweight, "unchanged_likelihoods", reused)
            files = (
                _drivers("2025-09", folder) if release == "new month" else [_brent_revision(folder)]
            )
            outcomes[name] = update(files, store_dir=copy)
    full, lean = outcomes["every likelihood"], outcomes["changed only"]
    assert full.path == lean.path == "fast"
    (_, evaluated), (_, reused_names, moved) = seen["changed only"]
    if release == "new month":  # a new figure of the ruble's monthly change; nothing moved
        assert evaluated == ["obs_usd_rub_dlog"] and moved == []
    else:  # no figure changed; Brent moved the ruble equation's predictions
        assert evaluated == [] and moved == ["obs_usd_rub_dlog"]
    assert seen["every likelihood"][1][1] == []  # nothing left to reuse
    assert lean.pareto_k == pytest.approx(full.pareto_k, abs=1e-9)
    assert lean.ess == pytest.approx(full.ess, rel=1e-9)
    a, b = load_run(full.run_path), load_run(lean.run_path)
    for var in a["posterior"].data_vars:
        np.testing.assert_allclose(
            b["posterior"][var].values, a["posterior"][var].values, rtol=1e-9, err_msg=var
        )
    ll_a = xr.open_dataset(full.run_path / LOG_LIKELIHOOD_FILE)
    ll_b = xr.open_dataset(lean.run_path / LOG_LIKELIHOOD_FILE)
    assert set(ll_a.data_vars) == set(ll_b.data_vars)
    # every other kind of evidence (six here) was taken from the previous run
    assert sorted([*reused_names, *evaluated, *moved]) == sorted(map(str, ll_a.data_vars))
    assert len(reused_names) >= 5
    for var in ll_a.data_vars:
        np.testing.assert_allclose(ll_b[var].values, ll_a[var].values, rtol=1e-9, atol=1e-9)
    numbers = ["d_median_usd", "d_width80_usd"]
    pd.testing.assert_frame_equal(
        lean.revision.drop(columns=numbers), full.revision.drop(columns=numbers)
    )
    np.testing.assert_allclose(
        lean.revision[numbers].to_numpy(), full.revision[numbers].to_numpy(), rtol=1e-6, atol=1.0
    )


@pytest.mark.parametrize("release", ["new month", "revised driver"])
def test_a_refit_evaluates_the_previous_likelihoods_the_releases_changed_only(
    replayed, tmp_path, release
):
    """After a refit, the news evaluates the previous model at the refit's draws only for the
    kinds of evidence whose figures a release changed; every other kind's previous log
    likelihood is the refit's own, unless the new model no longer predicts its figures as the
    previous one did (a revised driver): then it is evaluated too. The news is the one that
    evaluates every previous likelihood: the same players with the same log likelihoods."""
    from nowcast import reweight

    store, _ = replayed
    copy = _copy_store(store, tmp_path / "store")
    seen: dict[str, object] = {}
    original = reweight.backward_news
    observed_variables, must = reweight.observed_variables, reweight.previous_to_evaluate

    def both(prev, tree, panel, *args, **kwargs):
        lean = original(prev, tree, panel, *args, **kwargs)
        with pytest.MonkeyPatch.context() as every:
            # every kind of the previous model evaluated at the refit's draws, none reused
            every.setattr(
                reweight,
                "previous_to_evaluate",
                lambda old, new, spec: observed_variables(old, spec),
            )
            seen["full"] = original(prev, tree, panel, *args, **{**kwargs, "old_evaluator": None})
        seen["lean"] = lean
        return lean

    reproduced = reweight._reproduced

    def checked(*args, **kwargs):
        same, moved = reproduced(*args, **kwargs)
        seen.setdefault("checked", (same, moved))
        return same, moved

    def chosen(old, new, spec):
        names = must(old, new, spec)
        seen.setdefault("evaluated", names)
        return names

    folder = tmp_path / "releases"
    files = _drivers("2025-09", folder) if release == "new month" else [_brent_revision(folder)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOWCAST_TODAY", TODAY)
        mp.setattr(reweight, "backward_news", both)
        mp.setattr(reweight, "_reproduced", checked)
        mp.setattr(reweight, "previous_to_evaluate", chosen)
        result = update(files, store_dir=copy, refit=True)
    assert result.path == "refit"
    same, moved = seen["checked"]
    if release == "new month":  # a new figure of the ruble's monthly change; nothing moved
        assert seen["evaluated"] == ["obs_usd_rub_dlog"] and moved == []
    else:  # no figure changed; Brent moved the ruble equation's predictions
        assert seen["evaluated"] == [] and moved == ["obs_usd_rub_dlog"]
    assert len(same) >= 5  # the other kinds of evidence: the refit's own log likelihoods
    lean, full = seen["lean"].news, seen["full"].news
    assert [(p.label, p.role, p.kind) for p in lean.players] == [
        (p.label, p.role, p.kind) for p in full.players
    ]
    for a, b in zip(lean.players, full.players, strict=True):
        np.testing.assert_allclose(a.log_lik, b.log_lik, rtol=1e-9, atol=1e-8, err_msg=a.label)
    assert np.abs(lean.offset).max() > 0  # the releases do move the weights


def test_a_kind_of_evidence_is_unchanged_only_with_the_same_figures_on_the_same_months():
    """What decides whose likelihood an update takes from the previous run: the same values,
    periods, areas and labels (dates in any unit), and no weight on a month the update
    adds."""
    from nowcast.model.data import Block
    from nowcast.reweight_draws import _same_block

    months = pd.date_range("2025-01-01", periods=3, freq="MS")
    labels = pd.DataFrame({"series": ["a", "b"], "period_start": months[:2]})
    old = Block(np.array([1.0, 2.0]), np.eye(3)[:2], labels)
    grown = Block(old.values, np.hstack([old.weights, np.zeros((2, 1))]), labels.copy())
    assert _same_block(old, grown, 3)
    in_us = labels.assign(period_start=labels["period_start"].astype("datetime64[us]"))
    assert _same_block(old, Block(grown.values, grown.weights, in_us), 3)
    revised = Block(np.array([1.0, 2.5]), grown.weights, labels)
    assert not _same_block(old, revised, 3)
    on_new_month = grown.weights.copy()
    on_new_month[1, 3] = 0.5
    assert not _same_block(old, Block(old.values, on_new_month, labels), 3)
    relabelled = labels.assign(series=["a", "c"])
    assert not _same_block(old, Block(grown.values, grown.weights, relabelled), 3)
    more = Block(np.array([1.0, 2.0, 3.0]), np.eye(4)[:3], labels.reindex(range(3)))
    assert not _same_block(old, more, 3)
