"""The report's charts. Each is drawn on a ``matplotlib.figure.Figure`` made here
(``style.new_figure``), never through pyplot: rendering a report neither opens, keeps nor
switches anything in a notebook user's matplotlib session.

The charts of published figures against the model (each figure against the posterior, the
region panels) are in ``nowcast.report.charts_published``.
"""

from __future__ import annotations

import base64
import io
import textwrap
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.dates import DateLocator
from matplotlib.figure import Figure
from matplotlib.layout_engine import TightLayoutEngine
from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

from nowcast.constants import MONTH
from nowcast.intervals import percent
from nowcast.report.charts_published import (
    REGION_CHUNK,
    REGIONAL_BLOCKS,
    STATUS_COLOUR,
    published_chart,
    region_charts,
)
from nowcast.report.pdf import save_page
from nowcast.report.style import (
    BAND_ALPHA,
    DPI,
    FORECAST_COLOUR,
    HISTORY_MONTHS,
    NOWCAST_COLOUR,
    PAGE,
    SHOWN_PROBS,
    new_figure,
    titled,
)
from nowcast.report.summaries import forecast_intervals, months_of, posterior_intervals

# main parameters shown prior against posterior, in this order (those the run has)
MAIN_PARAMS = [
    "psi_before",
    "psi_after",
    "electricity_price_rub_per_kwh",
    "overhead_pue",
    "efficiency_2019_log_j_per_th",
    "efficiency_decline_per_year",
    "share_step_sd",
    "estimate_log_sd",
    "ruble_gamma",
    "eo_k",
    "ban_effect",
    "alloc_logit_mean",
]


@dataclass
class Chart:
    """A rendered chart: title, PNG bytes for the HTML, caption."""

    title: str
    png: bytes
    caption: str = ""

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI, so the HTML needs no other file."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


class ChartBook:
    """Finishes charts the same way for both outputs: the caption is drawn into the figure
    (so the PNG and the PDF page carry the same text), the figure is encoded as PNG and, when
    a PDF is being written, added to it as a page. An added figure is final: its layout and
    its ticks are fixed."""

    def __init__(self, simulated: bool, pdf: PdfPages | None = None, keep: bool = False) -> None:
        self.simulated = simulated
        self.pdf = pdf
        # ``keep``: the finished figures are kept (``kept``), for a book in another process
        # whose figures become pages of this one's PDF (``adopt``)
        self.keep = keep
        self.kept: list[Figure] = []

    def title(self, text: str) -> str:
        """``text``, marked SIMULATED when the data are."""
        return titled(text, self.simulated)

    def add(self, fig: Figure, title: str, caption: str = "", top: float = 1.0) -> Chart:
        """Lay out ``fig`` with ``caption`` under it; the finished chart."""
        lines = textwrap.wrap(caption, 160)
        height = fig.get_size_inches()[1]
        bottom = (0.08 + 0.16 * len(lines)) / height if lines else 0.0
        _freeze_ticks(fig, dates_only=True)
        # The layout is computed and applied once, leaving no layout engine on the figure:
        # after Figure.tight_layout one stays, and savefig then draws the figure an extra time
        # (without output) before drawing the PNG, and again before the PDF page.
        TightLayoutEngine(rect=(0, bottom, 1, top)).execute(fig)
        _freeze_ticks(fig)
        for i, line in enumerate(reversed(lines)):
            fig.text(
                0.01, (0.04 + 0.16 * i) / height, line, fontsize=8, style="italic", va="bottom"
            )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
        if self.pdf is not None:
            save_page(self.pdf, fig)
        if self.keep:
            self.kept.append(fig)
        return Chart(title, buf.getvalue(), caption)

    def adopt(self, figures: list[Figure]) -> None:
        """Figures another book finished (laid out, ticks fixed, caption drawn), each added
        to this book's PDF as a page."""
        if self.pdf is not None:
            for fig in figures:
                save_page(self.pdf, fig)


def _freeze_ticks(fig: Figure, dates_only: bool = False) -> None:
    """Fix every axis's tick positions and labels at what its locator and formatter give now.

    Each pass over a figure (the layout, the PNG, the PDF page) asks every axis's locator and
    formatter again, several times, and once per axis even where axes share them (date
    locators and formatters are slow). Once the layout is done the ticks can no longer
    change, so they are computed once here and kept: the drawing is the same. ``dates_only``:
    only date axes, whose ticks do not depend on the axes' size, so that they can be fixed
    before the layout too."""
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            for minor in (False, True):
                ticker = axis.minor if minor else axis.major
                if isinstance(ticker.locator, NullLocator | FixedLocator):
                    continue  # nothing to compute, or fixed already (through a shared axis)
                if dates_only and not isinstance(ticker.locator, DateLocator):
                    continue
                # the positions an axis draws (minor ones without those of major ticks) and
                # their labels, as matplotlib computes them at each draw
                locs = axis.get_minorticklocs() if minor else axis.get_majorticklocs()
                labels = FixedFormatter(ticker.formatter.format_ticks(locs))
                labels.set_offset_string(ticker.formatter.get_offset())
                if minor:
                    axis.set_minor_locator(FixedLocator(locs))
                    axis.set_minor_formatter(labels)
                else:
                    axis.set_major_locator(FixedLocator(locs))
                    axis.set_major_formatter(labels)


