"""The main job as Python functions, one per step, for the command line and notebooks alike:

``ingest`` (what is new in a data folder) -> ``load_panel`` (the as-of panel, real or
SIMULATED) -> ``fit_and_save`` -> ``make_forecasts`` (baseline and an optional scenario) ->
``identify`` (narrowing, sensitivity, optionally ablation) -> ``write_report``.

``run`` composes them (the panel is built once) and returns a ``RunResult``: the run folder,
the report's paths and the headline. Steps raise ``NowcastError`` for anything a user can fix;
``run`` tells a ``notify`` callback what it is doing and what each step produced, so a caller
can show progress without the pipeline printing anything.

This module holds the fit, forecast, identification and report steps and ``run``; the steps'
results live in ``nowcast.pipeline_results`` and the data steps (ingest, overview, panel) in
``nowcast.pipeline_data``.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr
from pydantic import ValidationError

from nowcast.collector import paused
from nowcast.errors import NowcastError
from nowcast.files import Pending, write_atomic, write_csv
from nowcast.fit import Diagnostics, FitResult, load_run, save_run
from nowcast.forecast import Scenario, forecast
from nowcast.model.spec import ModelSpec, Sampler, load_spec
from nowcast.pipeline_data import evidence_edge, ingest, load_panel, overview, store_overview
from nowcast.pipeline_results import (
    DataOverview,
    FitPlan,
    FittedRun,
    Identification,
    IngestSummary,
    Notify,
    RunResult,
    Step,
    _ignore,
)
from nowcast.report import ReportPaths, headline, render_report
from nowcast.report.elsewhere import DrawnElsewhere, draw_elsewhere
from nowcast.sidecar import Sidecar
from nowcast.store import Store, default_store_dir, parse_day

BASELINE = "baseline"
LOG_LIKELIHOOD_FILE = "log_likelihood.nc"


def sampler_settings(spec: ModelSpec, **overrides: object) -> Sampler:
    """The spec's sampler settings with ``overrides`` (``None`` values ignored), validated:
    a bad value is a ``NowcastError`` naming the option."""
    update = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Sampler.model_validate({**spec.sampler.model_dump(), **update})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise NowcastError(f"option --{where}: {first['msg']}") from None


def plan_fit(panel: xr.Dataset, spec: ModelSpec, sampler: Sampler | None = None) -> FitPlan:
    """What fitting ``spec`` to ``panel`` with ``sampler`` (default: the spec's) will do."""
    return FitPlan(
        spec=spec,
        sampler=sampler or spec.sampler,
        data_kind=str(panel.attrs.get("data_kind", "real")),
        as_of=str(panel.attrs.get("as_of", "")),
        months=int(panel.sizes["month"]),
    )


def fit_and_save(
    panel: xr.Dataset,
    spec: ModelSpec | None = None,
    *,
    sampler: Sampler | None = None,
    store_dir: str | Path | None = None,
    prior_draws: int = 500,
    background: bool = False,
    sidecar: Sidecar | None = None,
) -> FittedRun:
    """Fit ``spec`` (default: the default spec) to ``panel`` and save the run under
    ``<store>/runs/``. ``background``: the posterior is written while the caller goes on;
    ``FittedRun.wait()`` before anything takes the run for saved. ``sidecar``: a second
    process for the parts of the fit that can run beside it (``nowcast.sidecar``)."""
    from nowcast.fit import fit

    spec = spec or load_spec()
    result = fit(
        panel,
        spec,
        sampler=sampler,
        prior_draws=prior_draws,
        log_densities=True,
        sidecar=sidecar,
    )
    root = Path(store_dir) if store_dir is not None else default_store_dir()
    pending: list[Pending] = []
    path = save_run(result, root, pending if background else None)
    return FittedRun(result, path, tuple(pending))


def make_forecasts(
    tree: xr.DataTree,
    horizon: int = 6,
    scenario: Scenario | None = None,
    *,
    seed: int | None = None,
) -> dict[str, xr.Dataset]:
    """The baseline forecast ``horizon`` months ahead and, when given, the scenario's
    (default seed: the run's)."""
    check_scenario(scenario)
    seed = int(tree.attrs.get("seed", 0)) if seed is None else seed
    out = {BASELINE: forecast(tree, horizon, seed=seed)}
    if scenario is not None:
        out[scenario.name] = forecast(tree, horizon, scenario, seed=seed)
    return out


def check_scenario(scenario: Scenario | None) -> None:
    """Refuse a scenario whose forecast would replace the baseline's (same name)."""
    if scenario is not None and scenario.name == BASELINE:
        raise NowcastError(
            f"{scenario.source or 'scenario'}: field 'name': '{BASELINE}' names the forecast"
            " without a scenario; give the scenario another name"
        )


def identify(
    tree: xr.DataTree,
    *,
    ablation: bool = False,
    ablation_draws: int | None = None,
    model: Any = None,
    values: Any = None,
) -> Identification:
    """Narrowing and power-scaling sensitivity of the run; with ``ablation``, the annual
    inflow's interval refitted without each kind of evidence (slow: one fit per kind).
    ``model`` and ``values`` (``nowcast.fit.DrawValues`` at the posterior's draws) skip
    rebuilding and evaluating the model when a caller has them."""
    from nowcast import identify as ident

    narrow = ident.narrowing(tree)
    dense = ident.add_log_densities(tree, model, values)
    sens = ident.sensitivity(dense)
    abl = None
    if ablation:
        sampler = ident.spec_of(tree).sampler
        if ablation_draws is not None:
            sampler = sampler_settings(ident.spec_of(tree), draws=ablation_draws)
        abl = ident.ablation(tree["panel"].to_dataset(), sampler=sampler, full=tree)
    return Identification(narrow, sens, abl, dense["log_likelihood"].to_dataset())


def save_identification(result: Identification, run_path: Path) -> list[Path]:
    """``narrowing.csv``, ``sensitivity.csv`` (and ``ablation.csv``) in the run folder."""
    run_path = Path(run_path)
    paths = [
        write_csv(result.narrowing, run_path / "narrowing.csv"),
        write_csv(result.sensitivity, run_path / "sensitivity.csv"),
    ]
    if result.ablation is not None:
        paths.append(write_csv(result.ablation, run_path / "ablation.csv"))
    if result.log_likelihood is not None:
        ll = result.log_likelihood
        paths.append(
            write_atomic(
                run_path / LOG_LIKELIHOOD_FILE, lambda tmp: ll.to_netcdf(tmp, engine="h5netcdf")
            )
        )
    return paths


def write_report(
    tree: xr.DataTree,
    run_path: Path,
    forecasts: dict[str, xr.Dataset],
    *,
    identification: Identification | None = None,
    diagnostics: Diagnostics | None = None,
    update: Any = None,
    drawn: DrawnElsewhere | None = None,
) -> ReportPaths:
    """The HTML/PDF report and summaries of a run, in its folder (``update``: a
    ``nowcast.report.updates.UpdateSection``, how the nowcast was updated and the history;
    ``drawn``: charts started in the sidecar, ``nowcast.report.elsewhere.draw_elsewhere``)."""
    ident = identification
    return render_report(
        tree,
        forecasts,
        Path(run_path),
        diagnostics=diagnostics,
        narrowing_table=ident.narrowing if ident else None,
        sensitivity_table=ident.sensitivity if ident else None,
        ablation_table=ident.ablation if ident else None,
        update=update,
        drawn=drawn,
    )


def latest_run(store_dir: str | Path | None = None) -> Path:
    """The store's current nowcast's run folder (the latest the history records), or, in a
    store without a history, the newest run folder. A folder an interrupted update left
    behind is never current."""
    root = Path(store_dir) if store_dir is not None else default_store_dir()
    current = _current_run(root)
    if current is not None:
        return current
    runs = sorted((root / "runs").glob("*/posterior.nc"))
    if not runs:
        raise NowcastError(f"no fitted runs in {root / 'runs'}: run `nowcast fit` first")
    return runs[-1].parent


def _current_run(root: Path) -> Path | None:
    try:
        with Store(root, read_only=True) as st:
            current = st.current_nowcast()
    except NowcastError:  # no store, or one without tables: no history to ask
        return None
    if current is None:
        return None
    path = Path(str(current["run_path"]))
    return path if (path / "posterior.nc").exists() else None


def open_run(
    run_path: str | Path | None = None, store_dir: str | Path | None = None
) -> tuple[Path, xr.DataTree]:
    """A saved run's folder and posterior (default: the store's latest run)."""
    path = Path(run_path) if run_path is not None else latest_run(store_dir)
    folder = path.parent if path.is_file() else path
    return folder, load_run(path)  # a damaged file is a NowcastError naming it


def report_run(
    run_path: str | Path | None = None,
    *,
    store_dir: str | Path | None = None,
    horizon: int = 6,
    scenario: Scenario | None = None,
    notify: Notify = _ignore,
) -> RunResult:
    """Forecast, identify and report a saved run (default: the store's latest); the
    identification tables are saved beside the report."""
    run_path, tree = open_run(run_path, store_dir)
    return _finish(tree, run_path, horizon, scenario, None, notify)[0]


def _finish(
    tree: xr.DataTree,
    run_path: Path,
    horizon: int,
    scenario: Scenario | None,
    diagnostics: Diagnostics | None,
    notify: Notify,
    history_of: str | Path | None = None,
    fitted: FitResult | None = None,
    sidecar: Sidecar | None = None,
) -> tuple[RunResult, dict[str, xr.Dataset]]:
    # the slowest charts are drawn in the sidecar while this process forecasts and identifies
    drawn = draw_elsewhere(tree, sidecar)
    notify(Step("forecast", f"forecasting {horizon} months ahead ..."))
    forecasts = make_forecasts(tree, horizon, scenario)
    notify(Step("identify", "identification: narrowing and power-scaling sensitivity ..."))
    # a fit of this process has the log densities at its draws already
    ident = (
        identify(tree, model=fitted.model, values=fitted.values)
        if fitted is not None
        else identify(tree)
    )
    save_identification(ident, run_path)
    notify(Step("report", "rendering the report ..."))
    section = _history_section(tree, forecasts, history_of) if history_of is not None else None
    paths = write_report(
        tree,
        run_path,
        forecasts,
        identification=ident,
        diagnostics=diagnostics,
        update=section,
        drawn=drawn,
    )
    result = RunResult(
        run_path=run_path,
        report=paths,
        headline=headline(tree),
        data_kind=str(tree.attrs.get("data_kind", "real")),
        diagnostics=diagnostics,
    )
    return result, forecasts


def _history_section(
    tree: xr.DataTree, forecasts: dict[str, xr.Dataset], store_dir: str | Path
) -> Any:
    """The report's history of the latest month: the recorded nowcasts and this run."""
    from nowcast.report.updates import UpdateSection
    from nowcast.update import history_with, nowcast_estimates

    estimates = nowcast_estimates(tree, forecasts[BASELINE])
    with Store(store_dir, read_only=True) as st:
        history = history_with(st, estimates, tree, "run")
    month = f"{pd.Timestamp(tree['posterior']['month'].values[-1]):%Y-%m}"
    return UpdateSection(path="run", history=history, target=month)


def record(
    tree: xr.DataTree,
    run_path: Path,
    forecasts: dict[str, xr.Dataset],
    store_dir: str | Path | None,
    last_ingest_id: int,
    horizon: int,
) -> int:
    """Record a run as the store's current nowcast (the history ``nowcast update`` builds on),
    with the forecast settings an update needs to reproduce its forecast (``update.json``)."""
    import json

    from nowcast.forecast import draw_paths
    from nowcast.update import UPDATE_FILE, nowcast_estimates, nowcast_record, save_paths

    settings = {"path": "run", "horizon": horizon, "seed": int(tree.attrs.get("seed", 0))}
    write_atomic(
        Path(run_path) / UPDATE_FILE,
        lambda tmp: Path(tmp).write_text(json.dumps(settings, indent=2), encoding="utf-8"),
    )
    seed = int(tree.attrs.get("seed", 0))
    save_paths(draw_paths(tree, horizon, seed=seed), run_path)  # what the baseline used
    estimates = nowcast_estimates(tree, forecasts[BASELINE])
    with Store(store_dir) as st:
        return st.record_nowcast(nowcast_record(tree, run_path, estimates, "run", last_ingest_id))


def run(
    data_dir: str | Path | None = None,
    store_dir: str | Path | None = None,
    *,
    as_of: str | None = None,
    start: str | None = None,
    horizon: int = 6,
    scenario: Scenario | None = None,
    spec: ModelSpec | None = None,
    sampler: Sampler | None = None,
    prior_draws: int = 500,
    notify: Notify = _ignore,
    sidecar: Sidecar | None = None,
) -> RunResult:
    """The main job: ingest what is new in ``data_dir`` (default: the bundled real data),
    build the as-of panel once, fit ``spec`` (default: the default spec) and save the run,
    forecast the baseline (and ``scenario``), identify, and write the report and the
    identification tables into the run folder. ``notify`` receives each ``Step`` as it
    starts and each step's result (``IngestSummary``, ``DataOverview``, ``FitPlan``,
    ``FittedRun``). ``sidecar``: the second process parts of the fit run in (default: one
    opened here; a caller opens it earlier, before its own imports, to start it sooner)."""
    # bad options are refused before any work
    check_scenario(scenario)
    if horizon < 1:
        raise NowcastError(f"horizon must be at least 1 month, got {horizon}")
    for value, what in ((start, "start"), (as_of, "as-of date")):
        if value is not None:
            parse_day(value, what)
    # a sidecar opened here (when the caller gave none) starts now: its imports run beside the
    # ingest and panel; a caller's own is left open for it
    with nullcontext(sidecar) if sidecar is not None else Sidecar() as side, paused():
        spec = spec or load_spec()
        sampler = sampler or spec.sampler
        notify(Step("ingest", "ingesting ..."))
        notify(ingest(data_dir, store_dir))
        with Store(store_dir, read_only=True) as st:
            last_ingest = st.last_ingest_id()  # what this nowcast rests on, for the history
        notify(Step("panel", "building the as-of panel ..."))
        panel = load_panel(store_dir, as_of, start=start, spec=spec)
        notify(overview(panel, store_dir, spec))
        notify(plan_fit(panel, spec, sampler))
        notify(Step("fit", "sampling ..."))
        # the posterior is written while the forecasts, identification and report are made
        fitted = fit_and_save(
            panel,
            spec,
            sampler=sampler,
            store_dir=store_dir,
            prior_draws=prior_draws,
            background=True,
            sidecar=side,
        )
        notify(fitted)
        try:
            result, forecasts = _finish(
                fitted.tree,
                fitted.path,
                horizon,
                scenario,
                fitted.diagnostics,
                notify,
                history_of=(store_dir or default_store_dir()) if as_of is None else None,
                fitted=fitted.result,
                sidecar=side,
            )
        finally:
            fitted.wait()
        if as_of is None:
            # the nowcast of everything stored becomes the current one, recorded last so that a
            # run folder is current only once complete (an --as-of run is a look back, not current)
            record(fitted.tree, fitted.path, forecasts, store_dir, last_ingest, horizon)
        return result


__all__ = [
    "BASELINE",
    "LOG_LIKELIHOOD_FILE",
    "DataOverview",
    "FitPlan",
    "FittedRun",
    "Identification",
    "IngestSummary",
    "Notify",
    "RunResult",
    "Step",
    "check_scenario",
    "evidence_edge",
    "fit_and_save",
    "identify",
    "ingest",
    "latest_run",
    "load_panel",
    "make_forecasts",
    "open_run",
    "overview",
    "plan_fit",
    "record",
    "report_run",
    "run",
    "sampler_settings",
    "save_identification",
    "store_overview",
    "write_report",
]
