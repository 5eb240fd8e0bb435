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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import RUSSIA

if TYPE_CHECKING:
    from nowcast.model.data import Block, ModelData

Array = Any  # numpy.ndarray or pytensor TensorVariable
CBECI_OBSERVER = "Cambridge Centre for Alternative Finance (CBECI)"
MLN_KWH_TO_TWH = 1e-3


@dataclass(frozen=True)
class PanelView:
    """The panel's period observations as plain arrays, for ``select``."""

    series: np.ndarray
    region: np.ndarray
    observer: np.ndarray
    regions: list[str]  # the spec's modelled mining regions


@dataclass(frozen=True)
class Observation:
    """The likelihood of one kind: figure ~ family(predicted, sigma) on ``scale``.

    ``sigma`` (and ``nu`` for Student-t) read the kind's parameters by prior name (a mapping
    that creates PyMC variables in the model and holds posterior draws elsewhere) and the
    block; they are written for NumPy and PyTensor alike.

    ``lower_bound``: the figure is a lower bound ("more than X"), a censored observation: its
    likelihood is the probability that the observed quantity exceeds it."""

    scale: Literal["identity", "log", "logit"]
    sigma: Callable[[Mapping[str, Array], Block, Any], Array]
    family: Literal["normal", "student_t"] = "normal"
    nu: Callable[[Mapping[str, Array]], Array] | None = None
    lower_bound: bool = False

    def to_scale(self, x: Array, xp: Any) -> Array:
        """A figure (or prediction) on the scale its error lives on."""
        if self.scale == "log":
            return xp.log(x)
        if self.scale == "logit":
            return xp.log(x) - xp.log1p(-x)
        return x

    def from_scale(self, y: Array, xp: Any) -> Array:
        """Inverse of :meth:`to_scale`."""
        if self.scale == "log":
            return xp.exp(y)
        if self.scale == "logit":
            return 1.0 / (1.0 + xp.exp(-y))
        return y


@dataclass(frozen=True)
class EvidenceKind:
    """One kind of evidence: selection, prediction, likelihood, label, unit and switch."""

    name: str
    switch: str
    label: str
    unit: str
    predict: Callable[[Mapping[str, Array], Block, ModelData, Any], Array]
    observation: Observation
    priors: tuple[str, ...]
    select: Callable[[PanelView], np.ndarray] | None = None
    build: Callable[[xr.Dataset, PanelView, ModelData], Block] | None = None
    # for a ``build`` kind: the panel figures it draws on (so a report can say why one that
    # was left out is not used); a ``select`` kind reads what it selects
    reads: Callable[[PanelView], np.ndarray] | None = None
    value_scale: float = 1.0  # panel figure -> the block's unit (mln kWh -> TWh: 1e-3)
    # block value -> the panel's figure where that is not a scale (a log ratio -> percent);
    # the simulator writes figures through it
    to_panel: Callable[[np.ndarray], np.ndarray] | None = None
    regional: bool = False  # figures about areas: sums over the modelled units (``Block.units``)
    # the (unit, month) sums a regional kind's ``predict`` reads (``AreaSum``): the model
    # evaluates every kind's at once, one gather per grid (``gather_area_sums``)
    sums: Callable[[Block], tuple[AreaSum, ...]] | None = None
    published: bool = True  # a published figure, shown against the posterior in the report
    display_scale: float = 1.0  # block unit -> the report's (fraction -> %: 100)
    display_unit: str = ""
    series: str = ""  # panel series the simulator writes, in the panel's unit
    series_unit: str = ""  # that series' unit where it differs from ``unit``
    centres_share: bool = False  # months it observes get the share walk centred
    default: bool = True  # used when a spec's [evidence] table does not name the switch

    def candidates(self, view: PanelView) -> np.ndarray:
        """The panel figures this kind may use (before choices such as one figure per
        period): its ``select`` or ``reads`` mask; none for evidence built from drivers."""
        rule = self.select or self.reads
        return rule(view) if rule is not None else np.zeros(len(view.series), dtype=bool)

    @property
    def observed_name(self) -> str:
        return f"obs_{self.name}"

    @property
    def predicted_name(self) -> str:
        return f"predicted_{self.name}"

    @property
    def dim(self) -> str:
        return f"{self.name}_obs"


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


# --------------------------------------------------------------------------- helpers


def period_sum(monthly: Array, block: Block) -> Array:
    """Sum of a monthly quantity (last axis: month) over each figure's period."""
    return monthly @ block.weights.T


def period_mean(monthly: Array, block: Block) -> Array:
    """Mean of a monthly quantity over each figure's period."""
    w = block.weights / block.weights.sum(axis=1, keepdims=True)
    return monthly @ w.T


