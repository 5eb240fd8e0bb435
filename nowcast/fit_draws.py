"""A model evaluated at many draws at once: derived quantities, log likelihoods and log prior
densities compiled once and vectorised over the draws, and draws moved between a posterior's
(chain, draw) Datasets and flat arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pymc as pm
import xarray as xr

from nowcast import fncache
from nowcast.constants import CHAIN, DRAW

# Forward passes (derived quantities, prior draws) run once per call: PyTensor's default
# compiled backends spend 10+ s compiling them, the fast-compile mode about 1 s (measured).
FORWARD_COMPILE = {"mode": "FAST_COMPILE"}


# Draws evaluated by one call of a batched function: bounds its memory (every (unit, month)
# grid is materialised per draw), while a call per chunk instead of per draw removes the
# Python overhead that dominated (4000 calls of 50-100 interpreted ops each).
BATCH_DRAWS = 250
BATCH_SUFFIX = "_batch"  # of each input of a compiled batched function, after its variable


def compile_batched(inputs: list, outputs: list, *, cache: bool = True):
    """The compiled function ``batched_function`` calls: ``outputs`` (graphs of one draw's
    ``inputs``) vectorised over a leading sample axis, one argument per input with that axis
    first. ``cache``: keep it on disk for a later process computing the same graph
    (``nowcast.fncache``); a caller whose graph holds data seen once (an update's new model)
    saves the cost of storing it."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.compile.mode import get_mode
    from pytensor.graph import rewrite_graph
    from pytensor.graph.replace import vectorize_graph

    def build():
        batch = [
            pt.tensor(
                name=f"{v.name}{BATCH_SUFFIX}", shape=(None, *v.type.shape), dtype=v.type.dtype
            )
            for v in inputs
        ]
        # canonicalised first: vectorising the raw graph spent a second inferring the static
        # shapes of allocations the rewrite removes, and compiling the result costs less
        # (measured on the default model: 2.9 s -> 1.9 s)
        one = rewrite_graph(outputs, include=("canonicalize",))
        vec = vectorize_graph(one, replace=dict(zip(inputs, batch, strict=True)))
        return pytensor.function(
            batch, vec, on_unused_input="ignore", mode=get_mode(FORWARD_COMPILE["mode"])
        )

    # a warm run evaluates the graphs the previous run compiled: vectorising and rewriting
    # them again is most of the cost (fncache keeps the compiled function on disk)
    signature = ("batched", FORWARD_COMPILE, [(v.name, str(v.type)) for v in inputs])
    digest = fncache.graph_digest(outputs, signature) if cache else None
    return fncache.cached(digest, build)[0]


def batched_function(
    inputs: list,
    outputs: list,
    *,
    cache: bool = True,
    function=None,
    pending: Callable[[], object] | None = None,
):
    """``outputs`` (graphs of one draw's ``inputs``) evaluated for many draws at once:
    ``f(*arrays) -> list of arrays``, each with the sample axis first. The draws go through
    ``compile_batched``'s function (or ``function``, that function compiled elsewhere) a
    chunk at a time. ``pending``: returns that function compiled elsewhere, called at the
    first evaluation (what comes before it is not held up waiting for the compile).
    ``cache``: as ``compile_batched``'s."""
    return _Chunked(
        len(inputs),
        [o.ndim for o in outputs],
        lambda: compile_batched(inputs, outputs, cache=cache),
        function=function,
        pending=pending,
    )


class _Chunked:
    """``batched_function``'s result for a function taking ``n_inputs`` arrays to outputs
    of ``ndims`` dimensions for one draw: ``function``, or ``pending()`` at the first
    evaluation, or else ``compile_here()`` now."""

    def __init__(
        self,
        n_inputs: int,
        ndims: Sequence[int],
        compile_here: Callable[[], object],
        *,
        function=None,
        pending: Callable[[], object] | None = None,
    ) -> None:
        self.n_inputs, self.ndims = n_inputs, list(ndims)
        self._compile_here, self._pending, self._fn = compile_here, pending, function
        self._checked = False
        if function is not None or pending is None:
            self.function()  # compiled (or checked) now, as the caller expects

    def function(self):
        """The compiled function, checked against the inputs and outputs expected."""
        if self._checked:
            return self._fn
        if self._fn is None:
            self._fn = self._pending() if self._pending is not None else self._compile_here()
        explicit = self._explicit()
        if len(explicit) != self.n_inputs or len(self._fn.maker.outputs) != len(self.ndims):
            raise ValueError(
                f"the function given takes {len(explicit)} inputs to"
                f" {len(self._fn.maker.outputs)} outputs, these graphs {self.n_inputs} to"
                f" {len(self.ndims)}"
            )
        self._checked = True
        return self._fn

    def _explicit(self) -> list:
        return [i for i in self._fn.maker.inputs if not i.implicit]  # shared data are implicit

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        fn = self.function()
        n = arrays[0].shape[0]
        # each chunk's results written into arrays for all draws: concatenating chunks
        # copied every output once more (a quarter of a GB for an update's posterior)
        full: list = [None] * len(self.ndims)
        # no draws: one empty chunk, so that every output still has its shape
        for i in range(0, max(n, 1), BATCH_DRAWS):
            m = min(BATCH_DRAWS, n - i)
            for k, (ndim, r) in enumerate(
                zip(self.ndims, fn(*(a[i : i + m] for a in arrays)), strict=True)
            ):
                r = np.asarray(r)
                # an output that depends on no draw has no sample axis: repeated
                core = r.shape if r.ndim == ndim else r.shape[1:]
                if full[k] is None:
                    full[k] = np.empty((n, *core), dtype=r.dtype)
                full[k][i : i + m] = r
        return full


def flat_draws(ds: xr.Dataset, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Variables of a (chain, draw, ...) Dataset with chain and draw flattened into one
    leading axis, chain-major (the order of ``forecast.stacked_posterior``)."""
    out = {}
    for name in names if names is not None else list(ds.data_vars):
        arr = ds[name].transpose(CHAIN, DRAW, ...).values
        out[str(name)] = arr.reshape(arr.shape[0] * arr.shape[1], *arr.shape[2:])
    return out


def compute_deterministics(posterior: xr.Dataset, model: pm.Model) -> xr.Dataset:
    """Every named derived quantity of ``model`` for every draw of ``posterior`` (which holds
    the free parameters), as ``pm.compute_deterministics`` gives them, but in one vectorised
    pass: PyMC 6 calls a compiled function per draw (4000 calls: 8 s CPU, measured)."""
    from pymc.model.transform.conditioning import remove_value_transforms

    plain = remove_value_transforms(model)
    inputs = [plain.rvs_to_values[rv] for rv in plain.free_RVs]
    outputs = plain.replace_rvs_by_values(plain.deterministics)
    draws = flat_draws(posterior, [rv.name for rv in plain.free_RVs])
    values = [draws[rv.name] for rv in plain.free_RVs]
    results = batched_function(inputs, outputs)(*values)
    arrays = {var.name: arr for var, arr in zip(plain.deterministics, results, strict=True)}
    return draws_dataset(model, arrays, posterior[CHAIN], posterior[DRAW])


def draws_dataset(
    model: pm.Model, arrays: dict[str, np.ndarray], chains: object, draws: object
) -> xr.Dataset:
    """Named quantities of ``model`` (name -> array with the draws first, chain-major) as a
    posterior Dataset on (chain, draw, the model's dims), with the model's coordinates."""
    chains, draws = np.asarray(chains), np.asarray(draws)
    # built at once: adding the variables one by one merged and aligned the Dataset each
    # time (0.15 s for a posterior's hundred variables)
    coords: dict[str, object] = {CHAIN: chains, DRAW: draws}
    variables = {}
    for name, arr in arrays.items():
        core = arr.shape[1:]
        dims = list(model.named_vars_to_dims.get(name, ()))
        if len(dims) != len(core):
            dims = [f"{name}_dim_{i}" for i in range(len(core))]
        for d in dims:
            if d not in coords and model.coords.get(d) is not None:
                coords[d] = list(model.coords[d])
        variables[name] = xr.Variable(
            [CHAIN, DRAW, *dims], arr.reshape(len(chains), len(draws), *core)
        )
    return xr.Dataset(variables, coords=coords)


@dataclass(frozen=True)
class DrawValues:
    """What ``draws_evaluator`` computes at a set of draws, each array with the draws first:
    derived quantities by name, each observed variable's elementwise log likelihood by name,
    and the joint log prior density of the free variables (on their own scale)."""

    deterministics: dict[str, np.ndarray]
    log_likelihood: dict[str, np.ndarray]
    log_prior: np.ndarray | None


@dataclass(frozen=True)
class _Layout:
    """What an evaluator of a model takes and gives, read off the model without building
    its log-density graphs: the free variables (in input order), the names of the derived
    quantities then of the observed variables, how many outputs are derived quantities, log
    likelihoods and log prior densities, and each output's dimensions for one draw."""

    free: list[str]
    names: list[str]
    counts: tuple[int, int, int]
    ndims: list[int]


Observed = bool | Sequence[str]  # every observed variable, none, or those named


def _observed(model: pm.Model, log_likelihood: Observed) -> list:
    if isinstance(log_likelihood, bool):
        return list(model.observed_RVs) if log_likelihood else []
    names = set(log_likelihood)
    unknown = names - {v.name for v in model.observed_RVs}
    if unknown:
        raise ValueError(f"not observed variables of the model: {sorted(unknown)}")
    return [v for v in model.observed_RVs if v.name in names]  # in the model's order


def _layout(
    model: pm.Model, deterministics: bool, log_likelihood: Observed, log_prior: bool
) -> _Layout:
    dets = list(model.deterministics) if deterministics else []
    observed = _observed(model, log_likelihood)
    free = list(model.free_RVs)
    n_lp = len(free) if log_prior else 0
    return _Layout(
        [rv.name for rv in free],
        [v.name for v in (*dets, *observed)],
        (len(dets), len(observed), n_lp),
        # an elementwise log likelihood has its variable's shape; a log prior is summed
        [*(v.ndim for v in (*dets, *observed)), *([0] * n_lp)],
    )


def _evaluator_graphs(
    model: pm.Model, deterministics: bool, log_likelihood: Observed, log_prior: bool
) -> tuple[list, list]:
    """The inputs (the free variables' values) and the graphs of the derived quantities, of
    each observed variable's elementwise log likelihood and of each free variable's log prior
    density, of ``model`` without its value transforms, in ``_layout``'s order (the model's:
    the model without transforms orders its variables otherwise)."""
    from pymc.model.transform.conditioning import remove_value_transforms

    layout = _layout(model, deterministics, log_likelihood, log_prior)
    plain = remove_value_transforms(model)
    named = {v.name: v for v in (*plain.free_RVs, *plain.observed_RVs, *plain.deterministics)}
    free = [named[n] for n in layout.free]
    n_det, n_ll, _ = layout.counts
    inputs = [plain.rvs_to_values[rv] for rv in free]
    dets = plain.replace_rvs_by_values([named[n] for n in layout.names[:n_det]])
    observed = [named[n] for n in layout.names[n_det : n_det + n_ll]]
    terms = [*observed, *(free if log_prior else [])]
    densities = plain.logp(vars=terms, jacobian=False, sum=False) if terms else []
    ll = densities[: len(observed)]
    lp = [t.sum() for t in densities[len(observed) :]]
    return inputs, [*dets, *ll, *lp]


def evaluator_function(
    model: pm.Model,
    *,
    deterministics: bool = True,
    log_likelihood: Observed = True,
    log_prior: bool = False,
    cache: bool = True,
):
    """The compiled function ``draws_evaluator`` calls, for compiling it in another process
    (``nowcast.sidecar``) and passing it to ``draws_evaluator(function=...)`` there: ready to
    be pickled (``fncache.drop_node_caches``)."""
    inputs, outputs = _evaluator_graphs(model, deterministics, log_likelihood, log_prior)
    function = compile_batched(inputs, outputs, cache=cache)
    fncache.drop_node_caches(function)
    return function


def draws_evaluator(
    model: pm.Model,
    *,
    deterministics: bool = True,
    log_likelihood: Observed = True,
    log_prior: bool = False,
    cache: bool = True,
    function=None,
    pending: Callable[[], object] | None = None,
):
    """A function from draws of ``model``'s free variables (name -> array with the draws
    first, constrained scale) to ``DrawValues``, compiled once and vectorised over draws:
    evaluate as many sets of draws (posterior, prior) as needed for one compile.
    ``log_likelihood``: of every observed variable, of none, or of those named. ``cache``:
    as ``compile_batched``'s; ``function``: ``evaluator_function``'s result for the same
    model and options, compiled elsewhere; ``pending``: returns that function, called at the
    first evaluation. With either, no graph is built here (building them took as long as the
    other process's compile, on the same two cores: measured on an update)."""
    layout = _layout(model, deterministics, log_likelihood, log_prior)

    def compile_here():
        inputs, outputs = _evaluator_graphs(model, deterministics, log_likelihood, log_prior)
        if [o.ndim for o in outputs] != layout.ndims:
            raise ValueError(f"the evaluator's graphs do not have the layout {layout}")
        return compile_batched(inputs, outputs, cache=cache)

    fn = _Chunked(len(layout.free), layout.ndims, compile_here, function=function, pending=pending)
    n_det, n_ll, n_lp = layout.counts

    def evaluate(values: dict[str, np.ndarray]) -> DrawValues:
        arrays = [np.asarray(values[name], dtype=float) for name in layout.free]
        out = fn(*arrays)
        return DrawValues(
            dict(zip(layout.names[:n_det], out[:n_det], strict=True)),
            dict(zip(layout.names[n_det:], out[n_det : n_det + n_ll], strict=True)),
            np.sum(out[n_det + n_ll :], axis=0) if n_lp else None,
        )

    return evaluate


def evaluate_draws(
    model: pm.Model, values: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every derived quantity and the elementwise log likelihood of every observed variable of
    ``model`` at the draws ``values`` (``draws_evaluator`` for one set of draws)."""
    got = draws_evaluator(model)(values)
    return got.deterministics, got.log_likelihood
