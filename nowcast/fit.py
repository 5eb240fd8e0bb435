"""Fit a model spec to a panel: NUTS (nutpie by default), derived quantities, prior draws,
diagnostics that gate the run, and the posterior saved with its provenance.

The posterior (an arviz ``DataTree``) is the only thing forecasts and reports read. Groups:
``posterior`` (free parameters and every named quantity, ``hidden_inflow_usd`` with dim
``month``), ``sample_stats``, ``prior``, ``prior_predictive``, ``observed_data``, ``panel``
(the exact data the fit saw) and ``evidence`` (each kind's figures, periods and labels as the
model saw them, from the evidence registry). Attributes record the data vintage, spec hash,
package version, seed and sampler settings.

This module fits and diagnoses a run; its parts live beside it: ``nowcast.fit_draws`` (the
model evaluated at draws, vectorised: derived quantities, log likelihoods, log priors) and
``nowcast.fit_runs`` (a run's folder and files, saved and loaded).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from nowcast import __version__
from nowcast.compiled import CompileInfo, compile_model
from nowcast.constants import CHAIN, DRAW
from nowcast.errors import NowcastError
from nowcast.fit_draws import (
    BATCH_DRAWS,
    FORWARD_COMPILE,
    DrawValues,
    batched_function,
    compute_deterministics,
    draws_dataset,
    draws_evaluator,
    evaluate_draws,
    flat_draws,
)
from nowcast.fit_runs import (
    DIAGNOSTICS_FILE,
    FREE_VARIABLES,
    POSTERIOR_FILE,
    free_variables,
    load_run,
    load_run_groups,
    run_dir,
    run_first_month,
    save_posterior,
    save_run,
)
from nowcast.intervals import interval_summary
from nowcast.model.build import build_model
from nowcast.model.data import ModelData, prepare
from nowcast.model.frame import Frame
from nowcast.model.published import EVIDENCE_GROUP, evidence_dataset
from nowcast.model.spec import ModelSpec, Sampler

if TYPE_CHECKING:
    from nowcast.sidecar import Sidecar

# quantities whose convergence gates a run, besides every free parameter
GATED = ["hidden_inflow_usd", "hashrate_share", "mining_power_gw"]


@dataclass
class Diagnostics:
    """Convergence diagnostics against the spec's thresholds."""

    table: pd.DataFrame  # one row per variable: max R-hat, min bulk and tail ESS
    divergences: int
    bfmi: list[float]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class FitResult:
    tree: xr.DataTree
    diagnostics: Diagnostics
    model: pm.Model
    data: ModelData
    timings: dict[str, float]  # wall seconds by stage (also in the tree's attributes)
    wall: dict[str, float] = field(default_factory=dict)  # wall seconds by finer stage
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds (all threads) by stage
    compile_info: CompileInfo | None = None  # how the sampler's model was compiled
    # the log likelihoods and log prior at the posterior's draws (``fit(log_densities=True)``),
    # which identification needs: ``nowcast.identify.add_log_densities(tree, model, values)``
    values: DrawValues | None = None
    # with ``values``: their compiled evaluator (``draws_evaluator``, derived quantities and
    # log densities), for a caller that evaluates other draws of the same model
    evaluate: Callable[[dict[str, np.ndarray]], DrawValues] | None = None


class _Stages:
    """Wall and CPU seconds of consecutive stages (CPU time counts every thread of this
    process: nutpie samples in threads, so sampling's CPU time is all chains')."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - w
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c


@contextmanager
def quiet_pymc():
    """PyMC logs every variable it forward-samples at INFO; a run's output has no use for it."""
    log = logging.getLogger("pymc")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def _free_names(model: pm.Model) -> list[str]:
    return [v.name for v in model.free_RVs]


