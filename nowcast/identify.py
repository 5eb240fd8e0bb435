"""Identification, reported rather than hidden: how much each quantity learned from the data.

* ``narrowing``: 1 - posterior variance / prior variance, for every parameter and latent
  quantity (per element, summarised by median, min and max over months or regions);
* ``sensitivity``: power-scaling sensitivity (Kallioinen et al. 2023, as arviz provides) to
  the prior and to each likelihood, i.e. each kind of evidence;
* ``ablation``: the hidden inflow's annual 90% interval when each kind of evidence is left out
  (a spec variant per switch of the evidence registry, ``no_<switch>``), against the full
  model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import arviz  # noqa: F401  (registers xarray's .azstats accessor: power_scale_lw)
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from nowcast.constants import CHAIN, DRAW, MONTH
from nowcast.fit import (
    Diagnostics,
    DrawValues,
    diagnose,
    draws_dataset,
    draws_evaluator,
    fit,
    flat_draws,
)
from nowcast.model.build import build_model
from nowcast.model.data import prepare
from nowcast.model.evidence import REGISTRY, switches
from nowcast.model.spec import Sampler, load_spec, spec_of

LATENT = ["hidden_inflow_usd", "hashrate_share", "mining_power_gw", "efficiency_j_per_th"]
SAMPLE = (CHAIN, DRAW)


def model_of(tree: xr.DataTree) -> pm.Model:
    """Rebuild the PyMC model of a saved posterior from its own panel and spec."""
    spec = spec_of(tree)
    return build_model(spec, prepare(tree["panel"].to_dataset(), spec))


def _scalar_params(tree: xr.DataTree) -> list[str]:
    prior = tree["prior"].to_dataset()
    post = tree["posterior"].to_dataset()
    return [
        v
        for v in post.data_vars
        if v in prior and post[v].ndim == 2 and not v.endswith(("_z", "_centred"))
    ]


def narrowing(tree: xr.DataTree, var_names: list[str] | None = None) -> pd.DataFrame:
    """1 - posterior variance / prior variance per variable (0: learned nothing, 1: pinned).

    For a vector quantity the median, min and max over its elements are given."""
    names = var_names or [*_scalar_params(tree), *[v for v in LATENT if v in tree["posterior"]]]
    post = tree["posterior"].to_dataset()
    prior = tree["prior"].to_dataset()
    rows = []
    for v in names:
        pv = post[v].var(SAMPLE).values.ravel()
        qv = prior[v].var(SAMPLE).values.ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            r = 1.0 - pv / qv
        rows.append(
            {
                "variable": v,
                "size": r.size,
                "prior_sd": float(np.sqrt(np.median(qv))),
                "posterior_sd": float(np.sqrt(np.median(pv))),
                "narrowing": float(np.nanmedian(r)),
                "narrowing_min": float(np.nanmin(r)),
                "narrowing_max": float(np.nanmax(r)),
            }
        )
    return pd.DataFrame(rows)


# narrowing of a unit's mining load from which the data, not the prior, say where it is
DATA_SAY, PARTLY = 0.5, 0.2


def regional_mining(tree: xr.DataTree, months: int = 12) -> pd.DataFrame:
    """Where the mining power is drawn, unit by unit (each modelled mining region, then the
    rest of each energy system; units without mining by construction are left out), ranked
    by the posterior median: the mining load over the last ``months`` fitted months (GW, mean
    over those months) with its 90% interval, the prior's, the narrowing
    1 - posterior variance / prior variance, and who says so: ``the data`` (narrowing at least
    0.5), ``partly the data`` (0.2 to 0.5) or ``the prior`` (below 0.2)."""

    def load(group: str) -> xr.DataArray:
        ds = tree[group]
        last = {MONTH: slice(-months, None)}  # sliced before the product: 10 times less
        gw = ds["region_share"].isel(last) * ds["mining_power_gw"].isel(last)
        return gw.mean(MONTH).stack(sample=SAMPLE)

    post, prior = load("posterior"), load("prior")
    rows = []
    for unit in post["region"].values:
        p, q = post.sel(region=unit).values, prior.sel(region=unit).values
        if not np.any(q) and not np.any(p):
            continue  # a unit without mining by construction (a comparison region)
        narrow = float(1.0 - p.var() / q.var()) if q.var() > 0 else float("nan")
        rows.append(
            {
                "region": str(unit),
                "load_gw_median": float(np.median(p)),
                "load_gw_lower_90": float(np.quantile(p, 0.05)),
                "load_gw_upper_90": float(np.quantile(p, 0.95)),
                "prior_median": float(np.median(q)),
                "prior_lower_90": float(np.quantile(q, 0.05)),
                "prior_upper_90": float(np.quantile(q, 0.95)),
                "narrowing": narrow,
                "said_by": (
                    "the data"
                    if narrow >= DATA_SAY
                    else "partly the data"
                    if narrow >= PARTLY
                    else "the prior"
                ),
            }
        )
    out = pd.DataFrame(rows)
    return out.sort_values("load_gw_median", ascending=False, kind="stable").reset_index(drop=True)


def add_log_densities(
    tree: xr.DataTree, model: pm.Model | None = None, values: DrawValues | None = None
) -> xr.DataTree:
    """A copy of ``tree`` with ``log_likelihood`` (one variable per kind of evidence, one value
    per observation) and ``log_prior`` groups, which power-scaling sensitivity needs.

    Both are evaluated for all draws at once (``nowcast.fit.draws_evaluator``: compiled once,
    vectorised over draws; ``pm.compute_log_likelihood`` calls a compiled function per draw,
    which took most of a run's identification time). ``values`` gives them already computed
    at the posterior's draws (an update has them), so nothing is compiled."""
    model = model or model_of(tree)
    post = tree["posterior"].to_dataset()
    if values is None or values.log_prior is None:
        free = [v.name for v in model.free_RVs]
        draws = flat_draws(post, free)
        values = draws_evaluator(model, deterministics=False, log_prior=True)(draws)
    ll = draws_dataset(model, values.log_likelihood, post[CHAIN].values, post[DRAW].values)
    lp = values.log_prior.reshape(post.sizes[CHAIN], post.sizes[DRAW])
    log_prior = xr.Dataset(
        {"prior": ((CHAIN, DRAW), lp)}, coords={CHAIN: post[CHAIN], DRAW: post[DRAW]}
    )
    out = tree.copy()
    out["log_likelihood"] = xr.DataTree(ll)
    out["log_prior"] = xr.DataTree(log_prior)
    return out


def evidence_terms() -> dict[str, list[str]]:
    """Likelihood terms (observed variables) of each ablation switch, from the registry."""
    out: dict[str, list[str]] = {}
    for kind in REGISTRY.values():
        out.setdefault(kind.switch, []).append(kind.observed_name)
    return out


def ablation_variants() -> list[str]:
    """One ablation variant per switch of the registry: ``no_<switch>``."""
    return [f"no_{s}" for s in switches()]


SENSITIVITY_THRESHOLD = 0.05  # arviz / priorsense default


def sensitivity(tree: xr.DataTree, var_names: list[str] | None = None) -> pd.DataFrame:
    """Power-scaling sensitivity of each variable to the prior and to each kind of evidence
    (``tree`` needs the groups ``add_log_densities`` adds). Vector quantities are summarised
    by the median over their elements. Values above 0.05 mean the posterior moves when that
    component is scaled: a sensitive prior with insensitive likelihoods means the data say
    little about the variable."""
    names = var_names or [*_scalar_params(tree), *[v for v in LATENT if v in tree["posterior"]]]
    ll = tree["log_likelihood"].to_dataset()
    quantities = SortedDraws.of(tree["posterior"].to_dataset(), names)
    cols: dict[str, dict[str, np.ndarray] | None] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz warns about Pareto-k on weak components
        cols["prior"] = quantities.sensitivity(_power_scaling_weights(tree["log_prior"]))
        for kind, terms in evidence_terms().items():
            use = [t for t in terms if t in ll.data_vars]
            if use:
                cols[kind] = quantities.sensitivity(_power_scaling_weights(ll[use]))
    rows = []
    for v in names:
        row: dict[str, object] = {"variable": v}
        for k, values in cols.items():
            row[k] = np.nan if values is None else float(np.nanmedian(values[v]))
        rows.append(row)
    df = pd.DataFrame(rows)
    like = [c for c in df.columns if c not in ("variable", "prior")]
    strong_prior = df["prior"] > SENSITIVITY_THRESHOLD
    any_like = (df[like] > SENSITIVITY_THRESHOLD).any(axis=1)
    # a component left uncomputed could be the one that moves the posterior: no diagnosis
    missing = df[["prior", *like]].isna().any(axis=1)
    df["diagnosis"] = np.select(
        [missing, strong_prior & any_like, strong_prior & ~any_like],
        [
            NOT_COMPUTED,
            "prior-data conflict or prior still matters",
            "prior dominates: weak evidence",
        ],
        default="data dominate",
    )
    return df


NOT_COMPUTED = "not computed: too few distinct draws"
POWER_SCALING_ALPHAS = (0.99, 1.01)  # arviz's psense default


def _power_scaling_weights(
    group: xr.DataTree | xr.Dataset,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Normalised importance weights (chain-major flat draws) of the posterior with one
    component, the sum of ``group``'s log densities, power-scaled by each of
    ``POWER_SCALING_ALPHAS``: arviz's own Pareto-smoothed ``power_scale_lw``, as its psense
    uses. None when they cannot be smoothed: arviz fits a generalized Pareto tail to them, and
    when the draws repeat (an update's reweighted posterior is a resample, each draw copied by
    its weight) the tail can be one value, where the fit is undefined."""
    ds = group.to_dataset() if isinstance(group, xr.DataTree) else group
    total = sum(
        (da.sum([d for d in da.dims if d not in SAMPLE]) for da in ds.data_vars.values()),
        start=xr.zeros_like(ds[CHAIN] * ds[DRAW], dtype=float),
    ).transpose(*SAMPLE)
    out = []
    for alpha in POWER_SCALING_ALPHAS:
        try:
            lw = total.azstats.power_scale_lw(alpha=alpha, dim=list(SAMPLE))
        except ValueError as exc:
            if "tail values are the same" not in str(exc):
                raise
            return None
        w = np.exp(np.asarray(lw.transpose(*SAMPLE).values, dtype=float).ravel())
        out.append(w / w.sum())
    return out[0], out[1]


@dataclass
class SortedDraws:
    """Every element of some posterior quantities, its draws sorted once: arviz's psense
    sorts each element's draws again for every component and sign (4 sorts x 8 components
    x 500 elements took 3-4 s of every run and update) and recomputes what does not depend
    on the weights; the cumulative Jensen-Shannon distances here are arviz's ``_cjs_dist``
    for all elements at once, with those parts computed once."""

    names: list[str]
    shapes: list[tuple[int, ...]]
    order: np.ndarray  # (element, draw): the flat draw behind each sorted value
    # per sign (the quantity, its negation): bin widths between sorted draws (element, bin),
    # the same times the unweighted ECDF, and the parts of the distance that need no weights
    binwidth: tuple[np.ndarray, np.ndarray]
    binwidth_p: tuple[np.ndarray, np.ndarray]
    p_int: tuple[np.ndarray, np.ndarray]
    p_log_p: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, posterior: xr.Dataset, names: list[str]) -> SortedDraws:
        flats = flat_draws(posterior, names)
        shapes = [flats[name].shape[1:] for name in names]
        values = np.concatenate([flats[n].reshape(len(flats[n]), -1).T for n in names], axis=0)
        order = np.argsort(values, axis=1)
        up = np.diff(np.take_along_axis(values, order, axis=1), axis=1)
        # the negation sorts in reverse: its bins are the same widths, reversed
        widths = (up, np.ascontiguousarray(up[:, ::-1]))
        cdf_p = _ecdf(values.shape[1])
        log_p = np.log2(cdf_p)
        with_p = tuple(w * cdf_p for w in widths)
        return cls(
            names,
            shapes,
            order,
            widths,
            with_p,
            tuple(w.sum(axis=1) for w in with_p),
            tuple(w @ log_p for w in with_p),
        )

    def sensitivity(
        self, weights: tuple[np.ndarray, np.ndarray] | None
    ) -> dict[str, np.ndarray] | None:
        """Each quantity's power-scaling sensitivity (per element, its shape) to the component
        whose power-scaled weights are ``weights``: the finite-difference derivative of the
        larger of the CJS distances of the quantity and of its negation, as arviz's
        ``power_scale_sense`` computes it."""
        if weights is None:
            return None
        grads = []
        work = self._work()
        for w, alpha in zip(weights, POWER_SCALING_ALPHAS, strict=True):
            ws = np.take(w, self.order, out=work["weights"])
            cjs = [self._cjs(sign, ws if sign == 0 else ws[:, ::-1], work) for sign in (0, 1)]
            grads.append(np.maximum(*cjs) / np.log2(alpha))
        per_element = (grads[1] - grads[0]) / 2
        out, start = {}, 0
        for name, shape in zip(self.names, self.shapes, strict=True):
            size = int(np.prod(shape, dtype=int))
            out[name] = per_element[start : start + size].reshape(shape)
            start += size
        return out

    def _work(self) -> dict[str, np.ndarray]:
        """Arrays of the size of every element's draws, reused by every component and sign:
        allocated anew, each of these (30 MB for a default run) was mapped and faulted in
        again by every call (the first calls took 0.4-0.6 s, later ones 0.14 s, measured)."""
        rows, n = self.order.shape
        return {
            "weights": np.empty((rows, n)),
            "cdf_q": np.empty((rows, n)),
            "with_q": np.empty((rows, n - 1)),
            "log_q": np.empty((rows, n - 1)),
            "mid": np.empty((rows, n - 1)),
        }

    def _cjs(
        self, sign: int, weights: np.ndarray, work: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """arviz's ``_cjs_dist`` of each element (rows of ``weights``, in sorted order). Ties
        weigh nothing (their bin has width 0), so their order does not matter. ``work``:
        ``_work``'s arrays, written over."""
        work = work if work is not None else self._work()
        n = weights.shape[1]
        cdf_p = _ecdf(n)
        cdf_q = np.cumsum(weights, axis=1, out=work["cdf_q"])[:, :-1]
        cdf_q /= weights.sum(axis=1, keepdims=True)
        width, with_p = self.binwidth[sign], self.binwidth_p[sign]
        with_q = np.multiply(width, cdf_q, out=work["with_q"])
        q_int = with_q.sum(axis=1)
        p_int = self.p_int[sign]
        log_q = work["log_q"]
        log_q.fill(0.0)
        np.log2(cdf_q, out=log_q, where=cdf_q != 0)
        mid = np.add(cdf_q, cdf_p, out=work["mid"])
        mid *= 0.5
        np.log2(mid, out=mid)  # cdf_p > 0: mid is never 0
        half_ln2 = 0.5 / np.log(2)
        pq = self.p_log_p[sign] - np.einsum("ij,ij->i", with_p, mid) + half_ln2 * (q_int - p_int)
        qp = (
            np.einsum("ij,ij->i", with_q, log_q)
            - np.einsum("ij,ij->i", with_q, mid)
            + half_ln2 * (p_int - q_int)
        )
        return np.sqrt((np.maximum(pq, 0) + np.maximum(qp, 0)) / (p_int + q_int))


def _ecdf(n: int) -> np.ndarray:
    """The unweighted ECDF between n sorted draws, as arviz's ``_cjs_dist`` takes it."""
    return np.linspace(1 / n, 1 - 1 / n, n - 1)


def annual_inflow_interval(tree: xr.DataTree, prob: float = 0.9) -> pd.DataFrame:
    """Annual hidden inflow (USD bn): posterior median and central ``prob`` interval by year
    (complete years in the window only)."""
    f = tree["posterior"]["hidden_inflow_usd"] / 1e9
    months = pd.DatetimeIndex(f[MONTH].values)
    full = [y for y in sorted(set(months.year)) if (months.year == y).sum() == 12]
    yearly = f.groupby(f[MONTH].dt.year).sum().sel(year=full)
    lo, mid, hi = (
        yearly.quantile(q, dim=SAMPLE).values for q in ((1 - prob) / 2, 0.5, (1 + prob) / 2)
    )
    return pd.DataFrame({"year": full, "median": mid, "lower": lo, "upper": hi})


def ablation(
    panel: xr.Dataset,
    variants: list[str] | None = None,
    *,
    sampler: Sampler | None = None,
    full: xr.DataTree | None = None,
    years: list[int] | None = None,
) -> pd.DataFrame:
    """The annual hidden inflow's 90% interval with all evidence and with each kind left out.

    Each variant (``no_<switch>``: the default spec with that switch off) is fitted to the
    same panel with the same sampler settings; ``full`` reuses an existing fit of the default
    spec. Each row carries its fit's divergences, largest R-hat and whether it met the spec's
    thresholds (``converged``): a variant whose refit did not converge has an interval to
    distrust."""
    variants = variants if variants is not None else ablation_variants()
    sampler = sampler or load_spec().sampler
    fits: dict[str, tuple[xr.DataTree, Diagnostics]] = {}
    if full is not None:
        fits["all evidence"] = (full, diagnose(full, load_spec()))
    else:
        res = fit(panel, load_spec(), sampler=sampler)
        fits["all evidence"] = (res.tree, res.diagnostics)
    for name in variants:
        res = fit(panel, load_spec(name), sampler=sampler)
        fits[f"without {name.removeprefix('no_').replace('_', ' ')}"] = (
            res.tree,
            res.diagnostics,
        )
    rows = []
    for label, (tree, diag) in fits.items():
        iv = annual_inflow_interval(tree)
        if years is not None:
            iv = iv[iv.year.isin(years)]
        for r in iv.itertuples(index=False):
            rows.append(
                {
                    "evidence": label,
                    "year": r.year,
                    "median": r.median,
                    "lower": r.lower,
                    "upper": r.upper,
                    "width": r.upper - r.lower,
                    # a refit that did not converge gives an interval to distrust, not read
                    "divergences": diag.divergences,
                    "max_rhat": float(diag.table["max_rhat"].max()),
                    "converged": diag.ok,
                }
            )
    df = pd.DataFrame(rows)
    base = df[df.evidence == "all evidence"].set_index("year")["width"]
    df["width_vs_all"] = df["width"] / df["year"].map(base)
    return df