def band_plot(ax: Axes, x: pd.DatetimeIndex, b: pd.DataFrame, colour: str, label: str) -> None:
    """The median as a line, the 50/80/95% intervals (``interval_summary`` columns) as
    shaded bands."""
    for p in sorted(SHOWN_PROBS, reverse=True):
        k = percent(p)
        ax.fill_between(
            x,
            b[f"lower_{k}"],
            b[f"upper_{k}"],
            color=colour,
            alpha=BAND_ALPHA[p],
            linewidth=0,
            label=f"{label} {k}%",
        )
    ax.plot(x, b["median"], color=colour, linewidth=1.4, label=f"{label} median")


def inflow_chart(
    book: ChartBook,
    tree: xr.DataTree,
    baseline: tuple[str, xr.Dataset] | None,
    edge: pd.Timestamp | None,
) -> Chart:
    """The hidden inflow over every fitted month, the ragged edge marked, the first scenario's
    forecast appended."""
    now = posterior_intervals(tree, "hidden_inflow_usd")
    fig = new_figure(PAGE[0], 5.2)
    ax = fig.add_subplot()
    band_plot(ax, months_of(now.index), now / 1e6, NOWCAST_COLOUR, "nowcast")
    if baseline is not None:
        name, ds = baseline
        fb = forecast_intervals(ds, "hidden_inflow_usd")
        band_plot(ax, months_of(fb.index), fb / 1e6, FORECAST_COLOUR, f"forecast ({name})")
    if edge is not None:
        ax.axvline(edge - pd.Timedelta(days=15), color="black", linestyle="--", linewidth=1)
        ax.annotate(
            f"ragged edge: no electricity or BoP figure from {edge:%Y-%m}",
            xy=(edge - pd.Timedelta(days=15), 0.97),
            xycoords=("data", "axes fraction"),
            ha="right",
            va="top",
            fontsize=8,
        )
    title = book.title("Hidden mining inflow, USD million per month")
    ax.set_title(title)
    ax.set_ylabel("USD million")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    return book.add(
        fig,
        title,
        "Posterior median with 50/80/95% bands; the first scenario's forecast (the baseline)"
        " continues the series.",
    )


def fan_chart(book: ChartBook, tree: xr.DataTree, name: str, ds: xr.Dataset) -> Chart:
    """One scenario: USD/RUB and the hidden inflow, recent history then the forecast."""
    panel = tree["panel"].to_dataset()
    now = posterior_intervals(tree, "hidden_inflow_usd").iloc[-HISTORY_MONTHS:]
    hist = months_of(now.index)
    fu = forecast_intervals(ds, "usd_rub")
    fb = forecast_intervals(ds, "hidden_inflow_usd")
    fm = months_of(fb.index)
    fig = new_figure(PAGE[0], 4.6)
    a1, a2 = fig.subplots(1, 2)
    usd = panel["usd_rub_mean"].sel({MONTH: hist}).values
    a1.plot(hist, usd, color="black", linewidth=1.3, label="observed monthly mean")
    band_plot(a1, fm, fu, FORECAST_COLOUR, "forecast")
    a1.set_title("USD/RUB, RUB per USD")
    band_plot(a2, hist, now / 1e6, NOWCAST_COLOUR, "nowcast")
    band_plot(a2, fm, fb / 1e6, FORECAST_COLOUR, "forecast")
    a2.set_title("Hidden inflow, USD million per month")
    a2.set_ylim(bottom=0)
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    a1.legend(fontsize=7, loc="upper left")
    title = book.title(
        f"Forecast, scenario '{name}': h = 1..{len(fm)} months ahead of {hist[-1]:%Y-%m}"
    )
    fig.suptitle(title)
    return book.add(
        fig,
        title,
        f"50/80/95% bands. History: the last {HISTORY_MONTHS} fitted months (USD/RUB observed,"
        " the inflow's posterior); then the forecast h months ahead.",
    )


def _density(ax: Axes, draws: np.ndarray, colour: str, label: str) -> None:
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return
    if np.ptp(draws) == 0:  # a fixed value has no density: mark where it is
        ax.axvline(draws[0], color=colour, label=label)
        return
    grid, pdf, _ = az.kde(draws)
    ax.fill_between(grid, pdf, alpha=0.25, linewidth=0, color=colour)
    ax.plot(grid, pdf, color=colour, linewidth=1.4, label=label)


