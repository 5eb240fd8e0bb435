"""Build the PyMC model from a spec and prepared data, as a composition of small parts:
hashrate share, fleet efficiency and power, regional allocation, electricity baselines,
the hidden inflow, and one likelihood block per kind of evidence.

Named quantities (dims in brackets): ``hashrate_share`` [month], ``mining_power_gw`` [month],
``hidden_inflow_usd`` [month] (USD per month), ``hidden_inflow_usd_bn`` [month],
``mining_revenue_usd_bn`` [month], ``electricity_cost_usd_bn`` [month],
``region_share`` [region, month], and each unit's baseline parameters; consumption by (region,
month) and its baseline without mining are not kept as draws (``nowcast.model.derived``
rebuilds them).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from nowcast.constants import MONTH, REGION
from nowcast.model import equations as eq
from nowcast.model.data import Block, ModelData
from nowcast.model.evidence import REGISTRY, EvidenceKind, gather_area_sums
from nowcast.model.spec import ModelSpec, Prior

YEAR = "year"
MINING_REGION = "mining_region"
ENERGY_SYSTEM = "energy_system"


def prior(name: str, p: Prior, **kwargs: object) -> pt.TensorVariable:
    """A PyMC random variable from a spec prior."""
    if p.dist == "Normal":
        return pm.Normal(name, mu=p.mu, sigma=p.sigma, **kwargs)
    if p.dist == "HalfNormal":
        return pm.HalfNormal(name, sigma=p.sigma, **kwargs)
    if p.dist == "LogNormal":
        return pm.LogNormal(name, mu=p.mu, sigma=p.sigma, **kwargs)
    if p.dist == "Beta":
        return pm.Beta(name, alpha=p.alpha, beta=p.beta, **kwargs)
    if p.dist == "Exponential":
        return pm.Exponential(name, lam=p.lam, **kwargs)
    if p.dist == "TruncatedNormal":
        return pm.TruncatedNormal(name, mu=p.mu, sigma=p.sigma, lower=p.lower, **kwargs)
    raise ValueError(f"unknown distribution {p.dist}")


def mixed_ar_walk(
    name: str,
    init: Prior,
    mean: pt.TensorVariable,
    rho: pt.TensorVariable,
    step_sd: pt.TensorVariable,
    centred: np.ndarray,
) -> pt.TensorVariable:
    """A Gaussian AR(1) over ``month`` around ``mean``: d_t = rho d_{t-1} + step_sd e_t with
    d_t = x_t - mean, starting from x_0 ~ ``init``. Centred at the months flagged in
    ``centred`` (the value is the free parameter there), non-centred elsewhere (the
    standardised innovation is). Tightly observed stretches sample well centred, unobserved
    ones non-centred (measured on the real data: either choice alone leaves a funnel).

    Built run by run, each a proper random variable, so prior sampling works too.
    """
    pieces = []
    last = None  # deviation at the end of the previous run
    t = 0
    k = 0
    T = len(centred)
    while t < T:
        end = t
        while end < T and centred[end] == centred[t]:
            end += 1
        n = end - t
        if last is None:
            mu0, sd0 = init.mu - mean, pt.as_tensor(init.sigma)
        else:
            mu0, sd0 = eq.share_logit_step(last, 0.0, rho, step_sd)
        if centred[t]:
            # centred on the level x itself, which the observations see directly
            if n == 1:
                level = pm.Normal(f"{name}_centred_{k}", mu=mean + mu0, sigma=sd0, shape=1)
            else:
                level = pm.AR(
                    f"{name}_centred_{k}",
                    rho=pt.stack([mean * (1.0 - rho), rho]),
                    constant=True,
                    sigma=step_sd,
                    init_dist=pm.Normal.dist(mu=mean + mu0, sigma=sd0),
                    ar_order=1,
                    steps=n - 1,
                )
            piece = level - mean
        else:
            z = pm.Normal(f"{name}_step_z_{k}", 0.0, 1.0, shape=n)
            scales = pt.concatenate([pt.stack([sd0]), pt.repeat(step_sd, n - 1)])
            if last is None:
                # the first month is drawn around the initial prior itself, not a transition
                piece = mu0 * rho ** np.arange(n) + eq.ar1_deviation_path(
                    0.0, rho, scales, z, n, pt
                )
            else:
                piece = eq.ar1_deviation_path(last, rho, scales, z, n, pt)
        pieces.append(piece)
        last = piece[-1]
        t = end
        k += 1
    return pm.Deterministic(name, mean + pt.concatenate(pieces), dims=MONTH)


def build_model(spec: ModelSpec, data: ModelData) -> pm.Model:
    """The hierarchical model of the hidden mining inflow for ``spec`` on ``data``."""
    P = spec.priors
    T = data.n_months
    coords: dict[str, object] = {
        MONTH: data.months,
        REGION: data.regions,
        MINING_REGION: data.units.mining,
        ENERGY_SYSTEM: data.units.energy_systems,
        YEAR: data.years,
    }
    for name, block in data.blocks.items():
        if block.n:
            coords[REGISTRY[name].dim] = np.arange(block.n)

    with pm.Model(coords=coords) as model:
        d = data.drivers
        hashrate = pm.Data("hashrate_eh_s", d["hashrate_eh_s"], dims=MONTH)
        revenue = pm.Data("network_revenue_usd", d["network_revenue_usd"], dims=MONTH)
        issuance = pm.Data("issuance_btc", d["issuance_btc"], dims=MONTH)
        usd_rub = pm.Data("usd_rub", d["usd_rub"], dims=MONTH)
        hours = pm.Data("hours_in_month", data.hours, dims=MONTH)
        brent = pm.Data("brent_usd_per_bbl", d["brent_usd_per_bbl"], dims=MONTH)
        key_rate = pm.Data("key_rate_pct", d["key_rate_pct"], dims=MONTH)

        # --- Russia's hashrate share: logit AR(1) around a long-run level, centred where the
        # CBECI map observes it month by month, non-centred elsewhere (either alone funnels)
        step_sd = prior("share_step_sd", P["share_step_sd"])
        long_run = prior("share_logit_mean", P["share_logit_mean"])
        rho = prior("share_ar_rho", P["share_ar_rho"])
        centred = np.zeros(T, dtype=bool)
        for kind in REGISTRY.values():
            if kind.centres_share and kind.name in data.blocks:
                centred |= data.blocks[kind.name].weights.sum(axis=0) > 0
        share_logit = mixed_ar_walk(
            "share_logit", P["share_logit_init"], long_run, rho, step_sd, centred
        )
        share = pm.Deterministic("hashrate_share", eq.logistic(share_logit, pt), dims=MONTH)

        # --- fleet efficiency and mining power
        log_eff = prior("efficiency_2019_log_j_per_th", P["efficiency_2019_log_j_per_th"])
        decline = prior("efficiency_decline_per_year", P["efficiency_decline_per_year"])
        pue = prior("overhead_pue", P["overhead_pue"])
        eff = pm.Deterministic(
            "efficiency_j_per_th",
            eq.fleet_efficiency_j_per_th(log_eff, decline, data.years_since_2019, pt),
            dims=MONTH,
        )
        power = pm.Deterministic(
            "mining_power_gw", eq.mining_power_gw(share, hashrate, eff, pue), dims=MONTH
        )

        # --- where the power is drawn: pooled mining-region effects, slow trends, bans; the
        # reference is mining elsewhere (spread over the energy systems' rests)
        units = data.units
        if units.mining:
            alloc, trend = _allocation(P, len(units.mining))
            ban_eff = prior("ban_effect", P["ban_effect"])
            years = data.years_from_allocation_reference
            logits = alloc[:, None] + trend[:, None] * years[None, :] - ban_eff * data.ban
            shares = eq.region_share(logits, pt)
        else:
            shares = pt.ones((1, T))
        region_share = pm.Deterministic(
            "region_share", eq.unit_mining_share(shares, units.placement, pt), dims=(REGION, MONTH)
        )

        # --- electricity baselines: level around an anchor, growth and seasonal amplitude
        # pooled within each energy system and across systems; one national effect per year
        level = _pooled("baseline_log_level", spec, data, anchor=units.anchor_log_twh)
        growth = _pooled("baseline_growth_per_year", spec, data)
        amp = _pooled("seasonal_amplitude", spec, data)
        yr_sd = prior("demand_year_effect_sd", P["demand_year_effect_sd"])
        yr_z = pm.Normal("demand_year_z", 0.0, 1.0, dims=YEAR)
        base = eq.baseline_twh(
            level[:, None] + (yr_sd * yr_z[data.year_index])[None, :],
            growth[:, None],
            data.years_since_start[None, :],
            amp[:, None],
            data.month_of_year[None, :],
            pt,
        )
        mining_twh = eq.mining_electricity_twh(power, hours)
        mining_twh = pm.Deterministic("mining_electricity_twh", mining_twh, dims=MONTH)
        # (unit, month) grids are not kept as draws (half a GB for a default fit, measured):
        # nowcast.model.derived rebuilds them from the kept parameters
        elec = eq.regional_electricity_twh(base, region_share, mining_twh)

        # --- the hidden inflow
        price = prior("electricity_price_rub_per_kwh", P["electricity_price_rub_per_kwh"])
        psi_b = prior("psi_before", P["psi_before"])
        psi_a = prior("psi_after", P["psi_after"])
        psi = eq.converted_fraction(data.after_legalisation, psi_b, psi_a, pt)
        m_rev = pm.Deterministic(
            "mining_revenue_usd_bn", eq.mining_revenue_usd_bn(share, revenue), dims=MONTH
        )
        cost = pm.Deterministic(
            "electricity_cost_usd_bn",
            eq.electricity_cost_usd_bn(power, hours, price, usd_rub),
            dims=MONTH,
        )
        inflow = pm.Deterministic(
            "hidden_inflow_usd_bn", eq.hidden_inflow_usd_bn(cost, m_rev, psi), dims=MONTH
        )
        pm.Deterministic("hidden_inflow_usd", inflow * 1e9, dims=MONTH)

        latents = {
            "share_logit": share_logit,
            "hashrate_share": share,
            "mining_power_gw": power,
            "region_share": region_share,
            "electricity_twh": elec,
            "mining_electricity_twh": mining_twh,
            "issuance_btc": issuance,
            "brent_usd_per_bbl": brent,
            "key_rate_pct": key_rate,
            "mining_revenue_usd_bn": m_rev,
            "hidden_inflow_usd_bn": inflow,
        }
        q = _Quantities(latents, spec)
        sums = [s for kind, block in used_kinds(spec, data) if kind.sums for s in kind.sums(block)]
        gather_area_sums(q, sums, pt)
        add_likelihoods(spec, data, q)
    return model


def _allocation(P: dict[str, Prior], n: int) -> tuple[pt.TensorVariable, pt.TensorVariable]:
    """Each mining region's allocation logit (against mining elsewhere) and its slow trend per
    year: pooled around a common mean with a common scale (non-centred) when there are several
    regions; one region has nothing to pool, and a pooling scale would only add a funnel."""
    a_mu = prior("alloc_logit_mean", P["alloc_logit_mean"])
    if n == 1:
        trend = pm.Normal("alloc_trend", 0.0, P["alloc_trend_sd"].sigma, dims=MINING_REGION)
        return pt.stack([a_mu]), trend
    a_sd = prior("alloc_logit_sd", P["alloc_logit_sd"])
    alloc = a_mu + a_sd * pm.Normal("alloc_logit_z", 0.0, 1.0, dims=MINING_REGION)
    b_sd = prior("alloc_trend_sd", P["alloc_trend_sd"])
    trend = b_sd * pm.Normal("alloc_trend_z", 0.0, 1.0, dims=MINING_REGION)
    return alloc, trend


def _mean_square(p: Prior) -> float:
    """E[X^2] of a scale's prior: the variance an offset ``scale x z`` has under it."""
    if p.dist == "HalfNormal":
        return p.sigma**2
    if p.dist == "LogNormal":
        return float(np.exp(2.0 * p.mu + 2.0 * p.sigma**2))
    raise ValueError(f"a pooling scale needs a HalfNormal or LogNormal prior, not {p.dist}")


