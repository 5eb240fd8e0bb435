"""The report's tables, as display strings shared by the HTML page and the PDF."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.fit import Diagnostics
from nowcast.intervals import percent
from nowcast.model.spec import ModelSpec
from nowcast.report.published import (
    INSIDE,
    OUTSIDE_POSTERIOR,
    OUTSIDE_PREDICTIVE,
    figure_status,
)
from nowcast.report.style import HISTORY_MONTHS, PREDICTIVE_PROB, SHOWN_PROBS
from nowcast.report.summaries import plain
from nowcast.report.text import usd_m

_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?%?$")


@dataclass
class Table:
    """A table for both outputs: header, rows of display strings, rows to flag."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    flagged: list[bool] = field(default_factory=list)
    note: str = ""

    def __post_init__(self) -> None:
        if not self.flagged:
            self.flagged = [False] * len(self.rows)

    @property
    def numeric(self) -> list[bool]:
        """Columns whose every filled cell is a number (right-aligned in HTML)."""
        return [
            all(_NUMBER.match(r[j]) for r in self.rows if r[j]) and any(r[j] for r in self.rows)
            for j in range(len(self.columns))
        ]


def fmt(x: Any, digits: int = 3) -> str:
    """A cell: ``digits`` significant figures, dates as YYYY-MM-DD, True as "yes"."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    if isinstance(x, bool | np.bool_):
        return "yes" if x else ""
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        x = float(x)
        if x == 0:
            return "0"
        if abs(x) >= 1e4 or abs(x) < 1e-3:
            return f"{x:.{digits}g}"
        return f"{x:.{digits}g}" if abs(x) < 1 else f"{x:,.{max(digits - 1, 0)}f}"
    if isinstance(x, pd.Timestamp):
        return f"{x:%Y-%m-%d}"
    return str(x)


def period(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """``2024-07`` for a month, ``2024-01 to 2024-12`` for a longer period."""
    if start.to_period("M") == end.to_period("M"):
        return f"{start:%Y-%m}"
    return f"{start:%Y-%m} to {end:%Y-%m}"


def frame_table(df: pd.DataFrame, title: str, note: str = "", flag: str | None = None) -> Table:
    """A DataFrame as a display table; ``flag`` names a boolean column marking rows."""
    cols = [c for c in df.columns if c != flag]
    rows = [[fmt(v) for v in r] for r in df[cols].itertuples(index=False)]
    flagged = [bool(v) for v in df[flag]] if flag else []
    return Table(title, [str(c) for c in cols], rows, flagged, note)


def interval_table(summary: pd.DataFrame) -> Table:
    """The hidden inflow by month (the last fitted months and every forecast month), USD m."""
    now = summary[summary.kind == "nowcast"].tail(HISTORY_MONTHS)
    fc = summary[summary.kind == "forecast"]
    bounds = [f"{s}_{percent(p)}" for p in SHOWN_PROBS for s in ("lower", "upper")]
    rows = []
    for r in pd.concat([now, fc]).itertuples(index=False):
        d = r._asdict()
        label = "nowcast" if d["kind"] == "nowcast" else f"forecast h={d['horizon']}"
        cells = [usd_m(d[f"hidden_inflow_usd_{c}"]) for c in ("mean", "median", *bounds)]
        rows.append([f"{d['month']:%Y-%m}", label, d["scenario"], *cells])
    header = ["month", "kind", "scenario", "mean", "median"] + [
        f"{s} {percent(p)}%" for p in SHOWN_PROBS for s in ("lower", "upper")
    ]
    return Table(
        "Hidden inflow by month, USD million",
        header,
        rows,
        note=f"The last {HISTORY_MONTHS} fitted months and every forecast month; equal-tailed"
        " intervals.",
    )


def prior_table(tree: xr.DataTree, spec: ModelSpec) -> Table:
    """Every prior with its source, and the posterior of the scalar parameters."""
    post = tree["posterior"]
    rows = []
    for r in spec.prior_table():
        v = r["variable"]
        est = ""
        if v in post and post[v].ndim == 2:
            lo, med, hi = np.quantile(post[v].values.ravel(), (0.05, 0.5, 0.95))
            est = f"{fmt(med)} [{fmt(lo)}, {fmt(hi)}]"
        rows.append([v, r["distribution"], est, r["source"]])
    return Table(
        "Priors and their sources",
        ["variable", "prior", "posterior median [90%]", "source"],
        rows,
        note="Posterior shown for scalar parameters the model samples under the prior's name.",
    )


def published_table(pub: pd.DataFrame) -> Table:
    """``published_figures``' rows: each figure, its quantity and unit as the DataFrame names
    them, the posterior and predictive intervals, and where the figure lies."""
    k = percent(PREDICTIVE_PROB)
    rows = [
        [
            f"{r.quantity}, {r.unit}",
            r.observer,
            period(r.period_start, r.period_end),
            fmt(r.value),
            fmt(r.posterior_median),
            f"{fmt(r.lower)} to {fmt(r.upper)}",
            f"{fmt(r.predictive_lower)} to {fmt(r.predictive_upper)}",
            figure_status(r.outside, r.outside_predictive),
        ]
        for r in pub.itertuples(index=False)
    ]
    return Table(
        "Published figures against the posterior",
        [
            "quantity",
            "published by",
            "period",
            "figure",
            "posterior median",
            f"posterior {k}%",
            f"predictive {k}%",
            "figure is",
        ],
        rows,
        flagged=[bool(v) for v in pub["outside_predictive"]],
        note=f"'{INSIDE}': the published figure lies inside the posterior's {k}% interval of the"
        f" same quantity; '{OUTSIDE_POSTERIOR}': outside that interval but inside the"
        f" {k}% predictive interval, which adds the published estimates' shared error (expected"
        f" for some figures); '{OUTSIDE_PREDICTIVE}' (flagged): outside both, the model and"
        " that figure disagree.",
    )


def diagnostics_table(diag: Diagnostics, spec: ModelSpec) -> Table:
    """Convergence by variable, rows that miss the spec's thresholds flagged."""
    th = spec.thresholds
    t = diag.table.drop_duplicates("variable")
    bad = (
        (t.max_rhat > th.max_rhat)
        | (t.min_ess_bulk < th.min_ess_bulk)
        | (t.min_ess_tail < th.min_ess_tail)
    )
    rows = [
        [
            r.variable,
            f"{int(r.size)}",
            f"{r.max_rhat:.3f}",
            f"{r.min_ess_bulk:,.0f}",
            f"{r.min_ess_tail:,.0f}",
        ]
        for r in t.itertuples(index=False)
    ]
    bfmi = ", ".join(f"{b:.2f}" for b in diag.bfmi)
    return Table(
        "Convergence by variable",
        ["variable", "size", "max R-hat", "min bulk ESS", "min tail ESS"],
        rows,
        flagged=[bool(b) for b in bad],
        note=f"Divergent transitions: {diag.divergences}. E-BFMI by chain: {bfmi}.",
    )


