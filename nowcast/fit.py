"""Fit a model spec to a panel: NUTS (nutpie by default), derived quantities, prior draws,
diagnostics that gate the run, and the posterior saved with its provenance.

The posterior (an arviz ``DataTree``) is the only thing forecasts and reports read. Groups:
``posterior`` (free parameters and every named quantity, ``hidden_inflow_usd`` with dim
``month``), ``sample_stats``, ``prior``, ``prior_predictive``, ``observed_data``, ``panel``
(the exact data the fit saw) and ``evidence`` (each kind's figures, periods and labels as the
model saw them, from the evidence registry). Attributes record the data vintage, spec hash,
package version, seed and sampler settings.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from nowcast import __version__, fncache
from nowcast.compiled import CompileInfo, compile_model
from nowcast.constants import CHAIN, DRAW
from nowcast.errors import NowcastError
from nowcast.files import Pending, write_atomic, write_csv
from nowcast.intervals import interval_summary
from nowcast.model.build import build_model
from nowcast.model.data import ModelData, prepare
from nowcast.model.frame import Frame
from nowcast.model.published import EVIDENCE_GROUP, evidence_dataset
from nowcast.model.spec import ModelSpec, Sampler

# Forward passes (derived quantities, prior draws) run once per call: PyTensor's default
# compiled backends spend 10+ s compiling them, the fast-compile mode about 1 s (measured).
FORWARD_COMPILE = {"mode": "FAST_COMPILE"}

# quantities whose convergence gates a run, besides every free parameter
GATED = ["hidden_inflow_usd", "hashrate_share", "mining_power_gw"]
# run attribute: JSON list of the model's free variables (the ones NUTS sampled)
FREE_VARIABLES = "free_variables"


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


# Draws evaluated by one call of a batched function: bounds its memory (every (unit, month)
# grid is materialised per draw), while a call per chunk instead of per draw removes the
# Python overhead that dominated (4000 calls of 50-100 interpreted ops each).
BATCH_DRAWS = 250


def batched_function(inputs: list, outputs: list, *, cache: bool = True):
    """Compile ``outputs`` (graphs of one draw's ``inputs``) vectorised over a leading sample
    axis: one call evaluates a whole chunk of draws. Returns ``f(*arrays) -> list of arrays``,
    each with the sample axis first. ``cache``: keep the compiled function on disk for a
    later process computing the same graph (``nowcast.fncache``); a caller whose graph holds
    data seen once (an update's new model) saves the cost of storing it."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.compile.mode import get_mode
    from pytensor.graph import rewrite_graph
    from pytensor.graph.replace import vectorize_graph

    def build():
        batch = [
            pt.tensor(name=f"{v.name}_batch", shape=(None, *v.type.shape), dtype=v.type.dtype)
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
    fn, _ = fncache.cached(digest, build)

    def call(*arrays: np.ndarray) -> list[np.ndarray]:
        n = arrays[0].shape[0]
        parts: list[list[np.ndarray]] = [[] for _ in outputs]
        for i in range(0, n, BATCH_DRAWS):
            m = min(BATCH_DRAWS, n - i)
            for k, (o, r) in enumerate(
                zip(outputs, fn(*(a[i : i + m] for a in arrays)), strict=True)
            ):
                r = np.asarray(r)
                # an output that depends on no draw has no sample axis: repeat it
                parts[k].append(np.broadcast_to(r, (m, *r.shape)) if r.ndim == o.ndim else r)
        return [np.concatenate(p, axis=0) for p in parts]

    return call


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


def flat_draws(ds: xr.Dataset, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Variables of a (chain, draw, ...) Dataset with chain and draw flattened into one
    leading axis, chain-major (the order of ``forecast.stacked_posterior``)."""
    out = {}
    for name in names if names is not None else list(ds.data_vars):
        arr = ds[name].transpose(CHAIN, DRAW, ...).values
        out[str(name)] = arr.reshape(arr.shape[0] * arr.shape[1], *arr.shape[2:])
    return out


POSTERIOR_FILE = "posterior.nc"


def save_posterior(tree: xr.DataTree, folder: Path) -> Path:
    """Write a run's ``posterior.nc`` atomically (temporary file, then rename)."""
    return write_atomic(
        Path(folder) / POSTERIOR_FILE, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf")
    )


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
    out = xr.Dataset(coords={CHAIN: chains, DRAW: draws})
    for name, arr in arrays.items():
        core = arr.shape[1:]
        dims = list(model.named_vars_to_dims.get(name, ()))
        if len(dims) != len(core):
            dims = [f"{name}_dim_{i}" for i in range(len(core))]
        coords = {d: (d, list(model.coords[d])) for d in dims if model.coords.get(d) is not None}
        out[name] = xr.DataArray(
            arr.reshape(len(chains), len(draws), *core), dims=[CHAIN, DRAW, *dims], coords=coords
        )
    return out


@dataclass(frozen=True)
class DrawValues:
    """What ``draws_evaluator`` computes at a set of draws, each array with the draws first:
    derived quantities by name, each observed variable's elementwise log likelihood by name,
    and the joint log prior density of the free variables (on their own scale)."""

    deterministics: dict[str, np.ndarray]
    log_likelihood: dict[str, np.ndarray]
    log_prior: np.ndarray | None


def draws_evaluator(
    model: pm.Model,
    *,
    deterministics: bool = True,
    log_likelihood: bool = True,
    log_prior: bool = False,
    cache: bool = True,
):
    """A function from draws of ``model``'s free variables (name -> array with the draws
    first, constrained scale) to ``DrawValues``, compiled once and vectorised over draws:
    evaluate as many sets of draws (posterior, prior) as needed for one compile. ``cache``:
    as ``batched_function``'s."""
    from pymc.model.transform.conditioning import remove_value_transforms

    plain = remove_value_transforms(model)
    free = list(plain.free_RVs)
    inputs = [plain.rvs_to_values[rv] for rv in free]
    dets = plain.replace_rvs_by_values(plain.deterministics) if deterministics else []
    observed = list(plain.observed_RVs) if log_likelihood else []
    densities = plain.logp(
        vars=[*observed, *(free if log_prior else [])], jacobian=False, sum=False
    )
    ll = densities[: len(observed)]
    lp = [t.sum() for t in densities[len(observed) :]]
    fn = batched_function(inputs, [*dets, *ll, *lp], cache=cache)

    def evaluate(values: dict[str, np.ndarray]) -> DrawValues:
        arrays = [np.asarray(values[rv.name], dtype=float) for rv in free]
        out = fn(*arrays)
        n_det, n_ll = len(dets), len(ll)
        return DrawValues(
            {
                v.name: r
                for v, r in zip(plain.deterministics if dets else [], out[:n_det], strict=True)
            },
            {v.name: r for v, r in zip(observed, out[n_det : n_det + n_ll], strict=True)},
            np.sum(out[n_det + n_ll :], axis=0) if lp else None,
        )

    return evaluate


def evaluate_draws(
    model: pm.Model, values: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every derived quantity and the elementwise log likelihood of every observed variable of
    ``model`` at the draws ``values`` (``draws_evaluator`` for one set of draws)."""
    got = draws_evaluator(model)(values)
    return got.deterministics, got.log_likelihood


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
    run holds the panel's own months and figures, as without it."""
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
    tree, info = _sample(model, s, progress, stage, reuse or frame is not None, cores)

    with stage("deterministics_s"):
        posterior = tree["posterior"].to_dataset()
        derived = compute_deterministics(posterior, model)
        posterior = xr.merge([posterior, derived], compat="override", join="outer")
    with stage("prior_predictive_s"):
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
        diag = diagnose(out, spec, _free_names(model))
    return FitResult(out, diag, model, data, timings, {**stage.wall}, {**stage.cpu}, info)


def diagnose(tree: xr.DataTree, spec: ModelSpec, free: list[str] | None = None) -> Diagnostics:
    """R-hat (rank-normalised), bulk and tail ESS per variable, divergences and E-BFMI,
    checked against ``spec.thresholds``."""
    post = tree["posterior"].to_dataset()
    free = free or free_variables(tree)
    base = [n for n in (free or list(post.data_vars)) if n in post]
    names = base + [g for g in GATED if g in post and g not in base]
    # an element that never moves (a comparison region's share of mining, 0 in every draw) has
    # no R-hat or ESS: NaN, which the minima and maxima below skip
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = az.rhat(tree, var_names=names)
        ess_b = az.ess(tree, var_names=names, method="bulk")
        ess_t = az.ess(tree, var_names=names, method="tail")

    def _min(ds: xr.DataTree | xr.Dataset, n: str) -> float:
        return float(np.nanmin(np.asarray(_get(ds, n))))

    def _max(ds: xr.DataTree | xr.Dataset, n: str) -> float:
        return float(np.nanmax(np.asarray(_get(ds, n))))

    rows = [
        {
            "variable": n,
            "size": int(np.prod(post[n].shape[2:])),
            "max_rhat": _max(rhat, n),
            "min_ess_bulk": _min(ess_b, n),
            "min_ess_tail": _min(ess_t, n),
        }
        for n in names
    ]
    table = pd.DataFrame(rows)
    stats = tree["sample_stats"].to_dataset()
    div = int(stats["diverging"].sum()) if "diverging" in stats else 0
    bfmi = [float(b) for b in np.atleast_1d(np.asarray(_get(az.bfmi(tree), "energy")))]

    return Diagnostics(table, div, bfmi, _problems(table, div, bfmi, spec))


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


DIAGNOSTICS_FILE = "diagnostics.csv"


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


# --------------------------------------------------------------------------- saving


def run_dir(store_dir: Path, tree: xr.DataTree) -> Path:
    """Folder of one fitted run: ``<store>/runs/<timestamp>_<model>_<spec hash>``."""
    stamp = tree.attrs["created_at"].replace(":", "").replace("-", "")[:15]
    return store_dir / "runs" / f"{stamp}_{tree.attrs['model']}_{tree.attrs['spec_hash'][:8]}"


def save_run(result: FitResult, store_dir: Path, pending: list[Pending] | None = None) -> Path:
    """Write ``posterior.nc`` and ``diagnostics.csv`` atomically (temporary file, then rename)
    into a new run folder; returns the folder. With ``pending``, the posterior (hundreds of
    MB, seconds to write) is written in the background and its ``Pending`` appended: the
    caller goes on with the forecasts and the report and waits before recording the run."""
    out = run_dir(store_dir, result.tree)
    out.mkdir(parents=True, exist_ok=True)
    if pending is None:
        save_posterior(result.tree, out)
    else:
        pending.append(Pending(lambda: save_posterior(result.tree, out)))
    diag = result.diagnostics.table.assign(
        divergences=result.diagnostics.divergences,
        min_bfmi=min(result.diagnostics.bfmi) if result.diagnostics.bfmi else np.nan,
    )
    write_csv(diag, out / DIAGNOSTICS_FILE)
    return out


def load_run(path: str | Path, spec: ModelSpec | None = None) -> xr.DataTree:
    """Open a saved posterior; with ``spec``, refuse one that another spec produced."""
    path = Path(path)
    if path.is_dir():
        path = path / "posterior.nc"
    if not path.exists():
        raise NowcastError(f"{path}: no posterior file")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except (OSError, ValueError) as exc:  # truncated or damaged by a killed or full-disk save
        raise NowcastError(
            f"{path}: cannot read the posterior ({exc}): refit with `nowcast fit`"
        ) from None
    if spec is not None and tree.attrs.get("spec_hash") != spec.spec_hash():
        raise NowcastError(
            f"{path} was fitted with spec {tree.attrs.get('model')}"
            f" ({tree.attrs.get('spec_hash')}), not {spec.name} ({spec.spec_hash()})"
        )
    return tree


def load_run_groups(
    path: str | Path, groups: Sequence[str], skip: Sequence[str] = ()
) -> xr.DataTree:
    """Only ``groups`` of a saved run (and its attributes), without the variables ``skip``:
    opening a netCDF group costs in proportion to its variables, an update needs four of the
    run's seven groups, and reading the largest variable a caller rebuilds anyway is time
    lost."""
    path = Path(path)
    if path.is_dir():
        path = path / "posterior.nc"
    try:
        with xr.open_dataset(path, engine="h5netcdf") as root:
            attrs = dict(root.attrs)
        parts = {}
        for g in groups:
            with xr.open_dataset(path, group=g, engine="h5netcdf", drop_variables=list(skip)) as ds:
                parts[f"/{g}"] = ds.load()
    except (OSError, ValueError) as exc:
        raise NowcastError(
            f"{path}: cannot read the posterior ({exc}): refit with `nowcast fit`"
        ) from None
    tree = xr.DataTree.from_dict(parts)
    tree.attrs.update(attrs)
    return tree


def free_variables(tree: xr.DataTree) -> list[str] | None:
    """The free variables a run's fit recorded (``None`` for runs saved before that record,
    or when the record is unreadable: then every posterior variable is checked)."""
    raw = tree.attrs.get(FREE_VARIABLES)
    if raw is None:
        return None
    try:
        names = json.loads(str(raw))
    except json.JSONDecodeError:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return names


def inflow_summary(tree: xr.DataTree) -> pd.DataFrame:
    """Posterior mean, median and 50/80/90/95% equal-tailed intervals of the hidden inflow
    (USD per month), by month: ``nowcast.intervals.interval_summary``'s columns."""
    return interval_summary(tree["posterior"]["hidden_inflow_usd"], (CHAIN, DRAW))
