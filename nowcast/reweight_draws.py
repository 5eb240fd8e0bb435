"""The draws of an update: the previous run's draws carried into the new model through its own
transitions (``carry_forward``), their Pareto-smoothed importance weights (``psis``) and the
resamples and weighted quantiles taken from them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from nowcast.constants import CHAIN, DRAW, MONTH
from nowcast.fit_draws import flat_draws
from nowcast.model.data import Block, ModelData
from nowcast.model.evidence import REGISTRY
from nowcast.model.spec import ModelSpec

# log importance ratios varying less than this are equal (floating-point rounding)
FLAT_LOG_RATIO = 1e-9
SHARE_INNOVATIONS = "share_logit_step_z"


class RefitNeeded(Exception):
    """The previous draws cannot be carried into the new model; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- draws


def posterior_draws(
    tree: xr.DataTree, names: Sequence[str] | None = None, group: str = "posterior"
) -> dict[str, np.ndarray]:
    """Posterior (or ``group``) variables with (chain, draw) flattened into one leading
    axis, chain-major (the order of ``forecast.stacked_posterior``)."""
    return flat_draws(tree[group].to_dataset(), names)


def _is_standard_normal(rv: object) -> bool:
    """True for a ``Normal(0, 1)`` free variable: an innovation or a standardised effect,
    whose new elements are drawn from their prior when the model grows."""
    from pytensor.tensor.basic import NotScalarConstantError, get_underlying_scalar_constant_value
    from pytensor.tensor.random.basic import NormalRV

    node = rv.owner  # type: ignore[attr-defined]
    if node is None or not isinstance(node.op, NormalRV):
        return False
    try:
        mu, sigma = (float(get_underlying_scalar_constant_value(x)) for x in node.inputs[-2:])
    except NotScalarConstantError:  # a parameter that is not a constant
        return False
    return mu == 0.0 and sigma == 1.0


def free_shapes(model: pm.Model) -> dict[str, tuple[int, ...]]:
    """Each free variable's shape: its static shape where the graph knows it (the default
    model's, all of them), else from one compiled function (dims may be data; compiling it
    took 0.5 s of an update)."""
    import pytensor

    free = list(model.free_RVs)
    if all(d is not None for rv in free for d in rv.type.shape):
        return {rv.name: tuple(int(d) for d in rv.type.shape) for rv in free}
    shapes = pytensor.function(
        [], [rv.shape for rv in free], on_unused_input="ignore", mode="FAST_COMPILE"
    )()
    return {rv.name: tuple(int(x) for x in sh) for rv, sh in zip(free, shapes, strict=True)}


