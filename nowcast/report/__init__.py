"""The report: one fitted posterior and its forecasts as a self-contained HTML page, the same
content as a multi-page PDF, and the figures as CSV and JSON.

``render_report`` writes, each atomically (a temporary file, then a rename):

* ``report.html``: charts embedded as base64 PNG, CSS inline, no external resource, so it
  opens offline. Sections: headline (latest month and current quarter, with the share of
  declared goods exports where known), the inflow over time with the ragged edge marked and
  the forecast appended, fan charts per scenario, the credible-interval table, prior against
  posterior with the prior table and its sources, identification, published figures against
  the posterior, diagnostics with a verdict, and provenance. A small inline script records on
  ``<body>`` whether every image loaded (``data-images-ok``) and any script error
  (``data-errors``), which the headless-browser test reads.
* ``report.pdf``: the same content (charts and the same tables and texts, rendered with
  matplotlib's ``PdfPages``; no other dependency).
* ``summary.csv`` / ``summary.json``: one row per fitted month (kind ``nowcast``) and per
  scenario and forecast month (kind ``forecast``): the hidden inflow's mean, median and
  50/80/90/95% bounds in USD (``nowcast.intervals`` columns), the same for USD/RUB forecasts,
  and the observed monthly mean of USD/RUB for fitted months; the JSON adds the run's metadata
  and the headline figures.
* ``forecast_<scenario>.csv``: each scenario's forecast summary by month.

Data that are not real (``data_kind`` other than ``real``) are flagged by a red banner and by
"SIMULATED" in every chart title.

Modules: ``summaries`` (numbers), ``published`` (published figures against the posterior),
``text`` (sentences), ``tables``, ``charts`` (on ``Figure`` objects, never pyplot), ``pdf``,
``html``, ``exports`` (CSV, JSON) and ``render`` (``render_report``). Importing the package
changes nothing in matplotlib's global state: no backend is selected, no pyplot figure is made.
"""

from nowcast.report.charts import Chart
from nowcast.report.published import figure_status, published_figures
from nowcast.report.render import ReportPaths, render_report
from nowcast.report.summaries import (
    headline,
    is_simulated,
    metadata,
    ragged_edge_start,
    summary_table,
)
from nowcast.report.tables import Table
from nowcast.report.text import diagnostics_verdict, headline_text, identification_text

__all__ = [
    "Chart",
    "ReportPaths",
    "Table",
    "diagnostics_verdict",
    "figure_status",
    "headline",
    "headline_text",
    "identification_text",
    "is_simulated",
    "metadata",
    "published_figures",
    "ragged_edge_start",
    "render_report",
    "summary_table",
]
