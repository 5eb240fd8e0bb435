"""The evidence registry: every kind of evidence declared once.

A kind of evidence (an :class:`EvidenceKind`) says

* which panel figures it is (``select``: a mask over the panel's period observations, or
  ``build`` for evidence that is not a list of published figures, like the ruble's monthly
  moves),
* how the model predicts each figure from the latent quantities (``predict``, written for
  NumPy and PyTensor alike, on the figure's own scale and unit),
* its likelihood (``observation``: the scale the error lives on, its family and its sd),
* its label, unit and ablation ``switch`` (the key of a spec's ``[evidence]`` table).

Data preparation (``nowcast.model.data``), the model (``nowcast.model.build``), identification
(sensitivity per switch, ablation variants ``no_<switch>``), the simulator (which writes every
kind it draws as rows of the generic long CSV) and the report (published figures against the
posterior, read from the saved run by ``nowcast.model.published``) all read this registry. Adding a
kind of evidence is a source parser, one :func:`register` call and tests.

The model stores each kind's prediction as ``predicted_<name>`` (dims ``(<name>_obs,)``) and its
likelihood as ``obs_<name>``; a fitted run keeps each kind's figures, periods and labels in its
``evidence`` group, so nothing downstream re-derives the model.

This module holds the registry and the kinds registered in it; what they are made of lives
beside it: ``nowcast.model.evidence_kind`` (``EvidenceKind``, ``Observation``, ``PanelView``),
``nowcast.model.evidence_parts`` (period sums, shared likelihoods, blocks and predictions) and
``nowcast.model.area_sums`` (sums over the areas of regional figures).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nowcast.constants import RUSSIA
from nowcast.model.area_sums import (
    ELECTRICITY_GRID,
    GRIDS,
    MINING_GRID,
    AreaSum,
    _sum_of_areas,
    area_period_sums,
    gather_area_sums,
    sum_areas,
)
from nowcast.model.evidence_kind import Array, EvidenceKind, Observation, PanelView
from nowcast.model.evidence_parts import (
    ELECTRICITY_AT_LEAST,
    ELECTRICITY_ERROR_NU,
    ESTIMATE,
    ESTIMATE_AT_LEAST,
    RELATIVE_ELECTRICITY,
    SHARE_ESTIMATE,
    _areas_block,
    _errors_omissions_block,
    _errors_omissions_predict,
    _in_regions,
    _ruble_block,
    _ruble_predict,
    _russia,
    _share_logit_mean,
    _yoy_block,
    _yoy_predict,
    _yoy_sums,
    period_mean,
    period_sum,
    regional,
)

CBECI_OBSERVER = "Cambridge Centre for Alternative Finance (CBECI)"
MLN_KWH_TO_TWH = 1e-3


REGISTRY: dict[str, EvidenceKind] = {}


def register(kind: EvidenceKind) -> EvidenceKind:
    """Add a kind of evidence to the registry (its name must be new)."""
    if kind.name in REGISTRY:
        raise ValueError(f"evidence kind {kind.name!r} is already registered")
    REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind of evidence (for tests that add one)."""
    REGISTRY.pop(name, None)


def switches() -> dict[str, bool]:
    """Every ablation switch with its default."""
    out: dict[str, bool] = {}
    for k in REGISTRY.values():
        out[k.switch] = out.get(k.switch, False) or k.default
    return out


def kinds_of(switch: str) -> list[EvidenceKind]:
    """The kinds of evidence one switch turns on or off."""
    return [k for k in REGISTRY.values() if k.switch == switch]


def priors_of(switch_on: Callable[[str], bool] | None = None) -> set[str]:
    """Prior names the likelihoods need (of the kinds whose switch is on, or all kinds)."""
    return {
        p for k in REGISTRY.values() if switch_on is None or switch_on(k.switch) for p in k.priors
    }


# --------------------------------------------------------------------------- the kinds