PROVENANCE_KEYS = [
    ("data_as_of", "data as of"),
    ("data_kind", "data kind"),
    ("data_digest", "data digest"),
    ("model", "spec"),
    ("spec_hash", "spec hash"),
    ("nowcast_version", "nowcast version"),
    ("pymc_version", "PyMC version"),
    ("seed", "seed"),
    ("sampler", "sampler"),
    ("draws", "draws per chain"),
    ("tune", "tuning draws per chain"),
    ("chains", "chains"),
    ("target_accept", "target acceptance"),
    ("created_at", "fitted at"),
    ("compile_s", "compile time, s"),
    ("sampling_s", "sampling time, s"),
    ("postprocess_s", "post-processing time, s"),
]


def provenance_table(tree: xr.DataTree, forecasts: dict[str, xr.Dataset], created: str) -> Table:
    """What produced the run and its forecasts, and when the report was made."""
    attrs = tree.attrs
    rows = [[label, str(plain(attrs[k]))] for k, label in PROVENANCE_KEYS if k in attrs]
    for name, ds in forecasts.items():
        src = ds.attrs.get("scenario_file") or "fitted random walks"
        rows.append([f"forecast '{name}'", f"seed {ds.attrs.get('seed', '')}; drivers: {src}"])
    rows.append(["report created at", created])
    return Table("Provenance", ["item", "value"], rows)


def unused_table(unused: pd.DataFrame) -> Table:
    """The figures in the data the model does not use, by series and reason: how many, over
    which periods, from which areas (every figure: ``unused_figures.csv``)."""
    rows = []
    for (series, reason), g in unused.groupby(["series", "reason"], sort=True):
        areas = sorted(set(g["region"]))
        shown = ", ".join(areas[:6]) + (f" and {len(areas) - 6} more" if len(areas) > 6 else "")
        rows.append(
            [
                str(series),
                str(len(g)),
                f"{g['period_start'].min():%Y-%m} to {g['period_end'].max():%Y-%m}",
                shown,
                str(reason),
            ]
        )
    return Table(
        "Figures in the data the model does not use, and why",
        ["series", "figures", "periods", "areas", "why not used"],
        rows,
        note="Every such figure is listed in unused_figures.csv beside this report. A figure"
        " the model does not use contributes nothing to the nowcast, whatever it says.",
    )
