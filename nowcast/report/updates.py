"""The report's update section: how this nowcast was made from the previous one (fast path or
refit, Pareto k, what the nowcast waits for), what moved it (the news: ``revision.csv`` as a
table and a waterfall per headline target) and how the latest month's estimate moved across
the recorded nowcasts (the history)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nowcast.report.charts import Chart, ChartBook, history_chart
from nowcast.report.style import ALERT_COLOUR, NOWCAST_COLOUR, PAGE, new_figure
from nowcast.report.tables import Table


@dataclass
class UpdateSection:
    """What the report says about an update (``path``: "fast" or "refit"), or, for a run,
    only the history (``path`` "run")."""

    path: str
    history: pd.DataFrame  # Store.estimates rows of the headline month, this nowcast last
    target: str  # the headline month, YYYY-MM
    revision: pd.DataFrame | None = None
    pareto_k: float | None = None
    ess: float | None = None
    reason: str = ""
    waiting: list[str] = field(default_factory=list)
    releases: list[str] = field(default_factory=list)


def update_text(section: UpdateSection) -> list[str]:
    """Paragraphs on how this nowcast was made and what it waits for."""
    out = []
    if section.path == "fast":
        out.append(
            "This nowcast updates the previous one on the fast path: the last fit's draws were"
            " carried through the model's own transitions into the months the new data add and"
            " reweighted by the likelihood of the new and revised figures (Pareto-smoothed"
            f" importance sampling). Pareto k = {section.pareto_k:.2f} (at most 0.7 is"
            f" reliable); effective sample size {section.ess:,.0f} draws. Sampler diagnostics"
            " below are those of the fit whose draws were reweighted."
        )
    elif section.path == "refit":
        out.append(
            f"This nowcast refitted the model: {section.reason}. Its news reweights the new"
            " posterior backwards (removing each set of releases' likelihood)."
        )
    if section.releases:
        out.append(f"Releases in this update: {', '.join(section.releases)}.")
    if section.waiting:
        out.append(
            "The nowcast's window ends where every driver does; later months wait for "
            + "; ".join(section.waiting)
            + ". The figures already stored for them are kept and enter when those land."
        )
    if section.revision is not None and len(section.revision):
        out.append(
            "What moved the nowcast: each release's share of the change in the median and in"
            " the 80% interval's width of each headline target, as exact Shapley values over"
            " the releases (the parts add up to the total whatever the order). A release's"
            " drivers (new months of on-chain data, the ruble, oil, the key rate) and its"
            " evidence are separate rows; the row of what reweighting cannot assign is"
            " Monte Carlo error (resampling, or two MCMC runs after a refit)."
        )
    return out


def revision_table(revision: pd.DataFrame) -> Table:
    """``revision.csv`` for reading: USD m, totals flagged."""
    rows, flagged = [], []
    for r in revision.itertuples(index=False):
        rows.append(
            [
                str(r.target),
                str(r.release),
                str(r.kind),
                f"{r.d_median_usd / 1e6:,.1f}",
                f"{r.d_width80_usd / 1e6:,.1f}",
            ]
        )
        flagged.append(r.kind == "total")
    return Table(
        "What moved the nowcast: the revision of each headline target by release (USD m)",
        ["target", "release", "kind", "median moved", "80% width changed"],
        rows,
        flagged,
        note="Exact Shapley values over the releases; the total row is the sum of the parts"
        " and the change from the previous nowcast (its forecast where the period lay ahead).",
    )


def waterfall_chart(book: ChartBook, revision: pd.DataFrame, target: str) -> Chart:
    """The revision of one target's median as a waterfall: each part a bar from where the
    previous parts left it, the total last."""
    rows = revision[revision["target"] == target]
    parts = rows[rows["kind"] != "total"]
    values = parts["d_median_usd"].to_numpy() / 1e6
    labels = [_short(str(x)) for x in parts["release"]]
    starts = np.concatenate([[0.0], np.cumsum(values)[:-1]])
    fig = new_figure(PAGE[0] * 0.75, 0.5 + 0.38 * (len(values) + 1) + 1.2)
    ax = fig.add_subplot()
    y = np.arange(len(values) + 1)[::-1]
    colours = [NOWCAST_COLOUR if v >= 0 else ALERT_COLOUR for v in values]
    ax.barh(y[:-1], values, left=starts, color=colours, alpha=0.8)
    total = float(values.sum())
    ax.barh(y[-1], total, color="0.35")
    ax.set_yticks(y, [*labels, "total"], fontsize=7)
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_xlabel("change in the median, USD m")
    ax.grid(alpha=0.3, axis="x")
    title = book.title(f"What moved the median of {target}: revision by release, USD m")
    ax.set_title(title, fontsize=10)
    return book.add(
        fig,
        title,
        "Each bar starts where the previous releases left the median; the grey bar is the"
        " total change from the previous nowcast.",
    )


def history_figure(book: ChartBook, section: UpdateSection) -> Chart | None:
    """The headline month across the recorded nowcasts (``history_chart``), or ``None``
    when only this nowcast estimates it."""
    rows = section.history
    if rows is None or len(rows[rows["target"] == section.target]) < 2:
        return None
    fig = history_chart(rows, section.target)
    title = fig.axes[0].get_title()
    return book.add(
        fig,
        title,
        "Each nowcast's median and 80% interval of this month, in the order recorded:"
        " forecast while the month lay ahead, fitted once its drivers were known.",
    )


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