def _pooled(
    name: str, spec: ModelSpec, data: ModelData, anchor: np.ndarray | None = None
) -> pt.TensorVariable:
    """A three-level pooled quantity over the units (``region``): a national mean (the prior
    ``<name>``; with ``anchor``, each unit's anchor instead), each energy system's offset with
    scale ``<name>_system_sd`` and each unit's offset within its system with scale
    ``<name>_sd``, all non-centred (most units have few figures or none, where the centred form
    funnels). Returns the value per unit. With ``spec.pooling`` off, each unit is drawn on its
    own with the width of the pooled model's marginal prior (the root of the offsets' summed
    mean squares)."""
    P = spec.priors
    if not spec.pooling:
        # no pooling: independent units, each with the pooled model's marginal prior width
        mean = anchor if anchor is not None else P[name].mu
        variance = _mean_square(P[f"{name}_system_sd"]) + _mean_square(P[f"{name}_sd"])
        if anchor is None:
            variance += P[name].sigma ** 2
        width = float(np.sqrt(variance))
        z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=REGION)
        return pm.Deterministic(f"{name}_by_region", mean + width * z, dims=REGION)
    centre = anchor if anchor is not None else prior(name, P[name])
    sys_sd = prior(f"{name}_system_sd", P[f"{name}_system_sd"])
    sys_z = pm.Normal(f"{name}_system_z", 0.0, 1.0, dims=ENERGY_SYSTEM)
    unit_sd = prior(f"{name}_sd", P[f"{name}_sd"])
    unit_z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=REGION)
    return pm.Deterministic(
        f"{name}_by_region",
        centre + sys_sd * sys_z[data.units.system] + unit_sd * unit_z,
        dims=REGION,
    )