def regional(q: Array, block: Block, xp: Any) -> Array:
    """A (region, month) quantity summed over each figure's area: (figure, month). Leading
    axes (draws) broadcast."""
    return xp.matmul(block.units, q)


def _estimate_sd(p: Mapping[str, Array], block: Block, xp: Any) -> Array:
    return p["estimate_log_sd"]


ESTIMATE = Observation("log", _estimate_sd)
SHARE_ESTIMATE = Observation("logit", _estimate_sd)


def _relative_electricity_sd(p: Mapping[str, Array], block: Block, xp: Any) -> Array:
    return p["electricity_obs_rel_sd"] * block.values


# Electricity figures come from many publishers (the System Operator, regional grids and
# governments, Rosstat, press statements) whose definitions differ at the margin (net or gross,
# isolated systems in or out, first release or revised), and the baselines are smooth: a
# Student-t error with 5 degrees of freedom keeps one discordant figure from pinning a region's
# baseline. With a normal error, the regional levels' likelihood was so sharp where the shared
# relative error is small that the sampler diverged about once in 4,000 draws unless it took
# twice the leapfrog steps (docs/MODEL.md, sampler settings).
ELECTRICITY_ERROR_NU = 5.0
RELATIVE_ELECTRICITY = Observation(
    "identity",
    _relative_electricity_sd,
    family="student_t",
    nu=lambda p: ELECTRICITY_ERROR_NU,
)
# a lower bound keeps the normal error: its likelihood is a tail probability, and the
# Student-t's (an incomplete beta function) costs far more in the gradient
ELECTRICITY_AT_LEAST = Observation("identity", _relative_electricity_sd, lower_bound=True)
ESTIMATE_AT_LEAST = Observation("log", _estimate_sd, lower_bound=True)


def _russia(series: str) -> Callable[[PanelView], np.ndarray]:
    return lambda v: (v.series == series) & (v.region == RUSSIA)


def _in_regions(series: str) -> Callable[[PanelView], np.ndarray]:
    return lambda v: (v.series == series) & np.isin(v.region, v.regions)


def _areas_block(
    series: str, value: Callable[[np.ndarray], np.ndarray] = lambda x: x, *, level: bool = True
) -> Callable[[xr.Dataset, PanelView, ModelData], Block]:
    """Figures of ``series`` about areas that are sums over the modelled units (a modelled
    region, a joint area of modelled regions, an energy system, the country), with their
    ``Block.units``; the others are recorded as dropped with the reason. ``value``: panel
    figure -> block value. A ``level`` (not a change on a year earlier) of an energy system or
    of the UES is dropped too: the System Operator counts those without the isolated systems,
    while the model's units add up to Ember's national total, which includes them."""

    def build(panel: xr.Dataset, view: PanelView, data: ModelData) -> Block:
        from nowcast.model.data import _geography, area_units, block_from_panel, drop

        block = block_from_panel(panel, view.series == series)
        # one statement relayed by several sites is one figure, not several
        again = block.labels.duplicated(
            ["series", "region", "period_start", "period_end", "value"]
        ).to_numpy()
        drop(
            data,
            block.labels[again],
            "the same figure for the same area and period relayed by another site: counted once",
        )
        geo = _geography()
        ues = np.array(
            [
                level
                and a in geo
                and (geo.kind(a) == "energy_system" or (geo.kind(a) == "country" and a != RUSSIA))
                for a in block.labels["region"]
            ],
            dtype=bool,
        )
        drop(
            data,
            block.labels[ues & ~again],
            "a level in the System Operator's definition (an energy system or the UES, without"
            " the isolated systems), while the model's units add up to Ember's national total,"
            " which includes them (about 5% more): only its changes on a year earlier are used",
        )
        rows = [area_units(a, data.regions) for a in block.labels["region"]]
        ok = np.array([r is not None for r in rows], dtype=bool) & ~again & ~ues
        drop(
            data,
            block.labels[~ok & ~again & ~ues],
            "its area is no sum over the model's units (the spec's regions and the rest of each"
            " energy system): a region the spec does not model on its own, a joint area holding"
            " one, or a grouping whose scope its publisher did not state",
        )
        kept = block.subset(ok)
        kept.values = value(kept.values)
        units = [r for r, k in zip(rows, ok, strict=True) if k]
        kept.units = np.array(units).reshape(kept.n, len(data.regions))
        return kept

    return build