def _sample(
    model: pm.Model,
    s: Sampler,
    progress: bool,
    stage: _Stages,
    reuse: bool,
    cores: int | None = None,
) -> tuple[xr.DataTree, CompileInfo | None]:
    free = _free_names(model)
    cores = cores or min(s.chains, 2)
    if s.sampler == "nutpie":
        import nutpie

        # Only free parameters are traced: derived quantities are computed afterwards in one
        # vectorised pass, which halves nutpie's compile time (measured). The callbacks are
        # cached on disk; with ``reuse`` the compiled model is kept for refits (compiled.py).
        with stage("compile_s"):
            compiled, info = compile_model(model, free, reuse=reuse)
        with stage("sampling_s"):
            tree = nutpie.sample(
                compiled,
                draws=s.draws,
                tune=s.tune,
                chains=s.chains,
                seed=s.seed,
                target_accept=s.target_accept,
                adaptation=s.adaptation,
                progress_bar=progress,
                cores=cores,
            )
        return tree, info
    if s.sampler == "numpyro":
        import importlib.util

        if importlib.util.find_spec("numpyro") is None:
            raise NowcastError("sampler numpyro needs JAX and NumPyro: pip install -e '.[numpyro]'")
    stage.wall["compile_s"] = stage.cpu["compile_s"] = float("nan")  # inside pm.sample
    with model, stage("sampling_s"):
        tree = pm.sample(
            draws=s.draws,
            tune=s.tune,
            chains=s.chains,
            cores=cores,
            random_seed=s.seed,
            target_accept=s.target_accept,
            nuts_sampler=s.sampler,
            var_names=free,
            progressbar=progress,
            compute_convergence_checks=False,
        )
    return tree, None


def _panel_for_netcdf(panel: xr.Dataset) -> xr.Dataset:
    """Object (string) arrays become fixed-width unicode so netCDF can store them."""
    out = panel.copy()
    for name, var in list(out.variables.items()):
        if var.dtype == object:
            out[name] = var.astype(str)
    return out


def run_tree(
    posterior: xr.Dataset,
    sample_stats: xr.Dataset,
    panel: xr.Dataset,
    data: ModelData,
    prior: xr.DataTree,
) -> xr.DataTree:
    """A run's groups: the posterior, the sampler's statistics, the panel, the evidence as
    the model saw it, and the prior, prior predictive and observed data of ``prior``."""
    children = {
        "posterior": posterior,
        "sample_stats": sample_stats,
        "panel": _panel_for_netcdf(panel),
        EVIDENCE_GROUP: evidence_dataset(data),
    }
    for group in ("prior", "prior_predictive", "observed_data"):
        if group in prior.children:
            children[group] = prior[group].to_dataset()
    return xr.DataTree.from_dict({f"/{k}": v for k, v in children.items()})


@dataclass(frozen=True)
class CarriedPrior:
    """Prior draws of a model's free variables made without sampling it (an update carries
    the previous run's forward: ``nowcast.reweight_draws.carry_forward``), each array with
    the draws first, chain-major, and the chain and draw labels they take."""

    values: dict[str, np.ndarray]
    chains: np.ndarray
    draws: np.ndarray

    def tree(self, model: pm.Model, evaluate: Callable[[dict], DrawValues]) -> xr.DataTree:
        """The prior group: these draws and ``model``'s derived quantities at them
        (``evaluate``: a ``draws_evaluator`` of ``model``)."""
        arrays = {**self.values, **evaluate(self.values).deterministics}
        return xr.DataTree.from_dict(
            {"/prior": draws_dataset(model, arrays, self.chains, self.draws)}
        )


def prior_draws_of(model: pm.Model, draws: int, seed: int) -> xr.DataTree:
    """Prior and prior predictive draws of ``model`` (compiled for speed of compiling)."""
    with quiet_pymc(), warnings.catch_warnings():
        # a fixed-shape model's likelihoods are potentials (nowcast.model.frame): prior draws
        # rightly ignore them, as they ignore every likelihood
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        return pm.sample_prior_predictive(
            draws=draws, model=model, random_seed=seed, compile_kwargs=FORWARD_COMPILE
        )


