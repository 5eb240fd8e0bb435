"""Updating a nowcast as data lands: the previous posterior carried into the new data by
importance weights, and the revision of the headline explained release by release.

**Carrying forward** (``carry_forward``). The last run's draws are draws of the same model on
fewer months. Each draw is pushed through the model's own transitions for the months the new
data add (the share's AR(1) with the innovations its forecast used, a new year's effect from
its prior), so the carried draws come from the prior of the extended model given the old data.
The new model (built by the same code on the new panel) then gives every derived quantity and
the log likelihood of every observation at those draws, and the old model the same at the old
draws (a kind of evidence whose figures and prediction the releases left as they were keeps
the previous run's: ``reweight_draws.unchanged_likelihoods``). Their difference, summed, is
each draw's log importance weight: it adds the new
figures, swaps revised figures for their new values and takes out figures that left the
model. The weights are Pareto-smoothed (arviz's PSIS); with k at most ``PARETO_K_MAX`` the
reweighted draws are the new posterior, saved as a systematic resample so every downstream
tool reads it like a fit. A change of the model's structure (another spec, a new region, a
share run split by a new CBECI month) is detected, never guessed: the update then refits.

**News** (``explain``). The revision of each headline target (the latest month's inflow and
the current quarter's) is split between the releases of the batch by their exact Shapley
values: for any subset of releases the target is computed from the drivers of the releases in
the subset (forecast paths for the others) and the draws weighted by the likelihood of the
subset's observations, each release's log likelihood computed once per draw. The parts add up
to the total whatever the order. What reweighting cannot assign (resampling noise; after a
refit, the difference between two MCMC runs) is a row of its own, so the rows still add up to
the change between the two recorded nowcasts.

This module holds the update's two paths, the fast path (``fast_update``) and the news after a
refit (``backward_news``); their parts live beside it: ``nowcast.reweight_draws`` (the draws
carried forward, their importance weights and resampling) and ``nowcast.reweight_news`` (the
releases of a batch, exact Shapley values and the revision table).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from nowcast.constants import CHAIN, DRAW, MONTH
from nowcast.fit import CarriedPrior, DrawValues, flat_draws
from nowcast.forecast import ForecastPaths, push_forward, stacked_posterior
from nowcast.model.data import ModelData
from nowcast.model.evidence import REGISTRY
from nowcast.model.spec import ModelSpec
from nowcast.reweight_draws import (
    FLAT_LOG_RATIO,
    SHARE_INNOVATIONS,
    RefitNeeded,
    _free_names,
    carry_forward,
    check_same_draws,
    effective_sample_size,
    free_shapes,
    kept_predictions,
    likelihoods_to_evaluate,
    normalised,
    ordered_resample,
    posterior_draws,
    psis,
    systematic_resample,
    unchanged_likelihoods,
    weighted_quantile,
)
from nowcast.reweight_news import (
    FORECAST_DRIVER,
    MAX_PLAYERS,
    NewsInputs,
    Release,
    Target,
    explain,
    headline_targets,
    paths_for,
    releases,
    shapley,
    summary,
)

PARETO_K_MAX = 0.7


def forward_month_draws(
    prev: xr.DataTree,
    paths: ForecastPaths,
    players: list[Release],
    legalisation: str,
    carried_inflow: dict[pd.Timestamp, np.ndarray],
    months_needed: pd.DatetimeIndex,
) -> Callable[[frozenset[int]], dict[pd.Timestamp, np.ndarray]]:
    """``NewsInputs.month_draws`` for the fast path: past months from the previous posterior
    (or, where a release in the set revised their drivers, the carried draws' new values),
    later months pushed forward from the previous draws under the set's drivers."""
    post = stacked_posterior(prev)
    panel = prev["panel"].to_dataset()
    old_inflow = posterior_draws(prev, ["hidden_inflow_usd"])["hidden_inflow_usd"]
    old_months = pd.DatetimeIndex(prev["posterior"][MONTH].values)

    def month_draws(members: frozenset[int]) -> dict[pd.Timestamp, np.ndarray]:
        revised = {m for i in members for m in players[i].revised_months}
        out: dict[pd.Timestamp, np.ndarray] = {}
        ahead = [m for m in months_needed if m not in old_months]
        if ahead:
            horizon = paths.months.get_loc(max(ahead)) + 1
            pushed = push_forward(
                post, panel, paths_for(paths, players, members).head(horizon), legalisation
            )["hidden_inflow_usd_bn"]
            for m in ahead:
                out[m] = pushed[:, paths.months.get_loc(m)] * 1e9
        for m in months_needed:
            if m in old_months:
                if m in revised and m in carried_inflow:
                    out[m] = carried_inflow[m]
                else:
                    out[m] = old_inflow[:, old_months.get_loc(m)]
        return out

    return month_draws


# --------------------------------------------------------------------------- the fast path


@dataclass
class FastUpdate:
    """The previous posterior carried into the new data and reweighted."""

    tree: xr.DataTree  # the new posterior: a systematic resample of the weighted draws
    pareto_k: float
    ess: float  # effective sample size of the smoothed weights
    players: list[Release]
    news: NewsInputs
    new_months: pd.DatetimeIndex
    # the previous forecast's paths for the months after the new window, started from the
    # new data and reordered like the resampled draws: the updated forecast continues them
    forecast_paths: ForecastPaths
    model: pm.Model  # the new model (its dims name the log likelihood's)
    values: DrawValues  # log densities at the new posterior's draws, for identification


def extended_paths(
    prev: xr.DataTree,
    months_ahead: int,
    horizon: int,
    seed: int,
    saved: ForecastPaths | None = None,
) -> ForecastPaths:
    """The paths of the previous nowcast's forecast (``saved``, the run's
    ``forecast_paths.nc``; else drawn again from its seed, which reproduces a forecast made by
    ``forecast``), continued to ``months_ahead`` months when the update needs more."""
    from nowcast.forecast import draw_paths

    n_months = max(horizon, months_ahead, 1)
    n_draws = prev["posterior"].sizes[CHAIN] * prev["posterior"].sizes[DRAW]
    fresh = draw_paths(prev, n_months, seed=seed)
    if saved is None or saved.share_innovations.shape[0] != n_draws:
        return fresh
    if not saved.months[:1].equals(fresh.months[:1]):
        return fresh
    return saved.extended_by(fresh)


def old_log_likelihood(
    prev: xr.DataTree, saved: xr.Dataset | None = None
) -> tuple[ModelData, dict[str, np.ndarray]]:
    """The previous run's model data and the log likelihood of each of its observations at
    each of its draws: ``saved`` (the run's ``log_likelihood.nc``) when given and complete,
    else the previous model rebuilt and evaluated."""
    from nowcast.fit import evaluate_draws
    from nowcast.model.build import build_model
    from nowcast.model.data import prepare
    from nowcast.model.spec import spec_of

    spec = spec_of(prev)
    data = prepare(prev["panel"].to_dataset(), spec)
    expected = {
        REGISTRY[k].observed_name
        for k, b in data.blocks.items()
        if b.n and spec.uses(REGISTRY[k].switch)
    }
    post = prev["posterior"]
    if (
        saved is not None
        and set(map(str, saved.data_vars)) == expected
        and saved.sizes.get(CHAIN) == post.sizes[CHAIN]
        and saved.sizes.get(DRAW) == post.sizes[DRAW]
    ):
        return data, flat_draws(saved)
    model = build_model(spec, data)
    _, ll_old = evaluate_draws(model, posterior_draws(prev, _free_names(prev)))
    return data, ll_old


def fast_update(
    prev: xr.DataTree,
    panel: xr.Dataset,
    batch_rows: pd.DataFrame,
    files: dict[int, str],
    *,
    horizon: int,
    seed: int,
    batch: Sequence[int] | None = None,
    saved_log_likelihood: xr.Dataset | None = None,
    saved_paths: ForecastPaths | None = None,
    evaluator: Any = None,
) -> FastUpdate:
    """Carry ``prev`` into ``panel`` (the new data, same spec) and reweight its draws by the
    likelihood of what changed. Raises ``RefitNeeded`` when that cannot stand for a fit:
    another model structure, or Pareto k above ``PARETO_K_MAX``. ``evaluator``: a
    ``nowcast.sidecar.Job`` compiling the new model's evaluator elsewhere
    (``nowcast.sidecar.evaluator_job``), which is then not compiled here."""
    from nowcast.fit import draws_dataset, draws_evaluator, run_tree
    from nowcast.model.build import build_model
    from nowcast.model.data import prepare
    from nowcast.model.spec import spec_of

    spec = spec_of(prev)
    data_new = prepare(panel, spec)
    old_months = pd.DatetimeIndex(prev["posterior"][MONTH].values)
    if len(data_new.months) < len(old_months) or data_new.months[0] != old_months[0]:
        raise RefitNeeded(
            f"the window moved ({data_new.months[0]:%Y-%m} to {data_new.months[-1]:%Y-%m},"
            f" was {old_months[0]:%Y-%m} to {old_months[-1]:%Y-%m})"
        )
    new_months = data_new.months[len(old_months) :]
    model = build_model(spec, data_new)
    needed = max(
        _months_after(old_months[-1], t.months[-1]) for t in headline_targets(data_new.months[-1])
    )
    paths = extended_paths(prev, max(needed, len(new_months) + horizon), horizon, seed, saved_paths)
    # the new data make this graph new: kept on disk it would never be read again. The
    # draws are carried while the sidecar compiles it
    data_old, ll_old = old_log_likelihood(prev, saved_log_likelihood)
    evaluated = likelihoods_to_evaluate(data_old, data_new, spec)
    evaluate = draws_evaluator(
        model,
        log_likelihood=evaluated,
        log_prior=True,
        cache=False,
        pending=evaluator.result if evaluator is not None else None,
    )
    rng = np.random.default_rng(seed + 7)
    shapes = free_shapes(model)  # once for the posterior's draws and the prior's
    carried = carry_forward(prev, model, new_months, paths.share_innovations, rng, shapes=shapes)
    at_draws = evaluate(carried)
    dets = at_draws.deterministics
    check_same_draws(prev, dets, data_new.months)
    observed = [v.name for v in model.observed_RVs]
    same, moved = unchanged_likelihoods(prev, dets, ll_old, evaluated, observed)
    if moved:  # a revised driver moved these kinds' predictions: evaluated here
        more = draws_evaluator(model, deterministics=False, log_likelihood=moved, cache=False)
        same.update(more(carried).log_likelihood)
    ll_new = {name: at_draws.log_likelihood.get(name, same.get(name)) for name in observed}
    players = releases(data_old, data_new, ll_old, ll_new, batch_rows, files, batch)
    log_ratio = (
        np.sum([p.log_lik for p in players], axis=0)
        if players
        else np.zeros(len(next(iter(carried.values()))))
    )
    log_w, k = psis(log_ratio)
    if not k <= PARETO_K_MAX:
        raise RefitNeeded(f"Pareto k = {k:.2f} > {PARETO_K_MAX}: reweighting cannot absorb it")
    weights = normalised(log_w)
    idx = ordered_resample(weights, dets["hidden_inflow_usd"][:, -1], seed)

    post_old = prev["posterior"]
    arrays = {name: arr[idx] for name, arr in {**carried, **dets}.items()}
    posterior = draws_dataset(model, arrays, post_old[CHAIN].values, post_old[DRAW].values)
    # the prior's draws carried the same way are prior draws of the new model: one compile
    prior_free = carry_forward(
        prev,
        model,
        new_months,
        rng.standard_normal((_draws_in(prev, "prior"), len(new_months))),
        rng,
        group="prior",
        shapes=shapes,
    )
    prior_old = prev["prior"]
    prior = CarriedPrior(prior_free, prior_old[CHAIN].values, prior_old[DRAW].values).tree(
        model, evaluate
    )
    tree = run_tree(posterior, prev["sample_stats"].to_dataset(), panel, data_new, prior)
    tree.attrs.update(prev.attrs)
    carried_inflow = {m: dets["hidden_inflow_usd"][:, j] for j, m in enumerate(data_new.months)}
    months_needed = pd.DatetimeIndex(
        sorted({m for t in headline_targets(data_new.months[-1]) for m in t.months})
    )
    news = NewsInputs(
        players=players,
        month_draws=forward_month_draws(
            prev, paths, players, spec.legalisation, carried_inflow, months_needed
        ),
    )
    everything = paths_for(paths, players, frozenset(range(len(players))))
    ahead = everything.months_after(len(new_months), idx).head(horizon)
    resampled = DrawValues(
        {k: arrays[k] for k in dets},  # the posterior's own arrays: not copied again
        {k: v[idx] for k, v in ll_new.items()},
        at_draws.log_prior[idx],
    )
    return FastUpdate(
        tree, k, effective_sample_size(weights), players, news, new_months, ahead, model, resampled
    )


def carried_prior(prev: xr.DataTree, model: pm.Model, seed: int) -> CarriedPrior | None:
    """The previous run's prior draws carried into ``model`` (a refit's, on a window that
    grew by new months), as the fast path carries them: prior draws of the new model, the
    new months' innovations drawn from their prior. ``None`` when they cannot be carried (no
    prior kept, the window moved, the model's structure changed)."""
    if "prior" not in prev.children or MONTH not in model.coords:
        return None
    old_months = pd.DatetimeIndex(prev["posterior"][MONTH].values)
    months = pd.DatetimeIndex(model.coords[MONTH])
    if len(months) < len(old_months) or not months[: len(old_months)].equals(old_months):
        return None
    new_months = months[len(old_months) :]
    rng = np.random.default_rng(seed + 13)
    n = _draws_in(prev, "prior")
    try:
        values = carry_forward(
            prev, model, new_months, rng.standard_normal((n, len(new_months))), rng, group="prior"
        )
    except RefitNeeded:
        return None
    return CarriedPrior(values, prev["prior"][CHAIN].values, prev["prior"][DRAW].values)


def _draws_in(tree: xr.DataTree, group: str) -> int:
    return int(tree[group].sizes[CHAIN] * tree[group].sizes[DRAW])


def _months_after(last: pd.Timestamp, month: pd.Timestamp) -> int:
    return (pd.Timestamp(month).to_period("M") - pd.Timestamp(last).to_period("M")).n


# --------------------------------------------------------------------------- after a refit


def retracted_draws(
    tree: xr.DataTree, prev: xr.DataTree, spec: ModelSpec
) -> dict[str, np.ndarray] | None:
    """The draws of a refit (``tree``, its posterior holding at least the free variables of
    the model of ``spec``) as draws of the previous run's model, which the news evaluates the
    previous data at; ``None`` when the two models do not correspond (then there is no
    news)."""
    from nowcast.model.spec import spec_of

    if spec.spec_hash() != spec_of(prev).spec_hash():
        return None
    post = tree["posterior"]
    return _retract(posterior_draws(tree, [n for n in _free_names(prev) if n in post]), prev)


def previous_log_likelihood(
    data: ModelData,
    spec: ModelSpec,
    values: dict[str, np.ndarray],
    observed: Sequence[str] | bool = True,
    function: Any = None,
) -> dict[str, np.ndarray]:
    """The elementwise log likelihood of the ``observed`` variables (default: every one)
    under the model of ``spec`` on the previous run's ``data`` (its panel prepared), at the
    draws ``values`` of its free variables (a refit's draws, ``retracted_draws``).
    ``function``: its evaluator compiled elsewhere for the same ``observed``
    (``previous_evaluator``). A graph of old data is evaluated once: not kept on disk."""
    from nowcast.fit import draws_evaluator
    from nowcast.model.build import build_model

    model = build_model(spec, data)
    evaluate = draws_evaluator(
        model, deterministics=False, log_likelihood=observed, cache=False, function=function
    )
    return evaluate(values).log_likelihood


def previous_evaluator(
    old_panel: xr.Dataset, panel: xr.Dataset, spec: ModelSpec
) -> tuple[list[str], Any]:
    """The previous model's observed variables the news after a refit evaluates
    (``previous_to_evaluate``) and the compiled function ``previous_log_likelihood``
    evaluates them with (``None`` when there are none), ready to be sent: a refit compiles it
    in the sidecar (``nowcast.sidecar``) while this process starts the fit."""
    from nowcast.fit_draws import evaluator_function
    from nowcast.model.build import build_model
    from nowcast.model.data import prepare

    data_old = prepare(old_panel, spec)
    names = previous_to_evaluate(data_old, prepare(panel, spec), spec)
    if not names:
        return names, None
    model = build_model(spec, data_old)
    return names, evaluator_function(model, deterministics=False, log_likelihood=names, cache=False)


def observed_variables(data: ModelData, spec: ModelSpec) -> list[str]:
    """The observed variables of the model of ``spec`` on ``data`` (one per kind of evidence
    the spec uses with figures in ``data``, ``nowcast.model.build``)."""
    from nowcast.model.build import used_kinds

    return [kind.observed_name for kind, block in used_kinds(spec, data) if block.mask is None]


def previous_to_evaluate(old: ModelData, new: ModelData, spec: ModelSpec) -> list[str]:
    """The previous model's observed variables whose log likelihood the news after a refit
    must evaluate at the refit's draws: those of every kind of evidence with a figure new,
    revised or gone (``likelihoods_to_evaluate``), and kinds the new model no longer
    observes. Every other kind's figures are the same, and so is its log likelihood wherever
    the new model predicts them as the previous one did (``backward_news`` checks it)."""
    changed = set(likelihoods_to_evaluate(old, new, spec))
    now = set(observed_variables(new, spec))
    return [o for o in observed_variables(old, spec) if o in changed or o not in now]


# of the previous run's draws, how many carried forward check that the new model predicts
# unchanged figures as the previous one did (a structural identity: any draw shows a break)
CHECK_DRAWS = 64


def _reproduced(
    prev: xr.DataTree,
    model: pm.Model,
    evaluate: Callable[[dict[str, np.ndarray]], DrawValues],
    new_months: pd.DatetimeIndex,
    observed: Sequence[str],
    seed: int,
) -> tuple[list[str], list[str]]:
    """Of the ``observed`` variables (kinds whose figures are unchanged), those the new
    ``model`` predicts as the previous run's did at ``CHECK_DRAWS`` of its draws carried
    forward (``kept_predictions``), and the others. A kind predicted the same way has the
    same log likelihood at a refit's draw under either model: the previous model at the draw
    retracted, the new one at the draw itself."""
    if not observed:
        return [], []
    n = _draws_in(prev, "posterior")
    picked = np.unique(np.linspace(0, n - 1, min(CHECK_DRAWS, n)).astype(int))
    rng = np.random.default_rng(seed + 17)
    innovations = rng.standard_normal((len(picked), len(new_months)))
    try:
        carried = carry_forward(prev, model, new_months, innovations, rng, draws=picked)
    except RefitNeeded:
        return [], list(observed)
    return kept_predictions(prev, evaluate(carried).deterministics, observed, draws=picked)


def _retract(values: dict[str, np.ndarray], prev: xr.DataTree) -> dict[str, np.ndarray] | None:
    """Draws of the new model's free variables as draws of the previous model's: the inverse
    of ``carry_forward`` (grown innovations and effects cut back). ``None`` when the two
    models' free variables do not correspond."""
    old = prev["posterior"].to_dataset()
    out = {}
    for name in _free_names(prev):
        if name not in values:
            return None
        arr = values[name]
        shape = old[name].shape[2:]
        if arr.shape[1:] == shape:
            out[name] = arr
        elif arr.ndim >= 2 and arr.shape[2:] == shape[1:] and arr.shape[1] > shape[0]:
            out[name] = arr[:, : shape[0]]
        else:
            return None
    return out


@dataclass
class Backward:
    """After a refit: the news (``None`` when the models do not correspond) and the new
    model's log densities at the refitted draws, which identification reuses."""

    news: NewsInputs | None
    model: pm.Model
    values: DrawValues


def backward_news(
    prev: xr.DataTree,
    tree: xr.DataTree,
    panel: xr.Dataset,
    batch_rows: pd.DataFrame,
    files: dict[int, str],
    *,
    horizon: int,
    seed: int,
    batch: Sequence[int] | None = None,
    saved_paths: ForecastPaths | None = None,
    model: pm.Model | None = None,
    at_draws: DrawValues | None = None,
    evaluate: Callable[[dict[str, np.ndarray]], DrawValues] | None = None,
    old_evaluator: Any = None,
    data: ModelData | None = None,
) -> Backward:
    """News after a refit: the new posterior reweighted backwards (each coalition's weights
    remove the likelihood of the releases outside it), the drivers of releases outside a
    coalition replaced by the previous forecast's paths. No news when the refitted model's
    structure no longer corresponds to the previous one's. ``model`` and ``at_draws``: the
    refit's model and its log densities at the posterior's draws (``fit(log_densities=True)``),
    which are then not built and evaluated again; ``evaluate``: the refit's
    ``draws_evaluator`` (its compiled function is then reused). ``old_evaluator``: a
    ``nowcast.sidecar.Job`` compiling ``previous_evaluator`` elsewhere (then not compiled
    here). ``data``: ``panel`` prepared (the refit's ``FitResult.data``).

    The previous model's log likelihood at the refit's draws is evaluated only for kinds of
    evidence the releases changed: every other kind's figures are the same, and where the new
    model predicts them as the previous one did (checked at the previous run's draws carried
    forward) its log likelihood is the refit's own (measured on December's refit: the old
    data's whole evaluation took 1.7 s alone and 2.9 s beside the fit's derived quantities,
    which it slowed; its compile now runs in the sidecar beside the sampler's)."""
    from nowcast.fit import draws_evaluator
    from nowcast.model.build import build_model
    from nowcast.model.data import prepare
    from nowcast.model.spec import spec_of

    spec = spec_of(tree)
    data_new = data if data is not None else prepare(panel, spec)
    model_new = model if model is not None else build_model(spec, data_new)
    free = [rv.name for rv in model_new.free_RVs]
    values = posterior_draws(tree, free)
    if evaluate is None:
        # graphs of new data are never evaluated again: not kept on disk
        evaluate = draws_evaluator(model_new, log_prior=True, cache=False)
    if at_draws is None or at_draws.log_prior is None:
        at_draws = evaluate(values)
    ll_new = at_draws.log_likelihood
    retracted = retracted_draws(tree, prev, spec)
    if retracted is None:
        return Backward(None, model_new, at_draws)
    data_old = prepare(prev["panel"].to_dataset(), spec)
    old_months = pd.DatetimeIndex(prev["posterior"][MONTH].values)
    new_months = data_new.months[len(old_months) :]
    must = previous_to_evaluate(data_old, data_new, spec)
    compiled, function = old_evaluator.result() if old_evaluator is not None else ([], None)
    ll_old: dict[str, np.ndarray] = {}
    if must:
        function = function if compiled == must else None
        ll_old = previous_log_likelihood(data_old, spec, retracted, must, function)
    rest = [o for o in observed_variables(data_old, spec) if o not in must]
    same, moved = _reproduced(prev, model_new, evaluate, new_months, rest, seed)
    ll_old.update({o: ll_new[o] for o in same})
    if moved:  # a revised driver moved their predictions
        ll_old.update(previous_log_likelihood(data_old, spec, retracted, moved))
    players = releases(data_old, data_new, ll_old, ll_new, batch_rows, files, batch)
    if not players:
        return Backward(None, model_new, at_draws)
    targets = headline_targets(data_new.months[-1])
    needed = max(_months_after(old_months[-1], t.months[-1]) for t in targets)
    paths = extended_paths(prev, needed, horizon, seed, saved_paths)
    post = stacked_posterior(tree)
    n = post.sizes["sample"]
    rows = np.arange(n) % paths.share_innovations.shape[0]
    share = post["share_logit"].transpose("sample", MONTH).values
    mean, rho, sd = (post[v].values for v in ("share_logit_mean", "share_ar_rho", "share_step_sd"))
    innovations = paths.share_innovations[rows].copy()
    months = pd.DatetimeIndex(post[MONTH].values)
    for j, m in enumerate(new_months):
        t = months.get_loc(m)
        dev, before = share[:, t] - mean, share[:, t - 1] - mean
        innovations[:, j] = (dev - rho * before) / sd
    aligned = ForecastPaths(
        paths.months,
        {k: v[rows] for k, v in paths.drivers.items()},
        innovations,
        paths.ruble_shocks[rows],
    )
    start = post.isel({MONTH: slice(0, len(old_months))})
    new_inflow = {m: post["hidden_inflow_usd"].sel({MONTH: m}).values for m in months}
    months_needed = pd.DatetimeIndex(sorted({m for t in targets for m in t.months}))
    prev_panel = prev["panel"].to_dataset()

    def month_draws(members: frozenset[int]) -> dict[pd.Timestamp, np.ndarray]:
        out: dict[pd.Timestamp, np.ndarray] = {}
        ahead = [m for m in months_needed if m not in old_months]
        if ahead:
            h = aligned.months.get_loc(max(ahead)) + 1
            pushed = push_forward(
                start, prev_panel, paths_for(aligned, players, members).head(h), spec.legalisation
            )["hidden_inflow_usd_bn"]
            for m in ahead:
                out[m] = pushed[:, aligned.months.get_loc(m)] * 1e9
        for m in months_needed:
            if m in old_months:
                out[m] = new_inflow[m]
        return out

    offset = np.sum([p.log_lik for p in players], axis=0)
    return Backward(
        NewsInputs(players=players, month_draws=month_draws, offset=offset), model_new, at_draws
    )


__all__ = [
    "FLAT_LOG_RATIO",
    "FORECAST_DRIVER",
    "MAX_PLAYERS",
    "PARETO_K_MAX",
    "SHARE_INNOVATIONS",
    "Backward",
    "FastUpdate",
    "NewsInputs",
    "RefitNeeded",
    "Release",
    "Target",
    "backward_news",
    "carried_prior",
    "carry_forward",
    "check_same_draws",
    "effective_sample_size",
    "explain",
    "extended_paths",
    "fast_update",
    "forward_month_draws",
    "free_shapes",
    "headline_targets",
    "kept_predictions",
    "likelihoods_to_evaluate",
    "normalised",
    "observed_variables",
    "old_log_likelihood",
    "ordered_resample",
    "paths_for",
    "posterior_draws",
    "previous_evaluator",
    "previous_log_likelihood",
    "previous_to_evaluate",
    "psis",
    "releases",
    "retracted_draws",
    "shapley",
    "summary",
    "systematic_resample",
    "unchanged_likelihoods",
    "weighted_quantile",
]
