"""Quantities of a fitted model rebuilt from its kept draws, through the model's own equations.

A default fit has 30 units x 120 months; keeping consumption and its baseline by (unit, month)
as draws took half a GB and a second of post-processing (measured), so the model keeps the
parameters they are made of (each unit's level, growth and seasonal amplitude, the demand
effect of each year, the mining shares and mining's electricity) and readers rebuild the grids
here: the charts, notebooks, backtests' scores of later figures, tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import MONTH, REGION
from nowcast.model import equations as eq
from nowcast.model.data import baseline_calendar

YEAR = "year"
LEVEL = "baseline_log_level_by_region"
GROWTH = "baseline_growth_per_year_by_region"
AMPLITUDE = "seasonal_amplitude_by_region"
YEAR_SD = "demand_year_effect_sd"
YEAR_Z = "demand_year_z"
SHARE = "region_share"
MINING_TWH = "mining_electricity_twh"
# what a fit keeps that the grids are made of
PARTS = (LEVEL, GROWTH, AMPLITUDE, YEAR_SD, YEAR_Z, SHARE, MINING_TWH)


def unit_electricity_twh(
    values: Mapping[str, np.ndarray], months: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """Consumption by unit and month and what it would be without mining (TWh per month), each
    (..., unit, month), from one set of draws (``PARTS`` by name, leading axes the draws':
    per unit (..., unit), per year (..., year), ``region_share`` (..., unit, month), mining's
    electricity (..., month); the sd (...)) on the window ``months``."""
    cal = baseline_calendar(months)
    year_effect = np.asarray(values[YEAR_SD])[..., None] * np.asarray(values[YEAR_Z])
    base = eq.baseline_twh(
        np.asarray(values[LEVEL])[..., :, None] + year_effect[..., None, cal["year_index"]],
        np.asarray(values[GROWTH])[..., :, None],
        cal["years_since_start"],
        np.asarray(values[AMPLITUDE])[..., :, None],
        cal["month_of_year"],
        np,
    )
    total = eq.regional_electricity_twh(
        base, np.asarray(values[SHARE]), np.asarray(values[MINING_TWH])
    )
    return total, base


def has_unit_electricity(ds: xr.Dataset) -> bool:
    """Whether ``ds`` (a posterior or prior group) keeps what the grids are made of."""
    return all(name in ds for name in PARTS)


def unit_electricity(ds: xr.Dataset, regions: list[str] | None = None) -> xr.Dataset:
    """``electricity_twh`` and ``electricity_baseline_twh`` by (draw dims, region, month), TWh
    per month, for every draw of a fitted run's posterior or prior group ``ds``; ``regions``
    keeps only those units (less memory for a chart of a few)."""
    missing = [name for name in PARTS if name not in ds]
    if missing:
        raise KeyError(f"the draws lack {missing}: not a regional model's posterior or prior")
    lead = list(ds[YEAR_SD].dims)
    units = list(ds[REGION].values) if regions is None else list(regions)
    pick = {REGION: units}
    months = pd.DatetimeIndex(ds[MONTH].values)
    values = {
        LEVEL: ds[LEVEL].sel(pick).transpose(*lead, REGION).values,
        GROWTH: ds[GROWTH].sel(pick).transpose(*lead, REGION).values,
        AMPLITUDE: ds[AMPLITUDE].sel(pick).transpose(*lead, REGION).values,
        YEAR_SD: ds[YEAR_SD].transpose(*lead).values,
        YEAR_Z: ds[YEAR_Z]
        .sel({YEAR: baseline_calendar(months)["years"]})
        .transpose(*lead, YEAR)
        .values,
        SHARE: ds[SHARE].sel(pick).transpose(*lead, REGION, MONTH).values,
        MINING_TWH: ds[MINING_TWH].transpose(*lead, MONTH).values,
    }
    total, base = unit_electricity_twh(values, months)
    dims = [*lead, REGION, MONTH]
    coords = {d: ds[d] for d in lead if d in ds.coords} | {REGION: units, MONTH: ds[MONTH]}
    return xr.Dataset(
        {
            "electricity_twh": xr.DataArray(total, dims=dims, coords=coords),
            "electricity_baseline_twh": xr.DataArray(base, dims=dims, coords=coords),
        }
    )