def fit(
    panel: xr.Dataset,
    spec: ModelSpec,
    *,
    sampler: Sampler | None = None,
    prior_draws: int = 500,
    progress: bool = False,
    reuse: bool = False,
    cores: int | None = None,
    frame: Frame | None = None,
    log_densities: bool = False,
    sidecar: Sidecar | None = None,
    prior_from: Callable[[pm.Model], CarriedPrior | None] | None = None,
) -> FitResult:
    """Fit ``spec`` to ``panel``; ``sampler`` overrides the spec's sampler settings.

    ``reuse`` (nutpie only): keep the compiled model in this process and reuse it when the
    same spec is fitted again to data of the same shapes and availability (backtests, updates,
    repeated simulations), which skips the compile. Data then stay data in the compiled graph
    rather than constants, so the draws are not bit-identical to a fit without ``reuse``.
    ``cores``: threads the sampler runs chains on (default: two, or fewer chains); a process
    that shares the machine with other fits (a backtest worker) passes one.
    ``frame``: fit in the frame's fixed shape (``nowcast.model.frame``), so that fits of other
    as-of views in the same frame reuse this one's compiled model (implies ``reuse``); the
    run holds the panel's own months and figures, as without it.
    ``log_densities``: also evaluate the log likelihoods and log prior at the posterior's draws
    (``FitResult.values``), in the same pass as the derived quantities: identification then
    evaluates nothing again (not with ``frame``, whose likelihoods are potentials).
    ``sidecar``: a second process (``nowcast.sidecar``) draws from the prior while this one
    compiles and checks the free parameters' convergence while this one derives quantities;
    the results are the same as without it.
    ``prior_from``: given the model, prior draws of its free variables made otherwise (an
    update's refit carries the previous run's forward), or ``None``: the prior group then
    holds these with their derived quantities, and no prior predictive draws are made."""
    s = sampler or spec.sampler
    stage = _Stages()
    with stage("build_s"):
        data = prepare(panel, spec)
        where: dict[str, np.ndarray] = {}
        if frame is not None:
            fixed, where = frame.embed(data, spec)
            model = build_model(spec, fixed)
        else:
            model = build_model(spec, data)
    from nowcast import sidecar as side

    carried = prior_from(model) if prior_from is not None and frame is None else None
    prior_job = (
        sidecar.submit(side.prior_job, panel, spec, prior_draws, s.seed + 1)
        if sidecar is not None and frame is None and carried is None
        else None
    )
    tree, info = _sample(model, s, progress, stage, reuse or frame is not None, cores)
    free = _free_names(model)
    convergence = (
        sidecar.submit(side.convergence_job, tree["posterior"].to_dataset()[free], free)
        if sidecar is not None
        else None
    )

    values = None
    evaluate = None
    with stage("deterministics_s"):
        posterior = tree["posterior"].to_dataset()
        if log_densities and frame is None:
            # one pass for both: the latent states are computed once (measured: 2.1 + 2.2 s
            # as two passes)
            draws = flat_draws(posterior, free)
            evaluate = draws_evaluator(model, log_prior=True)
            values = evaluate(draws)
            derived = draws_dataset(model, values.deterministics, posterior[CHAIN], posterior[DRAW])
        else:
            derived = compute_deterministics(posterior, model)
        posterior = xr.merge([posterior, derived], compat="override", join="outer")
    with stage("prior_predictive_s"):
        if carried is not None:
            evaluate = evaluate or draws_evaluator(model, log_likelihood=False)
            prior = carried.tree(model, evaluate)
        elif prior_job is not None:
            prior = prior_job.result()
        else:
            prior = prior_draws_of(model, prior_draws, s.seed + 1)
    if frame is not None:
        posterior = Frame.cut(posterior, data, where)
        prior = xr.DataTree.from_dict(
            {f"/{g}": Frame.cut(prior[g].to_dataset(), data, where) for g in prior.children}
        )
    timings = {k: stage.wall[k] for k in ("compile_s", "sampling_s")}
    timings["postprocess_s"] = stage.wall["deterministics_s"] + stage.wall["prior_predictive_s"]

    out = run_tree(posterior, tree["sample_stats"].to_dataset(), panel, data, prior)
    out.attrs.update(
        {
            "model": spec.name,
            "spec_hash": spec.spec_hash(),
            "spec_json": json.dumps(spec.model_dump(mode="json"), sort_keys=True),
            "nowcast_version": __version__,
            "pymc_version": pm.__version__,
            "data_as_of": panel.attrs.get("as_of", ""),
            "data_kind": panel.attrs.get("data_kind", "real"),
            "data_digest": panel.attrs.get("data_digest", ""),
            "sampler": s.sampler,
            "draws": s.draws,
            "tune": s.tune,
            "chains": s.chains,
            "target_accept": s.target_accept,
            "adaptation": s.adaptation,
            "seed": s.seed,
            # recorded so that diagnostics of a saved run never need the model rebuilt
            FREE_VARIABLES: json.dumps(_free_names(model)),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **{k: round(v, 3) for k, v in timings.items()},
        }
    )
    with stage("diagnostics_s"):
        known = convergence.result() if convergence is not None else None
        diag = diagnose(out, spec, free, known=known)
    return FitResult(
        out,
        diag,
        model,
        data,
        timings,
        {**stage.wall},
        {**stage.cpu},
        info,
        values,
        evaluate if values is not None else None,  # with log densities only
    )


