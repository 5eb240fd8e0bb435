"""The report's two slowest charts drawn in the sidecar process (``nowcast.sidecar``) while
this one forecasts, identifies and writes the rest of the report.

The chart of published figures and the region panels took 2.0 and 2.8 of the report's
6.6 s (measured on the default run): most of it matplotlib laying out and rendering their
many labels. ``draw_elsewhere`` sends what they are drawn from (the published-figures table;
the posterior draws the region grids are rebuilt from) as soon as the run's posterior is
known; the other process lays each figure out, renders its PNG and sends back the chart and
the finished figure, which ``render_report`` adds to its PDF at its place. The charts are
the ones ``charts.published_chart`` and ``charts.region_charts`` draw here (the same code,
PNG bytes identical: tested), and they are drawn here when the other process cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import xarray as xr

from nowcast.model.derived import PARTS, has_unit_electricity
from nowcast.report.charts import Chart, ChartBook
from nowcast.report.charts_published import published_chart, region_charts
from nowcast.report.published import published_figures
from nowcast.report.style import PREDICTIVE_PROB
from nowcast.report.summaries import is_simulated

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from nowcast.sidecar import Job, Sidecar

# what the region panels read from the posterior
REGION_VARIABLES = (*PARTS, "mining_power_gw")


def published_job(simulated: bool, pub: pd.DataFrame) -> tuple[Chart | None, list[Figure]]:
    """``charts.published_chart``, with its finished figure."""
    book = ChartBook(simulated, keep=True)
    return published_chart(book, pub), book.kept


def regions_job(
    simulated: bool, post: xr.Dataset, pub: pd.DataFrame
) -> tuple[list[Chart], list[Figure]]:
    """``charts.region_charts`` of a posterior holding ``REGION_VARIABLES``, with the
    finished figures."""
    book = ChartBook(simulated, keep=True)
    charts = region_charts(book, xr.DataTree.from_dict({"/posterior": post}), pub)
    return charts, book.kept


@dataclass
class DrawnElsewhere:
    """The published-figures chart and the region panels, being drawn in the sidecar."""

    simulated: bool
    published: Job
    regions: Job | None

    def published_chart(self, book: ChartBook) -> Chart | None:
        """The chart, its figure added to ``book``'s PDF."""
        chart, figures = self.published.result()
        book.adopt(figures)
        return chart

    def region_charts(self, book: ChartBook) -> list[Chart]:
        """The region panels, their figures added to ``book``'s PDF."""
        if self.regions is None:
            return []
        charts, figures = self.regions.result()
        book.adopt(figures)
        return charts


def draw_elsewhere(tree: xr.DataTree, sidecar: Sidecar | None) -> DrawnElsewhere | None:
    """Start drawing the run's published-figures chart and region panels in ``sidecar``
    (``None`` when there is no sidecar process: ``render_report`` draws them itself)."""
    if sidecar is None or not sidecar.running:
        return None
    simulated = is_simulated(tree)
    pub = published_figures(tree, PREDICTIVE_PROB)
    post = tree["posterior"].to_dataset()
    # the longer job first: the report needs the other one first, but only just before,
    # and the two are then ready by the time it does (measured on an update)
    regions = (
        sidecar.submit(regions_job, simulated, post[list(REGION_VARIABLES)], pub)
        if has_unit_electricity(post) and "mining_power_gw" in post
        else None
    )
    published = sidecar.submit(published_job, simulated, pub)
    return DrawnElsewhere(simulated, published, regions)


def matches(drawn: Any, simulated: bool) -> bool:
    """Whether charts started elsewhere carry the marking the report needs (a scenario's
    forecast of simulated data marks the whole report SIMULATED)."""
    return isinstance(drawn, DrawnElsewhere) and drawn.simulated == simulated
