"""The report's charts. Each is drawn on a ``matplotlib.figure.Figure`` made here
(``style.new_figure``), never through pyplot: rendering a report neither opens, keeps nor
switches anything in a notebook user's matplotlib session."""

from __future__ import annotations

import base64
import io
import textwrap
from dataclasses import dataclass

import arviz as az
import matplotlib.ticker
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
from nowcast.geography import REST_SUFFIX
from nowcast.intervals import interval_summary, percent
from nowcast.model.derived import has_unit_electricity, unit_electricity
from nowcast.report.published import OUTSIDE_POSTERIOR, OUTSIDE_PREDICTIVE, figure_status
from nowcast.report.style import (
    ALERT_COLOUR,
    BAND_ALPHA,
    DPI,
    FORECAST_COLOUR,
    HISTORY_MONTHS,
    NOWCAST_COLOUR,
    PAGE,
    PREDICTIVE_PROB,
    SHOWN_PROBS,
    new_figure,
    titled,
)
from nowcast.report.summaries import (
    POSTERIOR_DIMS,
    forecast_intervals,
    months_of,
    posterior_intervals,
)
from nowcast.report.tables import period

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
STATUS_COLOUR = {OUTSIDE_PREDICTIVE: ALERT_COLOUR, OUTSIDE_POSTERIOR: "#e69f00"}


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

    def __init__(self, simulated: bool, pdf: PdfPages | None = None) -> None:
        self.simulated = simulated
        self.pdf = pdf

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
            self.pdf.savefig(fig)
        return Chart(title, buf.getvalue(), caption)


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


def published_chart(book: ChartBook, pub: pd.DataFrame) -> Chart | None:
    """Each published figure and its intervals relative to the posterior median of the same
    quantity, labelled with the quantity, period and publisher the DataFrame gives."""
    if pub.empty:
        return None
    n = len(pub)
    fig = new_figure(PAGE[0], 0.32 * n + 1.6)
    ax = fig.add_subplot()
    med = pub["posterior_median"].to_numpy(dtype=float)
    y = np.arange(n)[::-1]
    ax.hlines(y, pub["predictive_lower"] / med, pub["predictive_upper"] / med, color="0.75", lw=6)
    ax.hlines(y, pub["lower"] / med, pub["upper"] / med, color=NOWCAST_COLOUR, lw=2.5)
    status = [
        figure_status(a, b) for a, b in zip(pub["outside"], pub["outside_predictive"], strict=True)
    ]
    colours = [STATUS_COLOUR.get(s, "black") for s in status]
    ax.scatter(pub["value"] / med, y, color=colours, zorder=3, s=22)
    ax.axvline(1.0, color="0.5", lw=0.8)
    ax.set_xscale("log")
    labels = [
        f"{textwrap.shorten(r.quantity, 44, placeholder='...')}, {r.unit},"
        f" {period(r.period_start, r.period_end)}"
        f" ({textwrap.shorten(r.observer, 28, placeholder='...')})"
        for r in pub.itertuples(index=False)
    ]
    ax.set_yticks(y, labels, fontsize=7)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("published figure and intervals relative to the posterior median (log scale)")
    title = book.title("Published figures against the posterior")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    k = percent(PREDICTIVE_PROB)
    return book.add(
        fig,
        title,
        f"Dots: published figures (black: inside the posterior's {k}% interval of the same"
        f" quantity, blue bar; orange: outside it but inside the {k}% predictive interval, grey"
        " bar, which adds the estimates' shared error; red: outside both).",
    )


REGIONAL_BLOCKS = ("electricity_regional", "electricity_areas")


REGION_CHUNK = 4  # regions whose grids of draws are built at once (23 MB each at 6000 draws)