def diagnose(
    tree: xr.DataTree,
    spec: ModelSpec,
    free: list[str] | None = None,
    *,
    known: pd.DataFrame | None = None,
) -> Diagnostics:
    """R-hat (rank-normalised), bulk and tail ESS per variable, divergences and E-BFMI,
    checked against ``spec.thresholds``. ``known``: rows of ``convergence_table`` computed
    already (by another process, for the free parameters), which are not computed again."""
    post = tree["posterior"].to_dataset()
    free = free or free_variables(tree)
    base = [n for n in (free or list(post.data_vars)) if n in post]
    names = base + [g for g in GATED if g in post and g not in base]
    done = set(known["variable"]) if known is not None else set()
    todo = convergence_table(post, [n for n in names if n not in done])
    table = (pd.concat([known, todo]) if known is not None and len(known) else todo).set_index(
        "variable"
    )
    table = table.loc[names].reset_index()
    import arviz as az  # here: importing it takes most of a second an update does not need

    stats = tree["sample_stats"].to_dataset()
    div = int(stats["diverging"].sum()) if "diverging" in stats else 0
    bfmi = [float(b) for b in np.atleast_1d(np.asarray(_get(az.bfmi(tree), "energy")))]

    return Diagnostics(table, div, bfmi, _problems(table, div, bfmi, spec))


def convergence_table(posterior: xr.Dataset, names: list[str]) -> pd.DataFrame:
    """One row per variable of ``names``: its size, largest R-hat (rank-normalised) and
    smallest bulk and tail ESS over its elements."""
    columns = ["variable", "size", "max_rhat", "min_ess_bulk", "min_ess_tail"]
    if not names:
        return pd.DataFrame(columns=columns)
    import arviz as az

    ds = posterior[names]
    # an element that never moves (a comparison region's share of mining, 0 in every draw) has
    # no R-hat or ESS: NaN, which the minima and maxima below skip
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = az.rhat(ds)
        ess_b = az.ess(ds, method="bulk")
        ess_t = az.ess(ds, method="tail")

    def _min(d: xr.Dataset, n: str) -> float:
        return float(np.nanmin(np.asarray(_get(d, n))))

    def _max(d: xr.Dataset, n: str) -> float:
        return float(np.nanmax(np.asarray(_get(d, n))))

    return pd.DataFrame(
        [
            {
                "variable": n,
                "size": int(np.prod(ds[n].shape[2:])),
                "max_rhat": _max(rhat, n),
                "min_ess_bulk": _min(ess_b, n),
                "min_ess_tail": _min(ess_t, n),
            }
            for n in names
        ],
        columns=columns,
    )


