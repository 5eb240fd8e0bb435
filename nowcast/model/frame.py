"""One fixed shape for fits of one spec to many as-of views of the data (backtest origins).

A model compiled for one origin's data does not fit another's: the windows differ in their
number of months and the evidence in its figures, and both are the graph's shapes. A
:class:`Frame` is the union of several origins' prepared data: the longest window's months and,
for each kind of evidence, every figure any origin holds (a figure is its series, region,
observer and period). :meth:`Frame.embed` puts one origin's data in that shape:

* months after the origin's window get drivers held at their last known value; nothing
  observes those months, so their latent states are integrated out of the posterior and the
  fit of the window is the fit of the origin's own data, only with more (unobserved) states;
* each kind's figures go to their rows of the frame, and ``Block.mask`` is 1 there and 0 at
  the rows the origin does not hold (their values are placeholders the likelihood never reads).

Every origin's model then has the same graph with different data, so a worker compiles it once
and swaps each origin's data into the compiled model (``nowcast.compiled``); and a parameter
whose kind of evidence has no figure yet at an origin is sampled from its prior, which is its
posterior there. :meth:`Frame.cut` brings a posterior back to the origin's own months and
figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import MONTH
from nowcast.errors import NowcastError
from nowcast.model.build import YEAR
from nowcast.model.data import FIGURE_KEY, Block, ModelData, calendar
from nowcast.model.evidence import REGISTRY
from nowcast.model.spec import ModelSpec


def _keys(labels: pd.DataFrame) -> list[tuple]:
    """Each figure's key, numbered among figures with the same key (two estimates of the same
    period by the same observer are two rows)."""
    seen: dict[tuple, int] = {}
    out = []
    for row in labels[FIGURE_KEY].itertuples(index=False, name=None):
        row = tuple(
            pd.Timestamp(v) if isinstance(v, pd.Timestamp | np.datetime64) else v for v in row
        )
        k = seen.get(row, 0)
        seen[row] = k + 1
        out.append((*row, k))
    return out


@dataclass(frozen=True)
class _Rows:
    """One kind's rows in the frame: keys, labels, weights over the frame's months, a
    placeholder value per row (a real figure of that row, so its likelihood is finite)."""

    keys: list[tuple]
    labels: pd.DataFrame
    weights: np.ndarray
    placeholder: np.ndarray
    units: np.ndarray


@dataclass(frozen=True)
class Frame:
    """The months and figures of several as-of views of the data, for one spec."""

    months: pd.DatetimeIndex
    hours: np.ndarray
    rows: dict[str, _Rows]

    @classmethod
    def of(cls, datas: Sequence[ModelData]) -> Frame:
        """The union of ``datas``' windows and figures; windows must start in the same month
        (they are prefixes of the frame's months)."""
        if not datas:
            raise NowcastError("a frame needs at least one dataset")
        longest = max(datas, key=lambda d: d.n_months)
        months = longest.months
        for d in datas:
            if d.n_months and not months[: d.n_months].equals(d.months):
                raise NowcastError(
                    f"windows {d.months[0]:%Y-%m} to {d.months[-1]:%Y-%m} and"
                    f" {months[0]:%Y-%m} to {months[-1]:%Y-%m} do not start in the same month:"
                    " they cannot share one model"
                )
        rows: dict[str, _Rows] = {}
        for name in REGISTRY:
            keys: list[tuple] = []
            index: dict[tuple, int] = {}
            labels, weights, values, units = [], [], [], []
            for d in datas:
                block = d.blocks.get(name)
                if block is None or not block.n:
                    continue
                for i, key in enumerate(_keys(block.labels)):
                    if key in index:
                        continue
                    index[key] = len(keys)
                    keys.append(key)
                    labels.append(block.labels.iloc[i])
                    w = np.zeros(len(months))
                    w[: d.n_months] = block.weights[i]
                    weights.append(w)
                    values.append(float(block.values[i]))
                    if block.units.size:
                        units.append(block.units[i])
            if keys:
                rows[name] = _Rows(
                    keys,
                    pd.DataFrame(labels).reset_index(drop=True),
                    np.array(weights),
                    np.array(values),
                    np.array(units) if units else np.zeros((0, 0)),
                )
        return cls(months, longest.hours, rows)

    def embed(self, data: ModelData, spec: ModelSpec) -> tuple[ModelData, dict[str, np.ndarray]]:
        """``data`` in the frame's shape, and for each kind the frame rows of ``data``'s own
        figures (in ``data``'s order)."""
        T, n = len(self.months), data.n_months
        if not self.months[:n].equals(data.months):
            raise NowcastError(
                f"the window {data.months[0]:%Y-%m} to {data.months[-1]:%Y-%m} is not a start"
                f" of the frame's months ({self.months[0]:%Y-%m} to {self.months[-1]:%Y-%m})"
            )
        # months no figure observes: drivers held at their last value (they only move
        # latent states nothing reads)
        drivers = {k: np.concatenate([v, np.full(T - n, v[-1])]) for k, v in data.drivers.items()}
        blocks: dict[str, Block] = {}
        where: dict[str, np.ndarray] = {}
        for name in REGISTRY:
            block = data.blocks.get(name)
            rows = self.rows.get(name)
            if rows is None:
                if block is not None and block.n:
                    raise NowcastError(
                        f"the frame has no figures of {name}: build it from this data"
                    )
                blocks[name] = Block(np.zeros(0), np.zeros((0, T)), pd.DataFrame(), mask=None)
                continue
            index = {k: i for i, k in enumerate(rows.keys)}
            own = _keys(block.labels) if block is not None and block.n else []
            missing = [k for k in own if k not in index]
            if missing:
                raise NowcastError(
                    f"{len(missing)} figure(s) of {name} are not in the frame, first {missing[0]}"
                )
            idx = np.array([index[k] for k in own], dtype=int)
            values = rows.placeholder.copy()
            mask = np.zeros(len(rows.keys))
            if len(idx):
                values[idx] = block.values
                mask[idx] = 1.0
            blocks[name] = Block(values, rows.weights, rows.labels, rows.units, mask)
            where[name] = idx
        fixed = replace(
            data,
            months=self.months,
            drivers=drivers,
            hours=self.hours,
            **calendar(self.months, spec),
            blocks=blocks,
        )
        return fixed, where

    @staticmethod
    def cut(ds: xr.Dataset, data: ModelData, where: dict[str, np.ndarray]) -> xr.Dataset:
        """Draws of a frame model (posterior or prior) on ``data``'s own months, years and
        figures: what a fit of ``data`` alone would hold."""
        if MONTH in ds.dims:
            ds = ds.isel({MONTH: slice(0, data.n_months)})
        if YEAR in ds.dims:
            ds = ds.sel({YEAR: data.years})
        for name, idx in where.items():
            dim = REGISTRY[name].dim
            if dim not in ds.dims:
                continue
            if not len(idx):
                ds = ds.drop_dims(dim)
                continue
            ds = ds.isel({dim: idx}).assign_coords({dim: np.arange(len(idx))})
        return ds