def _region_intervals(post: xr.Dataset, regions: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the region panels draw, by (region, month): ``interval_summary`` of each region's
    consumption (its median and 80% interval) and of its baseline (its median). The grids of
    draws are built a few regions at a time: those of all regions at once take over 100 MB
    each, and allocating them took longer than the arithmetic (measured)."""
    totals, bases = [], []
    for i in range(0, len(regions), REGION_CHUNK):
        grids = unit_electricity(post, regions[i : i + REGION_CHUNK])
        totals.append(interval_summary(grids["electricity_twh"], POSTERIOR_DIMS, (0.8,)))
        bases.append(interval_summary(grids["electricity_baseline_twh"], POSTERIOR_DIMS, ()))
    return pd.concat(totals), pd.concat(bases)


def region_charts(book: ChartBook, tree: xr.DataTree, pub: pd.DataFrame) -> list[Chart]:
    """One small panel per modelled region (the energy systems' rests aside), ranked by the
    posterior median of its mining load over the last 12 fitted months: its monthly
    consumption against the baseline it would have without mining (posterior medians, the 80%
    interval of the total), the mining part shaded between them, and every published level for
    the region alone as its monthly mean over its period with the 90% predictive interval.
    Each panel's axes carry the region's code as ``gid``."""
    post = tree["posterior"].to_dataset()
    if not has_unit_electricity(post):
        return []
    units = [str(r) for r in post["region"].values]
    regions = [u for u in units if not u.endswith(REST_SUFFIX)]
    last = {MONTH: slice(-12, None)}  # (the product of the last 12 months only)
    load = post["region_share"].isel(last) * post["mining_power_gw"].isel(last)
    rank = load.mean(MONTH).median(POSTERIOR_DIMS).to_series()
    regions = sorted(regions, key=lambda r: -float(rank[r]))
    total_all, base_all = _region_intervals(post, regions)
    cols = 3
    rows = -(-len(regions) // cols)
    fig = new_figure(PAGE[0], 2.1 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True).ravel()
    for ax in axes[len(regions) :]:
        ax.set_visible(False)
    for ax, region in zip(axes, regions, strict=False):
        total = total_all.xs(region, level="region")
        base = base_all.xs(region, level="region")
        x = months_of(total.index)
        ax.set_gid(region)
        ax.fill_between(
            x,
            total["lower_80"],
            total["upper_80"],
            color=NOWCAST_COLOUR,
            alpha=0.2,
            lw=0,
            label="consumption, 80%",
        )
        ax.plot(x, total["median"], color=NOWCAST_COLOUR, lw=0.9, label="consumption, median")
        ax.plot(x, base["median"], color="0.3", lw=0.8, ls="--", label="baseline without mining")
        ax.fill_between(
            x,
            base["median"],
            total["median"],
            color=FORECAST_COLOUR,
            alpha=0.35,
            lw=0,
            label="mining (median total - median baseline)",
        )
        mine = pub[pub["block"].isin(REGIONAL_BLOCKS) & (pub["region"] == region)]
        for r in mine.itertuples(index=False):
            start, end = pd.Timestamp(r.period_start), pd.Timestamp(r.period_end)
            months = max((end - start).days + 1, 1) / 30.4375
            mid = start + (end - start) / 2
            colour = STATUS_COLOUR.get(figure_status(r.outside, r.outside_predictive), "black")
            ax.hlines(r.value / months, start, end, color=colour, lw=1.2)
            # the predictive interval as a bar (a figure may lie outside it) and the figure
            ax.vlines(
                mid, r.predictive_lower / months, r.predictive_upper / months, color=colour, lw=0.7
            )
            ax.plot([mid], [r.value / months], "o", ms=2.5, color=colour, gid="published figure")
        gw = float(rank[region])
        ax.set_title(f"{region}: mining {gw:.2f} GW", fontsize=8)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=5, ncol=1)
    for ax in axes[::cols][:rows]:
        ax.set_ylabel("TWh per month", fontsize=7)
    title = book.title("Electricity consumption by region, TWh per month")
    fig.suptitle(title, fontsize=10)
    return [
        book.add(
            fig,
            title,
            "One panel per modelled region, ranked by its posterior median mining load over the"
            " last 12 months (in each title; comparison regions carry none by construction)."
            " Published levels for the region alone are dots on their period, as the monthly"
            f" mean over it, with the model's {percent(PREDICTIVE_PROB)}% predictive interval;"
            " black: inside the posterior's interval, orange: only inside the predictive one,"
            " red: outside both. Changes on a year earlier, and figures for joint areas, energy"
            " systems and the country, are in the table of published figures.",
            # the layout leaves the suptitle out: a band of 0.35 inch keeps it clear of the
            # first row's titles on this tall figure
            top=1.0 - 0.35 / fig.get_figheight(),
        )
    ]


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
