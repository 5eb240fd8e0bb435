"""The parts the kinds of evidence in ``nowcast.model.evidence`` are declared with: period
sums and means, the likelihoods several kinds share, selections, and the blocks and
predictions of the kinds built from more than a selection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import RUSSIA
from nowcast.model.area_sums import ELECTRICITY_GRID, AreaSum, sum_areas
from nowcast.model.evidence_kind import Array, Observation, PanelView

if TYPE_CHECKING:
    from nowcast.model.data import Block, ModelData

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
