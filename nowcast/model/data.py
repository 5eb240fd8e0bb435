"""From the panel to the arrays the model reads: drivers on the month grid, and each kind of
evidence as values plus an aggregation matrix (observations x months).

Which panel figures feed which likelihood is declared in the evidence registry
(``nowcast.model.evidence``); a kind switched off in the spec gets an empty block here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import MONTH, PERIOD_OBS
from nowcast.errors import NowcastError
from nowcast.geography import REST_SUFFIX
from nowcast.model.evidence import CBECI_OBSERVER, REGISTRY, PanelView
from nowcast.model.spec import ModelSpec

__all__ = [
    "CBECI_OBSERVER",
    "Block",
    "ModelData",
    "block_from_panel",
    "Units",
    "calendar",
    "model_units",
    "prepare",
]

# The allocation's slow trend is measured from this fixed month, not from the window's middle:
# adding months to the window (an update) must not change what the allocation's level means,
# or carried-forward draws would no longer be draws of the same model. It is the middle of
# the default window (2016-01 to 2025-10).
ALLOCATION_TREND_REFERENCE = pd.Timestamp("2021-01-01")

# what makes two figures the same figure (its value and publication date may be revised)
FIGURE_KEY = ["series", "region", "observer", "period_start", "period_end"]

DROPPED_COLUMNS = [*FIGURE_KEY, "reason"]

DRIVERS = {
    "hashrate_eh_s": "btc_hashrate_eh_s",
    "network_revenue_usd": "btc_miner_revenue_usd",
    "issuance_btc": "btc_issuance_btc",
    "usd_rub": "usd_rub_mean",
    "brent_usd_per_bbl": "brent_usd_per_bbl",
    "key_rate_pct": "key_rate_pct",
}


@dataclass
class Block:
    """Period observations of one kind: values, their aggregation weights over months, and
    labels (series, region, observer, period) for reports."""

    values: np.ndarray
    weights: np.ndarray  # (n_obs, n_months)
    labels: pd.DataFrame
    # (n_obs, n_units): how much of each modelled unit (``ModelData.regions``) a figure's area
    # holds: one 1 for a modelled region, ones over a joint area's members or the whole
    # country; (0, 0) for evidence that is not about areas (its kind is not ``regional``)
    units: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    # 1 where the figure is in the data, 0 where the row only holds a fixed shape's place
    # (``nowcast.model.frame``); None: every row is a figure
    mask: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.values)

    def subset(self, keep: np.ndarray) -> Block:
        """The figures where ``keep`` (a boolean mask or indices) holds, in their order."""
        idx = np.nonzero(keep)[0] if np.asarray(keep).dtype == bool else np.asarray(keep)
        return Block(
            self.values[idx],
            self.weights[idx],
            self.labels.iloc[idx].reset_index(drop=True),
            self.units[idx] if self.units.size else self.units,
        )


@dataclass
class ModelData:
    months: pd.DatetimeIndex
    drivers: dict[str, np.ndarray]
    hours: np.ndarray
    month_of_year: np.ndarray
    years_since_start: np.ndarray
    years_since_2019: np.ndarray
    years_from_allocation_reference: np.ndarray
    year_index: np.ndarray
    years: list[int]
    after_legalisation: np.ndarray
    after_eo_shift: np.ndarray
    regions: list[str]  # the modelled units (``Units.names``): mining regions, other regions, rests
    ban: np.ndarray  # (mining region, month): the decreed bans' intensity
    blocks: dict[str, Block]
    attrs: dict[str, str]
    # figures a kind of evidence read but could not use, with why (FIGURE_KEY columns and
    # ``reason``): the report lists them beside the figures no kind reads
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DROPPED_COLUMNS))
    ruble_inflow: bool = True  # the hidden inflow enters the ruble equation (spec.ruble_inflow)
    units: Units | None = None  # the geography of ``regions`` (energy systems, mining, anchors)

    @property
    def n_months(self) -> int:
        return len(self.months)


def _labels(panel: xr.Dataset, idx: np.ndarray) -> pd.DataFrame:
    sub = panel.isel({PERIOD_OBS: idx})
    return pd.DataFrame(
        {
            "series": sub["obs_series"].values.astype(str),
            "region": sub["obs_region"].values.astype(str),
            "observer": sub["obs_observer"].values.astype(str),
            "period_start": pd.to_datetime(sub["obs_period_start"].values),
            "period_end": pd.to_datetime(sub["obs_period_end"].values),
            "published": pd.to_datetime(sub["obs_published"].values),
            "value": sub["obs_value"].values,
        }
    )


def block_from_panel(panel: xr.Dataset, mask: np.ndarray, scale: float = 1.0) -> Block:
    """The panel's period observations where ``mask`` holds, values times ``scale``."""
    idx = np.nonzero(mask)[0]
    return Block(
        values=panel["obs_value"].values[idx] * scale,
        weights=panel["period_weight"].values[idx],
        labels=_labels(panel, idx),
    )


