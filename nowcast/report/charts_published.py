"""The report's charts of published figures against the model: every figure relative to the
posterior median of its quantity (``published_chart``) and one panel of electricity
consumption per modelled region with its published levels (``region_charts``). Drawn, like
every chart, on a ``Figure`` made here and finished by ``charts.ChartBook``.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import matplotlib.ticker
import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import MONTH
from nowcast.geography import REST_SUFFIX
from nowcast.intervals import interval_summary, percent
from nowcast.model.derived import has_unit_electricity, unit_electricity
from nowcast.report.published import OUTSIDE_POSTERIOR, OUTSIDE_PREDICTIVE, figure_status
from nowcast.report.style import (
    ALERT_COLOUR,
    FORECAST_COLOUR,
    NOWCAST_COLOUR,
    PAGE,
    PREDICTIVE_PROB,
    new_figure,
)
from nowcast.report.summaries import POSTERIOR_DIMS, months_of
from nowcast.report.tables import period

if TYPE_CHECKING:
    from nowcast.report.charts import Chart, ChartBook

STATUS_COLOUR = {OUTSIDE_PREDICTIVE: ALERT_COLOUR, OUTSIDE_POSTERIOR: "#e69f00"}


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