def _problems(table: pd.DataFrame, div: int, bfmi: list[float], spec: ModelSpec) -> list[str]:
    th = spec.thresholds
    problems = []
    bad = table[table.max_rhat > th.max_rhat]
    if len(bad):
        problems.append(f"R-hat above {th.max_rhat} for {', '.join(bad.variable)}")
    bad = table[table.min_ess_bulk < th.min_ess_bulk]
    if len(bad):
        problems.append(f"bulk ESS below {th.min_ess_bulk:g} for {', '.join(bad.variable)}")
    bad = table[table.min_ess_tail < th.min_ess_tail]
    if len(bad):
        problems.append(f"tail ESS below {th.min_ess_tail:g} for {', '.join(bad.variable)}")
    if div > th.max_divergences:
        problems.append(f"{div} divergent transitions (allowed {th.max_divergences})")
    low = [round(b, 2) for b in bfmi if b < th.min_bfmi]
    if low:
        problems.append(f"E-BFMI below {th.min_bfmi} in {len(low)} chain(s): {low}")
    return problems


def read_diagnostics(run_path: str | Path, spec: ModelSpec) -> Diagnostics | None:
    """The diagnostics a run folder recorded (``diagnostics.csv``), checked against ``spec``;
    ``None`` when it has none. A run made by reweighting another carries the diagnostics of
    the fit whose draws it reweighted (its own resampled draws have no chains to check)."""
    path = Path(run_path) / DIAGNOSTICS_FILE
    try:
        raw = pd.read_csv(path)
    except (OSError, ValueError):
        return None
    needed = {"variable", "size", "max_rhat", "min_ess_bulk", "min_ess_tail", "divergences"}
    if not needed <= set(raw.columns) or raw.empty:
        return None
    div = int(raw["divergences"].iloc[0])
    bfmi = [float(raw["min_bfmi"].iloc[0])] if "min_bfmi" in raw else []
    bfmi = [b for b in bfmi if np.isfinite(b)]
    table = raw[["variable", "size", "max_rhat", "min_ess_bulk", "min_ess_tail"]]
    return Diagnostics(table, div, bfmi, _problems(table, div, bfmi, spec))


def _get(ds: xr.DataTree | xr.Dataset, name: str) -> xr.DataArray:
    if isinstance(ds, xr.DataTree):
        ds = ds.to_dataset() if name in ds.to_dataset() else ds["posterior"].to_dataset()
    return ds[name]


def inflow_summary(tree: xr.DataTree) -> pd.DataFrame:
    """Posterior mean, median and 50/80/90/95% equal-tailed intervals of the hidden inflow
    (USD per month), by month: ``nowcast.intervals.interval_summary``'s columns."""
    return interval_summary(tree["posterior"]["hidden_inflow_usd"], (CHAIN, DRAW))


__all__ = [
    "BATCH_DRAWS",
    "CarriedPrior",
    "DIAGNOSTICS_FILE",
    "FORWARD_COMPILE",
    "FREE_VARIABLES",
    "GATED",
    "POSTERIOR_FILE",
    "Diagnostics",
    "DrawValues",
    "FitResult",
    "batched_function",
    "compute_deterministics",
    "diagnose",
    "draws_dataset",
    "draws_evaluator",
    "evaluate_draws",
    "fit",
    "flat_draws",
    "free_variables",
    "inflow_summary",
    "load_run",
    "load_run_groups",
    "prior_draws_of",
    "quiet_pymc",
    "read_diagnostics",
    "run_dir",
    "run_first_month",
    "run_tree",
    "save_posterior",
    "save_run",
]