def _yoy_block(panel: xr.Dataset, view: PanelView, data: ModelData) -> Block:
    """Year-on-year changes (percent) as log ratios of two period sums: the block's weights
    are +1 over the figure's period and -1 over the same period a year earlier (the two never
    overlap), so one row holds both sums. A figure whose comparison period begins before the
    window is dropped with that reason."""
    from nowcast.model.data import drop
    from nowcast.panel import period_weights

    block = _areas_block(
        "regional_consumption_yoy_pct", lambda x: np.log1p(x / 100.0), level=False
    )(panel, view, data)
    if not block.n:
        return block
    starts = pd.to_datetime(block.labels["period_start"]) - pd.DateOffset(years=1)
    ends = pd.to_datetime(block.labels["period_end"]) - pd.DateOffset(years=1)
    inside = (starts >= data.months[0]).to_numpy()
    drop(
        data,
        block.labels[~inside],
        f"the period a year earlier, which the change compares with, begins before the"
        f" model's window (from {data.months[0]:%Y-%m})",
    )
    long = (block.weights.sum(axis=1) > 12.0 + 1e-9) & inside
    drop(data, block.labels[long], "a change on a year earlier over a period longer than a year")
    keep = inside & ~long
    earlier = period_weights(starts[keep], ends[keep], data.months)
    block = block.subset(keep)
    block.weights = block.weights - earlier
    return block


def _yoy_sums(block: Block) -> tuple[AreaSum, AreaSum]:
    """The period a change covers (positive weights) and the period a year earlier."""
    return (
        AreaSum(ELECTRICITY_GRID, block.units, np.clip(block.weights, 0, None)),
        AreaSum(ELECTRICITY_GRID, block.units, np.clip(-block.weights, 0, None)),
    )


def _yoy_predict(q: Mapping[str, Array], block: Block, data: ModelData, xp: Any) -> Array:
    now, before = (sum_areas(q, s, xp) for s in _yoy_sums(block))
    return xp.log(now) - xp.log(before)


def area_period_sums(monthly_by_unit: Array, units: np.ndarray, weights: np.ndarray, xp: Any):
    """For each figure i, sum over units u and months t of units[i, u] x weights[i, t] x
    the (unit, month) quantity: (..., figure), leading axes (draws) broadcast.

    Computed from the figures' non-zero (unit, month) cells only, gathered and summed figure by
    figure (a cumulative sum read at each figure's ends): a figure touches a few cells of a
    30-unit x 120-month grid, so the dense product (figure x unit x month) did ~25 times the
    work, most of a regional model's gradient time."""
    n_units, n_months = units.shape[1], weights.shape[1]
    cells = units[:, :, None] * weights[:, None, :]  # (figure, unit, month); figures are few
    figure, unit, month = np.nonzero(cells)  # sorted by figure
    lead = [monthly_by_unit.shape[i] for i in range(monthly_by_unit.ndim - 2)]
    if not len(figure):
        return xp.zeros((*lead, units.shape[0]))
    flat = xp.reshape(monthly_by_unit, (*lead, n_units * n_months))
    terms = xp.take(flat, unit * n_months + month, axis=-1) * cells[figure, unit, month]
    running = xp.cumsum(terms, axis=-1)
    ends = np.searchsorted(figure, np.arange(units.shape[0]), side="right") - 1
    starts = np.searchsorted(figure, np.arange(units.shape[0]), side="left") - 1
    if ((ends - starts) < 1).any():
        raise ValueError("a figure with no unit or no month: nothing to sum")
    before = xp.take(running, np.maximum(starts, 0), axis=-1) * (starts >= 0)
    return xp.take(running, ends, axis=-1) - before


# the (unit, month) quantities regional figures sum, by name, from the latent quantities
ELECTRICITY_GRID = "electricity_twh"
MINING_GRID = "mining_electricity_twh_by_unit"
GRIDS: dict[str, Callable[[Mapping[str, Array], Any], Array]] = {
    ELECTRICITY_GRID: lambda q, xp: q["electricity_twh"],
    MINING_GRID: lambda q, xp: q["region_share"] * xp.expand_dims(q["mining_electricity_twh"], -2),
}


@dataclass(frozen=True)
class AreaSum:
    """A (unit, month) quantity of the latents (``grid``, a key of ``GRIDS``) summed, for
    each figure (row), over units weighted by ``units`` and months weighted by ``weights``."""

    grid: str
    units: np.ndarray
    weights: np.ndarray

    @property
    def key(self) -> tuple:
        """Where ``gather_area_sums`` keeps the result among the latent quantities."""
        return ("area_sum", self.grid, self.units.tobytes(), self.weights.tobytes())


def sum_areas(q: Mapping[str, Array], s: AreaSum, xp: Any) -> Array:
    """The sums ``s`` of the latents ``q``: as ``gather_area_sums`` left them in ``q``, or
    computed from the grid itself (NumPy readers of a saved run)."""
    got = q.get(s.key)
    if got is not None:
        return got
    return area_period_sums(GRIDS[s.grid](q, xp), s.units, s.weights, xp)


