"""``nowcast update``: new releases in, an updated nowcast out, its revision explained.

Each file is validated and stored as a new vintage (as ``ingest`` does). The releases of an
update are the store's ingests since the current nowcast (the latest one the history
records), so an update that was killed before recording its nowcast is completed by the next
one. The nowcast is then updated on the fast path (the last run's draws carried forward and
importance-weighted, ``nowcast.reweight``) or refitted when reweighting cannot stand for a fit;
the run folder gets the posterior, ``update.json`` (path, Pareto k, why), ``revision.csv``
(the news) and the report; the nowcast is recorded in the history last, so a run folder is
current only once it is complete.

One update at a time: the whole update holds the store's writer lock (other writers wait up
to ``$NOWCAST_LOCK_TIMEOUT`` seconds, then are refused with a message naming the holder).

This module runs an update (``update``); its parts live beside it: ``nowcast.update_files``
(the files taken in, the files of a run folder) and ``nowcast.update_history`` (a nowcast's
estimates and its record in the history).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import xarray as xr

from nowcast.collector import paused
from nowcast.constants import DRAW, MONTH
from nowcast.errors import NowcastError
from nowcast.files import Pending, write_atomic, write_csv
from nowcast.fit import save_posterior
from nowcast.update_files import (
    PATHS_FILE,
    REVISION_FILE,
    UPDATE_FILE,
    Incoming,
    _new_run_folder,
    _previous_meta,
    _saved_log_likelihood,
    load_paths,
    resolve_files,
    save_paths,
    validate,
)
from nowcast.update_history import (
    HEADLINE_QUANTITY,
    _previous_targets,
    history_with,
    month_draws,
    nowcast_estimates,
    nowcast_record,
    target_values,
)

if TYPE_CHECKING:
    from nowcast.sidecar import Sidecar

DEFAULT_HORIZON = 6


@dataclass
class UpdateResult:
    """What ``update`` did."""

    status: str  # "updated", "nothing new" or "refused"
    stored: list[str] = field(default_factory=list)  # files with figures new to the store
    unchanged: list[str] = field(default_factory=list)  # files the store already held
    refused: dict[str, str] = field(default_factory=dict)  # file -> why
    waiting: list[str] = field(default_factory=list)  # what the nowcast waits for
    path: str | None = None  # "fast" or "refit"
    reason: str = ""  # why the update refitted
    pareto_k: float | None = None
    ess: float | None = None
    run_path: Path | None = None
    revision: pd.DataFrame | None = None
    headline: dict[str, Any] = field(default_factory=dict)
    nowcast_id: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def explain_revision(
    news: Any,
    targets: list[Any],
    previous: dict[str, tuple[float, float]],
    current: dict[str, tuple[float, float]],
    path: str,
) -> pd.DataFrame:
    """The revision table of an update (``reweight.explain``), or, when no attribution is
    possible, the total alone with a row saying why."""
    from nowcast.reweight import explain

    label = (
        "resampling of the reweighted draws and the new forecast of later months"
        if path == "fast"
        else "refit: MCMC noise and what backward reweighting cannot separate"
    )
    if news is not None:
        return explain(news, targets, previous, current, label)
    rows = []
    for t in targets:
        if t.label not in previous or t.label not in current:
            continue
        dm = current[t.label][0] - previous[t.label][0]
        dw = current[t.label][1] - previous[t.label][1]
        rows.append(
            {
                "target": t.label,
                "release": "refit: the model's structure changed, releases cannot be separated",
                "kind": "other",
                "d_median_usd": dm,
                "d_width80_usd": dw,
            }
        )
        rows.append(
            {
                "target": t.label,
                "release": "total",
                "kind": "total",
                "d_median_usd": dm,
                "d_width80_usd": dw,
            }
        )
    return pd.DataFrame(
        rows, columns=["target", "release", "kind", "d_median_usd", "d_width80_usd"]
    )


Notify = Any


@paused()  # an update builds and compiles the new model's graphs: see nowcast.collector
def update(
    files: Sequence[str | Path | Incoming] = (),
    *,
    source: str | None = None,
    published: str | None = None,
    store_dir: str | Path | None = None,
    incoming_dir: str | Path | None = None,
    horizon: int | None = None,
    refit: bool = False,
    notify: Notify = None,
    sidecar: Sidecar | None = None,
) -> UpdateResult:
    """Store the releases in ``files`` (or, without files, every file in the incoming folder)
    and update the current nowcast with them: the fast path when reweighting can stand for a
    fit (or ``refit``), else a refit; save the run, its forecasts, ``revision.csv`` and report,
    and record the nowcast in the history. Nothing new: nothing changes. ``sidecar``: a
    second process for the work that can run beside this one (``nowcast.sidecar``; the CLI
    opens it before its imports)."""
    from nowcast.store import Store, default_store_dir

    tell = notify or (lambda _: None)
    clock: dict[str, float] = {}
    t0 = time.perf_counter()
    result = UpdateResult(status="updated")
    explicit = list(files)
    items: list[Incoming] = []
    from_incoming: dict[Path, Any] = {}
    if explicit:
        items = resolve_files(explicit, source, published)
        for item in items:  # every file is checked before any is stored
            validate(item)
    else:
        from nowcast.incoming import default_incoming_dir, mark_refused, pending
        from nowcast.sources import recognise_source

        folder = Path(incoming_dir) if incoming_dir is not None else default_incoming_dir()
        for entry in pending(folder):
            try:
                name = entry.source or recognise_source(entry.path).name
                item = Incoming(entry.path, name, getattr(entry, "published", None) or published)
                validate(item)
            except NowcastError as exc:
                mark_refused(entry, str(exc))
                result.refused[entry.path.name] = str(exc)
                continue
            items.append(item)
            from_incoming[item.path] = entry
    root = Path(store_dir) if store_dir is not None else default_store_dir()
    with Store(root, on_wait=lambda m: tell(m)) as st, st.writing():
        for item in items:
            res = st.ingest(item.path, item.source, published=item.published)
            (result.stored if res.rows_added else result.unchanged).append(item.path.name)
        clock["ingest_s"] = time.perf_counter() - t0
        current = st.current_nowcast()
        if current is None:
            raise NowcastError(
                f"no nowcast is recorded in the store {root} yet: run `nowcast run` first;"
                " the releases are stored and the first run will use them"
            )
        batch_rows, names = st.rows_since(int(current["last_ingest_id"]))
        if batch_rows.empty and not refit:
            result.status = "nothing new"
            _finish_incoming(from_incoming, "nothing new for the store")
            return result
        last_ingest = st.last_ingest_id()
        # every stored figure, for naming the file behind each change (a figure an earlier
        # update stored may enter the window only now)
        rows, files = st.rows_since(0)
        result = _update_nowcast(
            st,
            root,
            current,
            rows,
            files,
            sorted(names),
            last_ingest,
            result,
            horizon,
            refit,
            tell,
            clock,
            sidecar,
        )
    _finish_incoming(from_incoming, "stored; nowcast updated")
    result.seconds = clock
    return result


def _finish_incoming(entries: dict[Path, Any], note: str) -> None:
    if not entries:
        return
    from nowcast.incoming import mark_done

    for entry in entries.values():
        mark_done(entry, note)


def _update_nowcast(
    st: Any,
    root: Path,
    current: dict[str, Any],
    batch_rows: pd.DataFrame,
    names: dict[int, str],
    batch: list[int],
    last_ingest: int,
    result: UpdateResult,
    horizon: int | None,
    refit: bool,
    tell: Any,
    clock: dict[str, float],
    sidecar: Sidecar | None = None,
) -> UpdateResult:
    from nowcast.fit import (
        DIAGNOSTICS_FILE,
        FitResult,
        diagnose,
        fit,
        free_variables,
        load_run_groups,
        read_diagnostics,
        run_first_month,
        save_run,
    )
    from nowcast.forecast import draw_paths, forecast_from_paths
    from nowcast.model.data import prepare
    from nowcast.model.spec import Sampler, spec_of
    from nowcast.pipeline_data import load_panel
    from nowcast.reweight import (
        RefitNeeded,
        backward_news,
        carried_prior,
        fast_update,
        headline_targets,
        likelihoods_to_evaluate,
        previous_evaluator,
    )
    from nowcast.sidecar import evaluator_job

    t = time.perf_counter()
    prev_path = Path(str(current["run_path"]))
    head = load_run_groups(prev_path, ("panel",))  # the run's attributes and its panel
    spec, old_panel = spec_of(head), head["panel"]
    panel = load_panel(root, None, start=run_first_month(prev_path), spec=spec)
    # the new model's evaluator is compiled in the sidecar while this process reads the
    # previous run and carries its draws forward
    evaluator = None
    if sidecar is not None and sidecar.running and not refit:
        # only the likelihoods of the kinds of evidence the releases changed (as the fast
        # path will ask of it)
        old_data = prepare(old_panel.to_dataset(), spec)
        observed = likelihoods_to_evaluate(old_data, prepare(panel, spec), spec)
        evaluator = sidecar.submit(evaluator_job, panel, spec, observed)
    # the mining share by (region, month) is two thirds of the posterior's bytes: an update
    # evaluates it again for the new window from the carried parameters, never reads it
    prev = load_run_groups(
        prev_path, ("posterior", "sample_stats", "prior"), skip=("region_share",)
    )
    prev["panel"] = old_panel
    # what the news and the report need (matplotlib, arviz: a second) is imported here, while
    # the sidecar compiles: before, it delayed the compile's start
    from nowcast import pipeline
    from nowcast.report.elsewhere import draw_elsewhere
    from nowcast.report.updates import UpdateSection

    meta = _previous_meta(prev_path)
    prev_horizon = int(meta.get("horizon", DEFAULT_HORIZON))
    horizon = horizon or prev_horizon
    seed = int(prev.attrs.get("seed", 0))
    result.waiting = (
        panel.attrs.get("waiting_for", "").split("; ") if panel.attrs.get("waiting_for") else []
    )
    clock["panel_s"] = time.perf_counter() - t
    news = None
    diagnostics = None
    continued = None
    model = values = None
    writes: list[Pending] = []  # the new posterior, written in the background
    t = time.perf_counter()
    try:
        if refit:
            raise RefitNeeded("a refit was asked for")
        tell("fast path: carrying the last run's draws forward and reweighting them ...")
        fast = fast_update(
            prev,
            panel,
            batch_rows,
            names,
            horizon=horizon,
            seed=seed,
            batch=batch,
            saved_log_likelihood=_saved_log_likelihood(prev_path),
            saved_paths=load_paths(prev_path),
            evaluator=evaluator,
        )
        tree, news, model, values = fast.tree, fast.news, fast.model, fast.values
        continued = fast.forecast_paths if horizon <= len(fast.forecast_paths.months) else None
        result.path, result.pareto_k, result.ess = "fast", fast.pareto_k, fast.ess
        tree.attrs.update(
            update_path="fast",
            pareto_k=round(fast.pareto_k, 4),
            importance_ess=round(fast.ess, 1),
            previous_run=str(prev_path),
        )
        folder = _new_run_folder(root, tree)
        # written while the news and the report are made; waited for before recording
        writes.append(Pending(lambda: save_posterior(tree, folder)))
        # the slowest charts are drawn in the sidecar while this process explains the revision
        drawn = draw_elsewhere(tree, sidecar)
        # the draws are the last fit's, reweighted: its sampler diagnostics still describe them
        diagnostics = read_diagnostics(prev_path, spec) or diagnose(
            prev, spec, free_variables(prev)
        )
        if (prev_path / DIAGNOSTICS_FILE).exists():
            shutil.copyfile(prev_path / DIAGNOSTICS_FILE, folder / DIAGNOSTICS_FILE)
    except RefitNeeded as why:
        result.path, result.reason = "refit", why.reason
        tell(f"refitting: {why.reason} ...")
        sampler = Sampler(
            sampler=str(prev.attrs.get("sampler", spec.sampler.sampler)),
            draws=int(prev.attrs.get("draws", spec.sampler.draws)),
            tune=int(prev.attrs.get("tune", spec.sampler.tune)),
            chains=int(prev.attrs.get("chains", spec.sampler.chains)),
            target_accept=float(prev.attrs.get("target_accept", spec.sampler.target_accept)),
            adaptation=str(prev.attrs.get("adaptation", spec.sampler.adaptation)),
            seed=seed,
        )
        # the previous model's evaluator for the news is compiled in the sidecar while this
        # process compiles the sampler's model (the sidecar is idle then: a refit draws no
        # prior), and its imports for the convergence checks follow it there before the chains
        # end (measured: evaluated after the chains, it slowed the fit's derived quantities)
        old_evaluator = (
            sidecar.submit(previous_evaluator, old_panel.to_dataset(), panel, spec)
            if sidecar is not None and sidecar.running
            else None
        )
        fitted: FitResult = fit(
            panel,
            spec,
            sampler=sampler,
            prior_draws=_prior_draws(prev),
            log_densities=True,
            sidecar=sidecar,
            # the previous run's prior draws carried forward, as on the fast path: drawing
            # them again beside the sampler took 3.3 s of the CPU its chains run on
            prior_from=lambda model: carried_prior(prev, model, seed),
        )
        tree = fitted.tree
        tree.attrs.update(update_path="refit", refit_reason=why.reason, previous_run=str(prev_path))
        folder = save_run(fitted, root, writes)
        # started before the news, not after: the report waited for them (measured)
        drawn = draw_elsewhere(tree, sidecar)
        diagnostics = fitted.diagnostics
        try:
            back = backward_news(
                prev,
                tree,
                panel,
                batch_rows,
                names,
                horizon=prev_horizon,
                seed=seed,
                batch=batch,
                saved_paths=load_paths(prev_path),
                model=fitted.model,
                at_draws=fitted.values,
                evaluate=fitted.evaluate,
                old_evaluator=old_evaluator,
                data=fitted.data,
            )
            news, model, values = back.news, back.model, back.values
        except RefitNeeded:
            news, model, values = None, fitted.model, fitted.values
    clock[f"{result.path}_s"] = time.perf_counter() - t
    result.run_path = folder

    t = time.perf_counter()
    if continued is not None:
        # the previous forecast's paths carried on from the new data (common random numbers:
        # what the news attributes is then the data, not a new draw of the future)
        paths = continued.head(horizon)
    else:
        paths = draw_paths(tree, horizon, seed=seed)
    forecasts = {pipeline.BASELINE: forecast_from_paths(tree, paths, seed=seed)}
    # written beside the news and the report, as the posterior is (0.3 s here, measured)
    writes.append(Pending(lambda: save_paths(paths, folder)))
    estimates = nowcast_estimates(tree, forecasts[pipeline.BASELINE])
    last_month = pd.Timestamp(tree["posterior"][MONTH].values[-1])
    targets = headline_targets(last_month)
    previous = _previous_targets(st, int(current["nowcast_id"]), [t.label for t in targets])
    current_values = target_values(estimates)
    revision = explain_revision(news, targets, previous, current_values, result.path or "")
    write_csv(revision, folder / REVISION_FILE)
    result.revision = revision
    info = {
        "path": result.path,
        "reason": result.reason,
        "pareto_k": result.pareto_k,
        "importance_ess": result.ess,
        "horizon": horizon,
        "seed": seed,
        "previous_run": str(prev_path),
        "releases": [names[i] for i in batch if i in names],
        "waiting_for": result.waiting,
    }
    write_atomic(
        folder / UPDATE_FILE,
        lambda tmp: Path(tmp).write_text(json.dumps(info, indent=2, default=str), encoding="utf-8"),
    )
    clock["news_s"] = time.perf_counter() - t
    t = time.perf_counter()
    tell("rendering the report ...")
    ident = pipeline.identify(tree, model=model, values=values)
    pipeline.save_identification(ident, folder)
    section = UpdateSection(
        path=result.path or "refit",
        history=history_with(st, estimates, tree, result.path or "refit"),
        target=f"{last_month:%Y-%m}",
        revision=revision,
        pareto_k=result.pareto_k,
        ess=result.ess,
        reason=result.reason,
        waiting=result.waiting,
        releases=info["releases"],
    )
    pipeline.write_report(
        tree,
        folder,
        forecasts,
        identification=ident,
        diagnostics=diagnostics,
        update=section,
        drawn=drawn,
    )
    clock["report_s"] = time.perf_counter() - t
    result.headline = pipeline.headline(tree)
    for write in writes:
        write.wait()
    # recorded last: a run folder is current only once everything in it is written
    result.nowcast_id = st.record_nowcast(
        nowcast_record(
            tree,
            folder,
            estimates,
            result.path or "refit",
            last_ingest,
            pareto_k=result.pareto_k,
            ess=result.ess,
            note=result.reason,
        )
    )
    return result


def _prior_draws(tree: xr.DataTree) -> int:
    return int(tree["prior"].sizes.get(DRAW, 500)) if "prior" in tree.children else 500


__all__ = [
    "DEFAULT_HORIZON",
    "HEADLINE_QUANTITY",
    "PATHS_FILE",
    "REVISION_FILE",
    "UPDATE_FILE",
    "Incoming",
    "Notify",
    "UpdateResult",
    "explain_revision",
    "history_with",
    "load_paths",
    "month_draws",
    "nowcast_estimates",
    "nowcast_record",
    "resolve_files",
    "save_paths",
    "target_values",
    "update",
    "validate",
]
