"""Sums of (unit, month) quantities over the areas and periods of regional figures
(``AreaSum``): the grids they read and how the model gathers every kind's sums at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nowcast.model.evidence_kind import Array

if TYPE_CHECKING:
    from nowcast.model.data import Block, ModelData


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