def gather_area_sums(q: dict, sums: list[AreaSum], xp: Any) -> None:
    """Evaluate every sum in ``sums`` with one gather per grid and keep each in ``q`` under
    its key, where ``sum_areas`` finds it. One gather's gradient is one scatter into the grid;
    a gather per kind of evidence (eight in the default model) cost more than the sums."""
    by_grid: dict[str, dict[tuple, AreaSum]] = {}
    for s in sums:
        by_grid.setdefault(s.grid, {})[s.key] = s
    for grid, wanted in by_grid.items():
        todo = list(wanted.values())
        total = area_period_sums(
            GRIDS[grid](q, xp),
            np.concatenate([s.units for s in todo]),
            np.concatenate([s.weights for s in todo]),
            xp,
        )
        stop = np.cumsum([s.units.shape[0] for s in todo])
        for s, end in zip(todo, stop, strict=True):
            q[s.key] = total[..., end - s.units.shape[0] : end]


def _sum_of_areas(grid: str) -> dict[str, Callable]:
    """``predict`` and ``sums`` of a kind whose figures are each one area's sum of ``grid``
    over its period: the prediction reads the sum the kind declares, so the two agree."""

    def sums(block: Block) -> tuple[AreaSum]:
        return (AreaSum(grid, block.units, block.weights),)

    def predict(q: Mapping[str, Array], block: Block, data: ModelData, xp: Any) -> Array:
        return sum_areas(q, sums(block)[0], xp)

    return {"predict": predict, "sums": sums}


def _ruble_block(panel: xr.Dataset, view: PanelView, data: ModelData) -> Block:
    from nowcast.model.data import Block

    fx = data.drivers["usd_rub"]
    months = data.months[1:]
    ends = months + pd.offsets.MonthEnd(0)
    return Block(
        values=np.diff(np.log(fx)),
        weights=np.eye(data.n_months)[1:],
        labels=pd.DataFrame(
            {
                "series": "usd_rub_mean",
                "region": RUSSIA,
                "observer": "Bank of Russia",
                "period_start": months,
                "period_end": ends,
                "published": ends,
                "value": fx[1:],
            }
        ),
    )


def _ruble_predict(q: Mapping[str, Array], block: Block, data: ModelData, xp: Any) -> Array:
    from nowcast.model import equations as eq

    # the drivers as the model holds them (graph data in PyMC), else the prepared arrays
    brent = q.get("brent_usd_per_bbl", data.drivers["brent_usd_per_bbl"])
    key_rate = q.get("key_rate_pct", data.drivers["key_rate_pct"])
    monthly = eq.ruble_dlog_mean(
        q["ruble_intercept"],
        q["ruble_oil_beta"],
        xp.concatenate([xp.zeros(1), xp.diff(xp.log(brent))]),
        q["ruble_rate_beta"],
        xp.concatenate([xp.zeros(1), xp.diff(key_rate)]),
        # switched off (the baseline no_ruble_inflow): no response parameter exists at all
        *((q["ruble_gamma"], q["hidden_inflow_usd_bn"]) if data.ruble_inflow else (0.0, 0.0)),
    )
    return period_sum(monthly, block)


def _errors_omissions_block(panel: xr.Dataset, view: PanelView, data: ModelData) -> Block:
    from nowcast.model.data import block_from_panel, non_overlapping

    eo = (view.series == "bop_net_errors_omissions_usd_bn") & (view.region == RUSSIA)
    # the press quotes only the size of E&O since 2022 and calls it an unrecorded outflow
    mag = (view.series == "bop_net_errors_omissions_magnitude_usd_bn") & (view.region == RUSSIA)
    both = block_from_panel(panel, eo | mag)
    both.values = np.where(both.labels["series"].str.contains("magnitude"), -1.0, 1.0) * (
        both.values
    )
    return non_overlapping(both)


def _errors_omissions_predict(
    q: Mapping[str, Array], block: Block, data: ModelData, xp: Any
) -> Array:
    from nowcast.model import equations as eq

    monthly = eq.errors_omissions_usd_bn(
        q["eo_intercept"], q["eo_shift"], data.after_eo_shift, q["eo_k"], q["hidden_inflow_usd_bn"]
    )
    return period_sum(monthly, block)


def _share_logit_mean(q: Mapping[str, Array], block: Block, data: ModelData, xp: Any) -> Array:
    from nowcast.model import equations as eq

    # the published share is of the period as a whole: the mean of the logit over its months
    return eq.logistic(period_mean(q["share_logit"], block), xp)


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
