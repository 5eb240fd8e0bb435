"""From the panel to the arrays the model reads: drivers on the month grid, and each kind of
evidence as values plus an aggregation matrix (observations x months).

This is the only place that knows which panel series feed which likelihood, so switching a
kind of evidence off in a spec is switching off its block here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import MONTH, PERIOD_OBS, REST_OF_RUSSIA, RUSSIA
from nowcast.errors import NowcastError
from nowcast.model.spec import ModelSpec

DRIVERS = {
    "hashrate_eh_s": "btc_hashrate_eh_s",
    "network_revenue_usd": "btc_miner_revenue_usd",
    "issuance_btc": "btc_issuance_btc",
    "usd_rub": "usd_rub_mean",
    "brent_usd_per_bbl": "brent_usd_per_bbl",
    "key_rate_pct": "key_rate_pct",
}

CBECI_OBSERVER = "Cambridge Centre for Alternative Finance (CBECI)"


@dataclass
class Block:
    """Period observations of one kind: values, their aggregation weights over months, and
    labels (series, region, observer, period) for reports."""

    values: np.ndarray
    weights: np.ndarray  # (n_obs, n_months)
    labels: pd.DataFrame
    group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass
class ModelData:
    months: pd.DatetimeIndex
    drivers: dict[str, np.ndarray]
    hours: np.ndarray
    month_of_year: np.ndarray
    years_since_start: np.ndarray
    years_since_2019: np.ndarray
    year_index: np.ndarray
    years: list[int]
    after_legalisation: np.ndarray
    after_eo_shift: np.ndarray
    regions: list[str]  # modelled mining regions, then the rest of Russia
    ban: np.ndarray  # (region, month), excluding the rest of Russia
    blocks: dict[str, Block]
    attrs: dict[str, str]

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


def _block(panel: xr.Dataset, mask: np.ndarray, scale: float = 1.0) -> Block:
    idx = np.nonzero(mask)[0]
    return Block(
        values=panel["obs_value"].values[idx] * scale,
        weights=panel["period_weight"].values[idx],
        labels=_labels(panel, idx),
    )


def _non_overlapping(block: Block, prefer_months: float = 3.0) -> Block:
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
    keep = np.sort(np.array(keep, dtype=int))
    return Block(
        block.values[keep], block.weights[keep], block.labels.iloc[keep].reset_index(drop=True)
    )


def _ban_matrix(spec: ModelSpec, months: pd.DatetimeIndex) -> np.ndarray:
    from nowcast.panel import period_weights

    ban = np.zeros((len(spec.regions), len(months)))
    for b in spec.bans:
        if b.region not in spec.regions:
            continue
        w = period_weights(
            pd.Series([pd.Timestamp(b.start)]), pd.Series([pd.Timestamp(b.end)]), months
        )[0]
        ban[spec.regions.index(b.region)] += b.intensity * w
    return np.clip(ban, 0.0, 1.0)


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

    series = panel["obs_series"].values.astype(str)
    region = panel["obs_region"].values.astype(str)
    observer = panel["obs_observer"].values.astype(str)
    ev = spec.evidence
    blocks: dict[str, Block] = {}
    none = np.zeros(len(series), dtype=bool)

    share = (series == "hashrate_share") & (region == RUSSIA)
    blocks["cbeci_share"] = _block(
        panel, share & (observer == CBECI_OBSERVER) if ev.hashrate_share else none
    )
    blocks["share_estimates"] = _block(
        panel, share & (observer != CBECI_OBSERVER) if ev.hashrate_share else none
    )

    regions = list(spec.regions)
    elec_regional = (series == "electricity_consumption_mln_kwh") & np.isin(region, regions)
    national = (series == "electricity_demand_twh") & (region == RUSSIA)
    elec = _block(panel, elec_regional if ev.electricity else none, scale=1e-3)
    elec.group = np.array([regions.index(r) for r in elec.labels["region"]], dtype=int)
    blocks["electricity_regional"] = elec
    blocks["electricity_national"] = _block(panel, national if ev.electricity else none)

    pp = ev.published_power
    blocks["power_gw"] = _block(panel, (series == "mining_power_gw") & (region == RUSSIA) & pp)
    load = _block(panel, (series == "mining_load_mw") & np.isin(region, regions) & pp)
    load.group = np.array([regions.index(r) for r in load.labels["region"]], dtype=int)
    blocks["load_mw"] = load
    blocks["mining_twh"] = _block(
        panel, (series == "mining_electricity_twh") & (region == RUSSIA) & pp
    )
    bm = ev.btc_mined
    blocks["btc_mined"] = _block(panel, (series == "btc_mined_btc") & (region == RUSSIA) & bm)
    blocks["mining_revenue"] = _block(
        panel, (series == "mining_revenue_usd_bn") & (region == RUSSIA) & bm
    )

    if ev.bop:
        eo = (series == "bop_net_errors_omissions_usd_bn") & (region == RUSSIA)
        # the press quotes only the size of E&O since 2022 and calls it an unrecorded outflow
        mag = (series == "bop_net_errors_omissions_magnitude_usd_bn") & (region == RUSSIA)
        both = _block(panel, eo | mag)
        both.values = (
            np.where(both.labels["series"].str.contains("magnitude"), -1.0, 1.0) * both.values
        )
        blocks["errors_omissions"] = _non_overlapping(both)
    else:
        blocks["errors_omissions"] = _block(panel, none)

    years_all = months.year.to_numpy()
    years = sorted(set(years_all.tolist()))
    ds = (months - start).days.to_numpy() / 365.25
    d19 = (months - pd.Timestamp("2019-01-01")).days.to_numpy() / 365.25
    return ModelData(
        months=months,
        drivers=drivers,
        hours=panel["hours_in_month"].values.astype(float),
        month_of_year=(months.month.to_numpy() - 1).astype(float),
        years_since_start=ds,
        years_since_2019=d19,
        year_index=np.array([years.index(y) for y in years_all]),
        years=years,
        after_legalisation=np.asarray(months >= pd.Timestamp(spec.legalisation)),
        after_eo_shift=np.asarray(months >= pd.Timestamp(spec.eo_shift)),
        regions=[*regions, REST_OF_RUSSIA],
        ban=_ban_matrix(spec, months),
        blocks=blocks,
        attrs={k: str(v) for k, v in panel.attrs.items()},
    )