class _Quantities(dict):
    """Latent quantities by name; a spec prior asked for by name becomes a PyMC variable the
    first time (so kinds of evidence sharing an error scale share one parameter)."""

    def __init__(self, latents: dict[str, pt.TensorVariable], spec: ModelSpec) -> None:
        super().__init__(latents)
        self.spec = spec

    def __missing__(self, name: str) -> pt.TensorVariable:
        if name not in self.spec.priors:
            raise KeyError(f"{name}: neither a latent quantity nor a prior of the spec")
        self[name] = prior(name, self.spec.priors[name])
        return self[name]


def used_kinds(spec: ModelSpec, data: ModelData) -> list[tuple[EvidenceKind, Block]]:
    """The kinds of evidence the spec uses that have figures in ``data``, with their blocks."""
    out = []
    for kind in REGISTRY.values():
        block = data.blocks.get(kind.name)
        if block is not None and block.n and spec.uses(kind.switch):
            out.append((kind, block))
    return out


def add_likelihoods(spec: ModelSpec, data: ModelData, q: dict[str, pt.TensorVariable]) -> None:
    """One likelihood per kind of evidence in the registry with figures in ``data``: the
    kind's prediction (kept as ``predicted_<kind>``) and its observation model."""
    for kind, block in used_kinds(spec, data):
        if block.mask is not None:
            _masked_likelihood(kind, block, data, q)
            continue
        predicted = pm.Deterministic(
            kind.predicted_name, kind.predict(q, block, data, pt), dims=kind.dim
        )
        family, params = _observation(kind, q, block, predicted)
        observed = kind.observation.to_scale(block.values, np)
        if kind.observation.lower_bound:
            # "more than X": the probability that the observed quantity exceeds X
            pm.Censored(
                kind.observed_name,
                family.dist(**params),
                lower=None,
                upper=observed,
                observed=observed,
                dims=kind.dim,
            )
        else:
            family(kind.observed_name, **params, observed=observed, dims=kind.dim)