register(
    EvidenceKind(
        name="cbeci_share",
        switch="hashrate_share",
        label="Russia's share of the network hashrate (CBECI mining map)",
        unit="fraction",
        select=lambda v: (
            (v.series == "hashrate_share") & (v.region == RUSSIA) & (v.observer == CBECI_OBSERVER)
        ),
        predict=_share_logit_mean,
        observation=Observation("logit", lambda p, b, xp: p["cbeci_logit_sd"]),
        priors=("cbeci_logit_sd",),
        published=False,  # a monthly series, shown as the share's fit rather than figure by figure
        display_scale=100.0,
        display_unit="%",
        series="hashrate_share",
        centres_share=True,
    )
)
register(
    EvidenceKind(
        name="share_estimates",
        switch="hashrate_share",
        label="Russia's share of the network hashrate",
        unit="fraction",
        select=lambda v: (
            (v.series == "hashrate_share") & (v.region == RUSSIA) & (v.observer != CBECI_OBSERVER)
        ),
        predict=_share_logit_mean,
        observation=SHARE_ESTIMATE,
        priors=("estimate_log_sd",),
        display_scale=100.0,
        display_unit="%",
        series="hashrate_share",
    )
)
register(
    EvidenceKind(
        name="power_gw",
        switch="published_power",
        label="Russia's mining power",
        unit="GW",
        select=_russia("mining_power_gw"),
        predict=lambda q, b, d, xp: period_mean(q["mining_power_gw"], b),
        observation=ESTIMATE,
        priors=("estimate_log_sd",),
        series="mining_power_gw",
    )
)
register(
    EvidenceKind(
        name="load_mw",
        switch="published_power",
        label="mining load",
        unit="MW",
        # a modelled region's load, or the country's (every unit): both files' series
        select=lambda v: (
            np.isin(v.series, ["mining_load_mw", "regional_mining_load_mw"])
            & (np.isin(v.region, v.regions) | (v.region == RUSSIA))
        ),
        predict=lambda q, b, d, xp: (
            (
                b.weights
                / b.weights.sum(axis=1, keepdims=True)
                * regional(q["region_share"], b, xp)
                * xp.expand_dims(q["mining_power_gw"], -2)
            ).sum(axis=-1)
            * 1e3
        ),
        observation=ESTIMATE,
        priors=("estimate_log_sd",),
        regional=True,
        series="mining_load_mw",
    )
)
register(
    EvidenceKind(
        name="mining_twh",
        switch="published_power",
        label="Russia's mining electricity",
        unit="TWh",
        select=_russia("mining_electricity_twh"),
        predict=lambda q, b, d, xp: period_sum(q["mining_electricity_twh"], b),
        observation=ESTIMATE,
        priors=("estimate_log_sd",),
        series="mining_electricity_twh",
    )
)
register(
    EvidenceKind(
        name="btc_mined",
        switch="btc_mined",
        label="BTC mined in Russia",
        unit="BTC",
        select=_russia("btc_mined_btc"),
        predict=lambda q, b, d, xp: period_sum(q["hashrate_share"] * q["issuance_btc"], b),
        observation=ESTIMATE,
        priors=("estimate_log_sd",),
        series="btc_mined_btc",
    )
)
register(
    EvidenceKind(
        name="mining_revenue",
        switch="btc_mined",
        label="Russia's mining revenue",
        unit="USD bn",
        select=_russia("mining_revenue_usd_bn"),
        predict=lambda q, b, d, xp: period_sum(q["mining_revenue_usd_bn"], b),
        observation=ESTIMATE,
        priors=("estimate_log_sd",),
        series="mining_revenue_usd_bn",
    )
)
register(
    EvidenceKind(
        name="electricity_regional",
        switch="electricity",
        label="regional electricity consumption",
        unit="TWh",
        select=_in_regions("electricity_consumption_mln_kwh"),
        **_sum_of_areas(ELECTRICITY_GRID),
        observation=RELATIVE_ELECTRICITY,
        priors=("electricity_obs_rel_sd",),
        value_scale=MLN_KWH_TO_TWH,
        regional=True,
        series="electricity_consumption_mln_kwh",
        series_unit="million kWh",
    )
)
register(
    EvidenceKind(
        name="electricity_national",
        switch="electricity",
        label="Russia's electricity demand",
        unit="TWh",
        select=_russia("electricity_demand_twh"),
        predict=lambda q, b, d, xp: period_sum(q["electricity_twh"].sum(axis=-2), b),
        observation=RELATIVE_ELECTRICITY,
        priors=("electricity_obs_rel_sd",),
        series="electricity_demand_twh",
    )
)
register(
    EvidenceKind(
        name="electricity_areas",
        switch="regional_electricity",
        label="electricity consumption of a region or the country (regional figures)",
        unit="TWh",
        build=_areas_block("regional_consumption_mln_kwh", lambda x: x * MLN_KWH_TO_TWH),
        reads=lambda v: v.series == "regional_consumption_mln_kwh",
        **_sum_of_areas(ELECTRICITY_GRID),
        observation=RELATIVE_ELECTRICITY,
        priors=("electricity_obs_rel_sd",),
        value_scale=MLN_KWH_TO_TWH,
        regional=True,
        series="regional_consumption_mln_kwh",
        series_unit="million kWh",
    )
)
register(
    EvidenceKind(
        name="electricity_yoy",
        switch="regional_electricity",
        label="change on a year earlier of a region's or the country's electricity consumption",
        unit="log ratio",
        build=_yoy_block,
        reads=lambda v: v.series == "regional_consumption_yoy_pct",
        predict=_yoy_predict,
        sums=_yoy_sums,
        observation=Observation("identity", lambda p, b, xp: p["yoy_obs_sd"]),
        priors=("yoy_obs_sd",),
        regional=True,
        to_panel=lambda v: np.expm1(v) * 100.0,
        series="regional_consumption_yoy_pct",
        series_unit="percent",
    )
)
register(
    EvidenceKind(
        name="electricity_at_least",
        switch="regional_electricity",
        label="electricity consumption of a region or the country, a lower bound",
        unit="TWh",
        build=_areas_block(
            "regional_consumption_mln_kwh_lower_bound", lambda x: x * MLN_KWH_TO_TWH
        ),
        reads=lambda v: v.series == "regional_consumption_mln_kwh_lower_bound",
        **_sum_of_areas(ELECTRICITY_GRID),
        observation=ELECTRICITY_AT_LEAST,
        priors=("electricity_obs_rel_sd",),
        value_scale=MLN_KWH_TO_TWH,
        regional=True,
        # no ``series``: the simulator draws figures, not statements that one exceeds a bound
    )
)
register(
    EvidenceKind(
        name="mining_twh_areas",
        switch="published_power",
        label="mining electricity of a region",
        unit="TWh",
        build=_areas_block("regional_mining_consumption_mln_kwh", lambda x: x * MLN_KWH_TO_TWH),
        reads=lambda v: v.series == "regional_mining_consumption_mln_kwh",
        **_sum_of_areas(MINING_GRID),
        observation=ESTIMATE,
        priors=("estimate_log_sd",),
        value_scale=MLN_KWH_TO_TWH,
        regional=True,
        series="regional_mining_consumption_mln_kwh",
        series_unit="million kWh",
    )
)
register(
    EvidenceKind(
        name="mining_twh_areas_at_least",
        switch="published_power",
        label="mining electricity of a region, a lower bound",
        unit="TWh",
        build=_areas_block(
            "regional_mining_consumption_mln_kwh_lower_bound", lambda x: x * MLN_KWH_TO_TWH
        ),
        reads=lambda v: v.series == "regional_mining_consumption_mln_kwh_lower_bound",
        **_sum_of_areas(MINING_GRID),
        observation=ESTIMATE_AT_LEAST,
        priors=("estimate_log_sd",),
        value_scale=MLN_KWH_TO_TWH,
        regional=True,
    )
)
register(
    EvidenceKind(
        name="usd_rub_dlog",
        switch="ruble",
        label="monthly log change of USD/RUB (monthly mean)",
        unit="log change",
        build=_ruble_block,
        predict=_ruble_predict,
        observation=Observation(
            "identity",
            lambda p, b, xp: p["ruble_scale"],
            family="student_t",
            nu=lambda p: p["ruble_nu"] + 2.0,
        ),
        priors=(
            "ruble_intercept",
            "ruble_oil_beta",
            "ruble_rate_beta",
            "ruble_gamma",
            "ruble_scale",
            "ruble_nu",
        ),
        published=False,
    )
)
register(
    EvidenceKind(
        name="errors_omissions",
        switch="bop",
        label="net errors and omissions (balance of payments)",
        unit="USD bn",
        build=_errors_omissions_block,
        reads=lambda v: (
            np.isin(
                v.series,
                ["bop_net_errors_omissions_usd_bn", "bop_net_errors_omissions_magnitude_usd_bn"],
            )
            & (v.region == RUSSIA)
        ),
        predict=_errors_omissions_predict,
        observation=Observation(
            "identity",
            # a quarter's noise sd is eo_sd; a period of n months scales it by sqrt(n / 3)
            lambda p, b, xp: p["eo_sd"] * np.sqrt(b.weights.sum(axis=1) / 3.0),
        ),
        priors=("eo_intercept", "eo_shift", "eo_k", "eo_sd"),
        published=False,
        series="bop_net_errors_omissions_usd_bn",
    )
)


__all__ = [
    "CBECI_OBSERVER",
    "ELECTRICITY_AT_LEAST",
    "ELECTRICITY_ERROR_NU",
    "ELECTRICITY_GRID",
    "ESTIMATE",
    "ESTIMATE_AT_LEAST",
    "GRIDS",
    "MINING_GRID",
    "MLN_KWH_TO_TWH",
    "REGISTRY",
    "RELATIVE_ELECTRICITY",
    "SHARE_ESTIMATE",
    "AreaSum",
    "Array",
    "EvidenceKind",
    "Observation",
    "PanelView",
    "area_period_sums",
    "gather_area_sums",
    "kinds_of",
    "period_mean",
    "period_sum",
    "priors_of",
    "register",
    "regional",
    "sum_areas",
    "switches",
    "unregister",
]
