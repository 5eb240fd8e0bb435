"""What a kind of evidence is (``EvidenceKind``): the panel view it selects from
(``PanelView``) and its likelihood (``Observation``); ``nowcast.model.evidence`` holds
the registry of the kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    from nowcast.model.area_sums import AreaSum
    from nowcast.model.data import Block, ModelData

Array = Any  # numpy.ndarray or pytensor TensorVariable


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