def area_units(area: str, regions: list[str]) -> np.ndarray | None:
    """A figure's area as weights over the modelled units ``regions`` (the spec's regions, then
    the rest of each energy system): a modelled region is itself, a joint area the sum of its
    members, an energy system its modelled regions and its rest, the country (``RU``,
    ``UES-RU``) every unit. ``None`` where the area is no sum over these units (a region, or a
    joint area holding one, that lies inside the rest of its system; an unscoped grouping)."""
    geo = _geography()
    if area not in geo or geo.kind(area) == "unscoped":
        return None
    named = [r for r in regions if not r.endswith(REST_SUFFIX)]
    try:
        return geo.aggregation([area], named)[0]
    except NowcastError:
        return None


@dataclass(frozen=True)
class Units:
    """The modelled units and what the model needs to know about them, all from the spec and
    the geography table (``data/geography.csv``): each unit's energy system, which modelled
    regions may carry mining (role ``mining``), how the mining not placed in a named region is
    spread over the rests (in proportion to their baseline anchors), and each unit's anchor
    of its baseline (log TWh per month)."""

    # the spec's mining regions, its other regions, then ``<energy system>-REST`` for each system
    names: list[str]
    energy_systems: list[str]
    system: np.ndarray  # (unit,) index into ``energy_systems``
    mining: list[str]  # modelled regions with role ``mining``, in the spec's order
    placement: np.ndarray  # (mining region + 1, unit): where each allocation share goes
    anchor_log_twh: np.ndarray  # (unit,) log of the anchor in TWh per month


def model_units(spec: ModelSpec) -> Units:
    """The units of ``spec`` in its geography (the bundled table)."""
    geo = _geography()
    # mining regions first, then the other regions, then the rests: where the mining power is
    # drawn is then three blocks of units (``equations.unit_mining_share``)
    mining = [r for r in spec.regions if geo.area(r).role == "mining"]
    names = geo.units([*mining, *(r for r in spec.regions if r not in mining)])
    systems = geo.energy_systems()
    system = np.array(
        [
            systems.index(
                n.removesuffix(REST_SUFFIX) if n.endswith(REST_SUFFIX) else geo.energy_system(n)
            )
            for n in names
        ]
    )
    anchors = np.array([spec.region_baseline_twh_per_year[n] for n in names], dtype=float)
    placement = np.zeros((len(mining) + 1, len(names)))
    for k, r in enumerate(mining):
        placement[k, names.index(r)] = 1.0
    rest = np.array([n.endswith(REST_SUFFIX) for n in names])
    placement[-1, rest] = anchors[rest] / anchors[rest].sum()
    return Units(names, systems, system, mining, placement, np.log(anchors / 12.0))


@functools.cache
def _geography():
    from nowcast.geography import load_geography

    return load_geography()


def drop(data: ModelData, labels: pd.DataFrame, reason: str) -> None:
    """Record figures (rows of ``labels``) a kind of evidence read but cannot use."""
    if labels.empty:
        return
    rows = labels[FIGURE_KEY].assign(reason=reason)
    data.dropped = pd.concat([data.dropped, rows], ignore_index=True) if len(data.dropped) else rows


def non_overlapping(block: Block, prefer_months: float = 3.0) -> Block:
    """Keep a set of observations whose periods do not overlap, preferring periods closest to
    ``prefer_months`` long: the same flow published monthly, quarterly and yearly is one
    piece of evidence, not three."""
    if block.n == 0:
        return block
    length = block.weights.sum(axis=1)
    order = np.argsort(np.abs(length - prefer_months), kind="stable")
    covered = np.zeros(block.weights.shape[1], dtype=bool)
    keep = []
    for i in order:
        cover = block.weights[i] > 0
        if not (cover & covered).any():
            keep.append(i)
            covered |= cover
    return block.subset(np.sort(np.array(keep, dtype=int)))


def trim_to_drivers(panel: xr.Dataset) -> tuple[xr.Dataset, list[str]]:
    """The panel cut at the last month every driver reaches (drivers are treated as known), and
    what the months after it wait for: a release that brings months others do not cover yet
    is stored, and the nowcast moves on when they land."""
    months = pd.DatetimeIndex(panel[MONTH].values)
    complete = np.ones(len(months), dtype=bool)
    missing: dict[str, list[pd.Timestamp]] = {}
    for var in DRIVERS.values():
        if var not in panel:
            continue
        known = np.isfinite(panel[var].values.astype(float))
        complete &= known
        missing[var] = list(months[~known])
    if complete.all():
        return panel, []
    last = len(months) - 1
    while last >= 0 and not complete[last]:
        last -= 1
    if last < 1:
        return panel, []  # nothing to trim to: ``prepare`` names the missing driver
    end = months[last]
    cut = panel.isel({MONTH: slice(0, last + 1)})
    ends = pd.to_datetime(cut["obs_period_end"].values)
    keep = np.nonzero(ends <= end + pd.offsets.MonthEnd(0))[0]
    cut = cut.isel({PERIOD_OBS: keep})
    waiting = []
    for var, gaps in missing.items():
        later = [m for m in gaps if m > end]
        if later:
            waiting.append(f"{var} for {', '.join(f'{m:%Y-%m}' for m in later)}")
    if waiting:
        cut.attrs["waiting_for"] = "; ".join(waiting)
    return cut, waiting