def prior_posterior_chart(book: ChartBook, tree: xr.DataTree) -> Chart | None:
    """Marginal densities of the main scalar parameters, prior draws against posterior draws.

    arviz's ``plot_prior_posterior`` (arviz-plots) creates its own figure through
    ``pyplot.subplots`` and cannot draw onto a given Figure, so the densities are drawn here:
    arviz's KDE (with its boundary correction) of the ``prior`` and ``posterior`` groups.
    """
    if "prior" not in tree.children:
        return None
    prior, post = tree["prior"], tree["posterior"]
    names = [v for v in MAIN_PARAMS if v in post and v in prior and post[v].ndim == 2]
    if not names:
        return None
    ncol = 4
    nrow = int(np.ceil(len(names) / ncol))
    fig = new_figure(PAGE[0], 2.3 * nrow + 0.8)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    for ax, v in zip(axes, names, strict=False):
        _density(ax, prior[v].values.ravel(), "grey", "prior")
        _density(ax, post[v].values.ravel(), NOWCAST_COLOUR, "posterior")
        ax.set_title(v, fontsize=9)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=7)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncols=2, fontsize=8)
    title = book.title("Prior and posterior of the main parameters")
    fig.suptitle(title, x=0.02, ha="left")
    return book.add(
        fig,
        title,
        "Marginal densities (kernel density estimates), prior draws against posterior draws.",
        top=0.95,
    )


def history_chart(estimates: pd.DataFrame, target: str) -> Figure:
    """How the estimate of ``target`` (a month ``YYYY-MM`` or a quarter ``YYYYQn``) moved
    across the recorded nowcasts: the median and 80% interval of each, in the order recorded,
    filled circles where the period was fitted and open squares where it was forecast.
    ``estimates`` is ``Store.estimates(...)`` (rows of other targets are left out); a
    ``ValueError`` when it has none of ``target``."""
    rows = estimates[estimates["target"] == target].sort_values("nowcast_id")
    if rows.empty:
        raise ValueError(f"no recorded estimate of {target} to chart")
    quantity = str(rows["quantity"].iloc[0])
    per = "quarter" if (rows["freq"] == "quarter").all() else "month"
    scale, unit = (1e9, "USD bn") if quantity.endswith("_usd") else (1.0, quantity)
    name = "Hidden inflow" if quantity == "hidden_inflow_usd" else quantity
    x = np.arange(len(rows))
    fig = new_figure(PAGE[0] * 0.75, 4.6)
    ax = fig.add_subplot()
    ax.plot(x, rows["median"] / scale, color="0.6", linewidth=0.9, zorder=1)
    for status, colour, marker, face in (
        ("fitted", NOWCAST_COLOUR, "o", NOWCAST_COLOUR),
        ("forecast", FORECAST_COLOUR, "s", "white"),
    ):
        sel = np.asarray(rows["status"] == status)
        if not sel.any():
            continue
        part = rows[sel]
        ax.vlines(
            x[sel],
            part["lower_80"] / scale,
            part["upper_80"] / scale,
            color=colour,
            linewidth=3,
            alpha=0.45,
            label=f"80% interval ({status})",
        )
        ax.scatter(
            x[sel],
            part["median"] / scale,
            marker=marker,
            s=36,
            color=face,
            edgecolors=colour,
            linewidths=1.4,
            zorder=3,
            label=f"median, {target} {status}",
        )
    labels = [
        f"#{r.nowcast_id} {r.path}\n{pd.Timestamp(r.recorded_at):%Y-%m-%d}"
        for r in rows.itertuples(index=False)
    ]
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_xlabel("nowcast (number, how it was made, when recorded)")
    ax.set_ylabel(f"{unit} per {per}")
    if (rows["lower_80"] >= 0).all():
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="upper left", fontsize=7)
    simulated = "data_kind" in rows and bool((rows["data_kind"] != "real").any())
    ax.set_title(titled(f"{name} of {target} across nowcasts, {unit} per {per}", simulated))
    TightLayoutEngine().execute(fig)  # (not Figure.tight_layout: see ChartBook.add)
    return fig


def coverage_chart(
    book: ChartBook,
    nominal_pct: np.ndarray,
    curves: dict[str, np.ndarray],
    caption: str = "Below the diagonal the intervals were too narrow.",
) -> Chart:
    """Observed coverage (%) of central intervals against their nominal level (%), one line
    per forecaster or quantity, with the diagonal: the backtest's and the calibration's."""
    fig = new_figure(PAGE[0] * 0.5, 4.4)
    ax = fig.add_subplot()
    ax.plot([40, 100], [40, 100], color="black", linewidth=1, linestyle="--", label="nominal")
    colours = [NOWCAST_COLOUR, FORECAST_COLOUR, "#2e7d32", "#7b1fa2", "#6d4c41"]
    for (name, values), colour in zip(curves.items(), colours, strict=False):
        ax.plot(nominal_pct, values, "o-", color=colour, label=name)
    ax.set_xlim(40, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("nominal coverage, %")
    ax.set_ylabel("observed coverage, %")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    title = book.title("Coverage of central intervals")
    ax.set_title(title)
    return book.add(fig, title, caption)


__all__ = [
    "MAIN_PARAMS",
    "REGIONAL_BLOCKS",
    "REGION_CHUNK",
    "STATUS_COLOUR",
    "Chart",
    "ChartBook",
    "band_plot",
    "coverage_chart",
    "fan_chart",
    "history_chart",
    "inflow_chart",
    "prior_posterior_chart",
    "published_chart",
    "region_charts",
]