def carry_forward(
    prev: xr.DataTree,
    model: pm.Model,
    new_months: pd.DatetimeIndex,
    share_innovations: np.ndarray,
    rng: np.random.Generator,
    group: str = "posterior",
    shapes: dict[str, tuple[int, ...]] | None = None,
    draws: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The previous run's draws as draws of ``model``'s free variables: variables of the same
    shape are copied; the share walk's innovations for ``new_months`` (the months after the
    previous window) are ``share_innovations[:, :len(new_months)]`` (the forecast's, so the
    carried share path is the one the previous nowcast forecast); other standard normal
    effects that grow (a new year's) are drawn from their prior. Raises ``RefitNeeded`` when
    the model's structure changed. ``group="prior"`` carries the run's prior draws instead
    (``share_innovations`` then fresh draws): prior draws of the larger model. ``shapes``:
    ``free_shapes(model)`` when the caller has it. ``draws``: only these draws (positions in
    the flattened, chain-major order), ``share_innovations`` then one row for each."""
    previous_free = _free_names(prev)
    # the free variables only: flattening every derived quantity too took most of the time
    old = posterior_draws(prev, [v for v in previous_free if v in prev[group]], group=group)
    if draws is not None:
        old = {name: arr[draws] for name, arr in old.items()}
    n = prev[group].sizes[CHAIN] * prev[group].sizes[DRAW] if draws is None else len(draws)
    k = len(new_months)
    if share_innovations.shape[0] != n or share_innovations.shape[1] < k:
        raise ValueError("share_innovations must have one row per draw and a column per new month")
    values: dict[str, np.ndarray] = {}
    names = {rv.name for rv in model.free_RVs}
    gone = [v for v in previous_free if v not in names]
    if gone:
        raise RefitNeeded(f"the model no longer has {gone}: its structure changed")
    shapes = shapes if shapes is not None else free_shapes(model)
    for rv in model.free_RVs:
        shape = shapes[rv.name]
        standard = _is_standard_normal(rv)
        innovation = rv.name.startswith(SHARE_INNOVATIONS)
        if rv.name not in old:
            if standard and innovation and shape == (k,):
                values[rv.name] = share_innovations[:, :k].copy()
                continue
            raise RefitNeeded(f"new free variable {rv.name} {shape}: the model's structure changed")
        arr = old[rv.name]
        if arr.shape[1:] == shape:
            values[rv.name] = arr
            continue
        grows = (
            len(shape) == arr.ndim - 1
            and len(shape) >= 1
            and shape[0] > arr.shape[1]
            and shape[1:] == arr.shape[2:]
        )
        if not (grows and standard):
            raise RefitNeeded(
                f"{rv.name} changed shape from {arr.shape[1:]} to {shape}: the model's"
                " structure changed"
            )
        extra = shape[0] - arr.shape[1]
        if innovation:
            if extra != k:
                raise RefitNeeded(f"{rv.name} grew by {extra} months, the window by {k}")
            tail = share_innovations[:, :k]
        else:
            tail = rng.standard_normal((n, extra, *shape[1:]))
        values[rv.name] = np.concatenate([arr, tail], axis=1)
    return values


def _free_names(tree: xr.DataTree) -> list[str]:
    from nowcast.fit import free_variables

    names = free_variables(tree)
    if names is None:
        raise RefitNeeded("the previous run does not record its free variables")
    return names


def check_same_draws(
    prev: xr.DataTree, deterministics: dict[str, np.ndarray], months: pd.DatetimeIndex
) -> None:
    """The carried draws must reproduce the previous run's latent share path on the months
    both windows hold; otherwise the model's structure changed under the same names."""
    old = posterior_draws(prev, ["share_logit"])["share_logit"]
    old_months = pd.DatetimeIndex(prev["posterior"][MONTH].values)
    idx = months.get_indexer(old_months)
    if (idx < 0).any():
        raise RefitNeeded("the new window does not contain the previous one")
    new = deterministics["share_logit"][:, idx]
    gap = float(np.max(np.abs(new - old))) if old.size else 0.0
    if not gap <= 1e-6:
        raise RefitNeeded(f"carried draws move the share's past path by up to {gap:.2g} (logit)")


# --------------------------------------------------------------------------- likelihoods


# a prediction at the carried draws within this (relative to its largest value) of the
# previous run's is the same: the two come from graphs compiled for other shapes, which may
# round in another order
SAME_PREDICTION = 1e-9


def _same_block(old: Block, new: Block, n_old_months: int) -> bool:
    """The same figures with the same values, periods and areas, none on a new month."""
    if old.mask is not None or new.mask is not None or old.n != new.n:
        return False
    weights = new.weights
    return (
        np.array_equal(old.values, new.values)
        and weights.shape[1] >= n_old_months
        and np.array_equal(old.weights, weights[:, :n_old_months])
        and not weights[:, n_old_months:].any()
        and np.array_equal(old.units, new.units)
        and same_labels(old.labels, new.labels)
    )


def same_labels(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    """The same labels, whatever the unit of their dates (a panel read back from a run's
    file holds nanoseconds, a new one microseconds)."""
    old, new = old.reset_index(drop=True), new.reset_index(drop=True)
    if list(old.columns) != list(new.columns) or len(old) != len(new):
        return False
    for column in old.columns:
        a, b = old[column], new[column]
        if pd.api.types.is_datetime64_any_dtype(a) or pd.api.types.is_datetime64_any_dtype(b):
            a, b = (
                pd.to_datetime(a).astype("datetime64[ns]"),
                pd.to_datetime(b).astype("datetime64[ns]"),
            )
        missing = a.isna().to_numpy()
        if not np.array_equal(missing, b.isna().to_numpy()):
            return False
        if not (a[~missing].to_numpy(dtype=object) == b[~missing].to_numpy(dtype=object)).all():
            return False
    return True


def likelihoods_to_evaluate(old: ModelData, new: ModelData, spec: ModelSpec) -> list[str]:
    """The observed variables whose log likelihood an update evaluates at the carried draws:
    those of every kind of evidence with a figure new, revised, gone or on a new month. The
    others' at a carried draw are the previous run's at the same draw
    (``unchanged_likelihoods`` checks it), and evaluating them was most of the update's
    compile and a third of its evaluation (measured on December's update)."""
    from nowcast.model.build import used_kinds

    out = []
    for kind, b in used_kinds(spec, new):
        a = old.blocks.get(kind.name)
        if a is None or not _same_block(a, b, len(old.months)):
            out.append(kind.observed_name)
    return out


def unchanged_likelihoods(
    prev: xr.DataTree,
    deterministics: dict[str, np.ndarray],
    ll_old: dict[str, np.ndarray],
    evaluated: Sequence[str],
    observed: Sequence[str],
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The log likelihoods of the ``observed`` variables not ``evaluated`` at the carried
    draws: the previous run's (``ll_old``, at the same draws in the same order) where the
    kind's prediction at the carried draws (``deterministics``) is the previous run's. A
    kind's likelihood is a function of its figures (the same: ``likelihoods_to_evaluate``),
    its prediction and its own parameters, which a carried draw keeps
    (``nowcast.model.evidence_kind.Observation``). Returns them, and the observed variables
    whose prediction moved (a revised driver): those must be evaluated."""
    done = set(evaluated)
    names = [o for o in observed if o not in done]
    kept, _ = kept_predictions(prev, deterministics, names)
    same = {
        o: ll_old[o]
        for o in kept
        if ll_old.get(o, np.empty(0)).shape == deterministics[_predicted(o)].shape
    }
    return same, [o for o in names if o not in same]


def _predicted(observed: str) -> str:
    return next(k.predicted_name for k in REGISTRY.values() if k.observed_name == observed)


def kept_predictions(
    prev: xr.DataTree,
    deterministics: dict[str, np.ndarray],
    observed: Sequence[str],
    draws: np.ndarray | None = None,
) -> tuple[list[str], list[str]]:
    """Of the ``observed`` variables, those whose prediction at draws of the previous run
    carried forward (``deterministics``, one row per draw of ``prev``'s posterior in its
    order, or per draw in ``draws``: positions in that order) is the previous run's at the
    same draws, and those whose prediction moved (or that the previous run did not
    predict)."""
    wanted = {o: _predicted(o) for o in observed}
    before = posterior_draws(prev, [p for p in wanted.values() if p in prev["posterior"]])
    if draws is not None:
        before = {name: arr[draws] for name, arr in before.items()}
    kept, moved = [], []
    for obs, predicted in wanted.items():
        old, new = before.get(predicted), deterministics.get(predicted)
        if old is None or new is None or old.shape != new.shape:
            moved.append(obs)
            continue
        scale = float(np.max(np.abs(old), initial=0.0))
        gap = float(np.max(np.abs(new - old), initial=0.0))
        (kept if gap <= SAME_PREDICTION * scale else moved).append(obs)
    return kept, moved


# --------------------------------------------------------------------------- weights


def psis(log_ratio: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed normalised log weights and Pareto k of raw log importance ratios
    (arviz's PSIS over one sample axis)."""
    import arviz_stats  # noqa: F401  (registers the azstats accessor)

    lr = np.asarray(log_ratio, dtype=float)
    if not np.all(np.isfinite(lr)):
        raise RefitNeeded("some draws give the new data zero likelihood")
    if np.ptp(lr) < FLAT_LOG_RATIO:  # nothing the likelihood sees changed (rounding only)
        return np.full(len(lr), -np.log(len(lr))), 0.0
    # arviz's psislw takes the log likelihood of a left-out figure, whose importance weights
    # are its inverse (PSIS-LOO): negated here, the weights are exp(log_ratio)
    da = xr.DataArray(lr.max() - lr, dims=["sample"])
    try:
        log_w, k = da.azstats.psislw(dim="sample")
    except ValueError:  # the tail is one draw repeated: all weight on a single draw
        return lr - np.log(np.sum(np.exp(lr - lr.max()))) - lr.max(), float("inf")
    k = float(k)
    # no tail to fit (a handful of draws carry all the weight) is as bad as it gets
    return np.asarray(log_w.values, dtype=float), k if np.isfinite(k) else float("inf")


def normalised(log_w: np.ndarray) -> np.ndarray:
    """Weights summing to one from log weights."""
    w = np.exp(log_w - np.max(log_w))
    return w / w.sum()


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of normalised weights."""
    return float(1.0 / np.sum(weights**2))


def systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of a systematic resample of ``len(weights)`` draws (each draw copied
    ``floor`` or ``ceil`` of n x its weight times: the least noisy of the simple schemes)."""
    n = len(weights)
    positions = (rng.uniform() + np.arange(n)) / n
    cum = np.cumsum(weights)
    cum[-1] = 1.0
    return np.searchsorted(cum, positions, side="right").clip(0, n - 1)


def ordered_resample(weights: np.ndarray, key: np.ndarray, seed: int) -> np.ndarray:
    """Indices of a systematic resample taken along the draws sorted by ``key`` (the
    headline), then shuffled: the resample's distribution of ``key`` is then within 1/n of
    the weighted one at every quantile, the least the headline can move by resampling."""
    rng = np.random.default_rng(seed + 11)
    order = np.argsort(key, kind="stable")
    picked = order[systematic_resample(weights[order], rng)]
    return rng.permutation(picked)


def weighted_quantile(values: np.ndarray, q: Sequence[float], weights: np.ndarray | None = None):
    """Quantiles ``q`` of draws with weights; with equal weights exactly ``np.quantile``'s
    default (linear) definition, so weighted and unweighted summaries agree."""
    x = np.asarray(values, dtype=float)
    if weights is None:
        return np.quantile(x, q)
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], np.asarray(weights, dtype=float)[order]
    before = np.concatenate([[0.0], np.cumsum(ws)[:-1]])
    position = before / before[-1]
    return np.interp(q, position, xs)