def _ban_matrix(spec: ModelSpec, months: pd.DatetimeIndex) -> np.ndarray:
    """(mining region, month): the share of each month a decreed ban covers, times its
    intensity (bans in regions the spec does not model as mining regions have no effect)."""
    from nowcast.panel import period_weights

    mining = model_units(spec).mining
    ban = np.zeros((len(mining), len(months)))
    for b in spec.bans:
        if b.region not in mining:
            continue
        w = period_weights(
            pd.Series([pd.Timestamp(b.start)]), pd.Series([pd.Timestamp(b.end)]), months
        )[0]
        ban[mining.index(b.region)] += b.intensity * w
    return np.clip(ban, 0.0, 1.0)


def baseline_calendar(months: pd.DatetimeIndex) -> dict[str, object]:
    """What the electricity baselines read of the window ``months`` (``eq.baseline_twh``): the
    month of year (0 = January), years since the first month, and each month's index into
    ``years``, the calendar years with a demand effect. A fitted run's month coordinate gives
    the same arrays (``nowcast.model.derived``)."""
    years_all = months.year.to_numpy()
    years = sorted(set(years_all.tolist()))
    return {
        "month_of_year": (months.month.to_numpy() - 1).astype(float),
        "years_since_start": (months - months[0]).days.to_numpy() / 365.25,
        "year_index": np.array([years.index(y) for y in years_all]),
        "years": years,
    }


def calendar(months: pd.DatetimeIndex, spec: ModelSpec) -> dict[str, object]:
    """The month grid's fixed arrays (seasons, years, dates of the spec's breaks, bans) for
    the window ``months``: the same months give the same arrays, whatever the data."""
    return {
        **baseline_calendar(months),
        "years_since_2019": (months - pd.Timestamp("2019-01-01")).days.to_numpy() / 365.25,
        "years_from_allocation_reference": (months - ALLOCATION_TREND_REFERENCE).days.to_numpy()
        / 365.25,
        "after_legalisation": np.asarray(months >= pd.Timestamp(spec.legalisation)),
        "after_eo_shift": np.asarray(months >= pd.Timestamp(spec.eo_shift)),
        "ban": _ban_matrix(spec, months),
    }


def prepare(panel: xr.Dataset, spec: ModelSpec) -> ModelData:
    """Select and shape the panel's evidence for ``spec``; drivers must be complete."""
    months = pd.DatetimeIndex(panel[MONTH].values)
    # the window starts at the spec's start, or later where the panel itself starts later
    # (a simulated dataset, a store holding only recent data)
    start = max(pd.Timestamp(spec.start), months[0])
    panel = panel.sel({MONTH: slice(start, None)})
    months = pd.DatetimeIndex(panel[MONTH].values)
    # period observations reaching before the window no longer sum over modelled months
    inside = pd.to_datetime(panel["obs_period_start"].values) >= start
    panel = panel.isel({PERIOD_OBS: np.nonzero(inside)[0]})

    drivers: dict[str, np.ndarray] = {}
    for name, var in DRIVERS.items():
        if var not in panel:
            raise NowcastError(f"panel has no {var}: ingest its source before fitting")
        arr = panel[var].values.astype(float)
        gaps = months[~np.isfinite(arr)]
        if len(gaps):
            raise NowcastError(
                f"driver {var} is missing for {len(gaps)} month(s) from {gaps[0]:%Y-%m}:"
                " drivers are treated as known, so the window must end where they do"
            )
        drivers[name] = arr

    regions = list(spec.regions)
    units = model_units(spec)
    view = PanelView(
        series=panel["obs_series"].values.astype(str),
        region=panel["obs_region"].values.astype(str),
        observer=panel["obs_observer"].values.astype(str),
        regions=regions,
    )
    data = ModelData(
        months=months,
        drivers=drivers,
        hours=panel["hours_in_month"].values.astype(float),
        **calendar(months, spec),
        regions=units.names,
        units=units,
        blocks={},
        attrs={k: str(v) for k, v in panel.attrs.items()},
        ruble_inflow=spec.ruble_inflow,
    )
    for kind in REGISTRY.values():
        if not spec.uses(kind.switch):
            block = block_from_panel(panel, np.zeros(len(view.series), dtype=bool))
        elif kind.build is not None:
            block = kind.build(panel, view, data)
        else:
            block = block_from_panel(panel, kind.select(view), scale=kind.value_scale)
        if kind.regional and not block.units.size:
            block.units = np.array(
                [area_units(r, data.regions) for r in block.labels["region"]], dtype=float
            ).reshape(block.n, len(data.regions))
        data.blocks[kind.name] = block
    return data