def _masked_likelihood(
    kind: EvidenceKind, block: Block, data: ModelData, q: dict[str, pt.TensorVariable]
) -> None:
    """A kind's likelihood in a fixed shape (``nowcast.model.frame``): figures and mask are
    data, so one compiled model takes any origin's figures; rows masked out add nothing. The
    same observation model as the plain likelihood, kept as a potential named ``obs_<kind>``."""
    values = pm.Data(f"{kind.name}__value", block.values, dims=kind.dim)
    mask = pm.Data(f"{kind.name}__mask", block.mask, dims=kind.dim)
    # the kind's error model reads the figures as data (relative errors scale with them)
    held = replace(block, values=values)
    predicted = pm.Deterministic(
        kind.predicted_name, kind.predict(q, held, data, pt), dims=kind.dim
    )
    family, params = _observation(kind, q, held, predicted)
    observed = kind.observation.to_scale(values, pt)
    dist = family.dist(**params)
    # a lower bound's likelihood is what the plain model's pm.Censored gives at the bound
    logp = (pm.logccdf if kind.observation.lower_bound else pm.logp)(dist, observed)
    pm.Potential(kind.observed_name, pt.switch(mask > 0, logp, 0.0).sum())


def _observation(
    kind: EvidenceKind, q: dict[str, pt.TensorVariable], block: Block, predicted: pt.TensorVariable
) -> tuple[type, dict[str, pt.TensorVariable]]:
    """The kind's observation model around its prediction, on the scale its error lives on:
    the PyMC distribution and its parameters (for an observed variable or its ``.dist``)."""
    obs = kind.observation
    params = {"mu": obs.to_scale(predicted, pt), "sigma": obs.sigma(q, block, pt)}
    if obs.family == "student_t":
        return pm.StudentT, {"nu": obs.nu(q), **params}
    return pm.Normal, params
