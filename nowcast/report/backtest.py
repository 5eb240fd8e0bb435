"""The backtest page: the nowcast's track record against a random walk and against figures
published later, as one self-contained HTML page and three CSV files.

``render_backtest_report`` writes, each atomically, into ``out_dir``:

* ``backtest.html``: the verdict in words, USD/RUB by horizon and by period, charts (CRPS
  ratio by horizon, PIT histograms, coverage against nominal), published figures before
  publication and every origin's fit. Charts are PNG data URIs and the CSS is inline.
* ``backtest_usd_rub.csv``, ``backtest_figures.csv``: the scored rows;
  ``backtest_summary.csv``: the by-horizon table as numbers (``horizon_summary``).

The numbers come from ``nowcast.report.backtest_summary``; charts are drawn on figures made by
``style.new_figure``, never through pyplot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nowcast.files import write_csv, write_text
from nowcast.report import backtest_summary as bs
from nowcast.report import charts
from nowcast.report.charts import Chart, ChartBook
from nowcast.report.html import render_template
from nowcast.report.style import (
    ALERT_COLOUR,
    NOWCAST_COLOUR,
    PAGE,
    new_figure,
    titled,
)
from nowcast.report.tables import Table, fmt, period
from nowcast.scores import pit_histogram

PIT_BINS = 10
HTML_FILE = "backtest.html"
USD_RUB_FILE = "backtest_usd_rub.csv"
FIGURES_FILE = "backtest_figures.csv"
SUMMARY_FILE = "backtest_summary.csv"
BASELINES_FILE = "backtest_baselines.csv"
INSIDE_WORD, OUTSIDE_WORD = "inside", "outside"


@dataclass(frozen=True)
class BacktestReportPaths:
    """Where ``render_backtest_report`` wrote its files."""

    html: Path
    usd_rub_csv: Path
    figures_csv: Path
    summary_csv: Path
    baselines_csv: Path | None = None


@dataclass(frozen=True)
class Baseline:
    """A baseline spec's backtest on the same origins: what it is, its id and its scores."""

    description: str
    backtest_id: str
    scores: pd.DataFrame


# ---------------------------------------------------------------------------------- tables


def _interval(lo: float, hi: float) -> str:
    return f"{fmt(lo)} to {fmt(hi)}" if np.isfinite(lo) and np.isfinite(hi) else ""


def _ratio_cell(r: Any) -> str:
    if not np.isfinite(r.ratio):
        return ""
    if not np.isfinite(r.ratio_lower):
        return f"{r.ratio:.2f} [n/a]"
    return f"{r.ratio:.2f} [{r.ratio_lower:.2f}, {r.ratio_upper:.2f}]"


def _cov(x: float) -> str:
    return f"{100 * x:.0f}%" if np.isfinite(x) else ""


def horizon_table(summary: pd.DataFrame) -> Table:
    """USD/RUB by horizon; rows where the random walk was better are flagged."""
    levels = [f"{k}%" for k in bs.TABLE_LEVELS]
    columns = ["h", "origins", "CRPS model", "CRPS RW", "ratio [90%]", "verdict"]
    columns += ["log score model", "log score RW"]
    columns += [f"cover {lv} {m}" for lv in levels for m in ("model", "RW")]
    columns += ["80% width model", "80% width RW"]
    rows, flags = [], []
    for r in summary.itertuples(index=False):
        d = r._asdict()
        verdict = bs.ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper)
        cells = [str(r.horizon), str(r.origins), fmt(r.crps_model), fmt(r.crps_rw)]
        cells += [_ratio_cell(r), verdict, fmt(r.logs_model), fmt(r.logs_rw)]
        cells += [_cov(d[f"coverage_{k}_{m}"]) for k in bs.TABLE_LEVELS for m in ("model", "rw")]
        cells += [fmt(r.width_80_model), fmt(r.width_80_rw)]
        rows.append(cells)
        flags.append(verdict == bs.RW_BETTER)
    return Table(
        "USD/RUB by horizon: the model against the random walk",
        columns,
        rows,
        flags,
        note="Mean CRPS and log score (RUB per USD; lower is better) over the origins where both"
        " forecasts were scored. Ratio: mean CRPS model / random walk, with its 90% moving-block"
        " bootstrap interval over origins (blocks of max(h, 3)). Cover: share of realised"
        " monthly means inside the central interval. Flagged: the random walk was better.",
    )


def baseline_table(table: pd.DataFrame) -> Table:
    """The model against each baseline spec by horizon; rows where the baseline was better
    are flagged."""
    columns = ["baseline", "h", "origins", "CRPS model", "CRPS baseline", "ratio [90%]"]
    columns += ["verdict", "baseline / RW", "cover 80% model", "cover 80% baseline"]
    rows, flags = [], []
    for r in table.itertuples(index=False):
        verdict = bs.ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper)
        won = verdict == bs.RW_BETTER
        said = {bs.RW_BETTER: "the baseline was better"}.get(verdict, verdict)
        cells = [r.baseline, str(r.horizon), str(r.origins), fmt(r.crps_model)]
        cells += [fmt(r.crps_baseline), _ratio_cell(r), said, fmt(r.baseline_ratio_rw)]
        cells += [_cov(r.coverage_80_model), _cov(r.coverage_80_baseline)]
        rows.append(cells)
        flags.append(won)
    return Table(
        "USD/RUB: the model against its baselines",
        columns,
        rows,
        flags,
        note="Each baseline is the model's spec with one thing changed, backtested on the same"
        " origins with the same sampler. Ratio: mean CRPS model / baseline over the origins"
        " both scored, with its 90% moving-block bootstrap interval; baseline / RW: the"
        " baseline's own ratio to the random walk. Flagged: the baseline was better.",
    )


def period_table(per: pd.DataFrame) -> Table:
    """The CRPS ratio and 80% coverage by period and horizon."""
    rows, flags = [], []
    for r in per.itertuples(index=False):
        verdict = bs.ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper)
        rows.append(
            [
                str(r.period),
                str(r.horizon),
                str(r.origins),
                _ratio_cell(r),
                verdict,
                _cov(r.coverage_80_model),
                _cov(r.coverage_80_rw),
            ]
        )
        flags.append(verdict == bs.RW_BETTER)
    return Table(
        "USD/RUB by period of the target month",
        ["period", "h", "origins", "ratio [90%]", "verdict", "cover 80% model", "cover 80% RW"],
        rows,
        flags,
        note="Periods: before the 2022 sanctions, the grey years, and legal mining from 2024-11."
        " Few origins in a period give wide intervals.",
    )


def figures_table(figs: pd.DataFrame) -> Table:
    """Every published figure scored, one row per (figure, origin); those outside the 90%
    predictive interval are flagged."""
    k = bs.FIGURE_LEVEL
    inside = bs.covered(figs, k)
    stored = f"lower_{k}" in figs and f"upper_{k}" in figs
    rows = []
    for r, ok in zip(figs.to_dict("records"), inside, strict=True):
        bounds = _interval(r[f"lower_{k}"], r[f"upper_{k}"]) if stored else "not stored"
        rows.append(
            [
                f"{r['quantity']}, {r['unit']}",
                str(r["region"]),
                period(pd.Timestamp(r["period_start"]), pd.Timestamp(r["period_end"])),
                fmt(pd.Timestamp(r["published"])) if pd.notna(r["published"]) else "",
                f"{pd.Timestamp(r['origin']):%Y-%m}",
                fmt(r["observed"]),
                fmt(r["median"]),
                bounds,
                f"{r['pit']:.2f}",
                INSIDE_WORD if ok else OUTSIDE_WORD,
            ]
        )
    note = (
        f"Each figure against the posterior predictive of a nowcast made at the origin, before"
        f" the figure was published. Flagged: outside the {k}% predictive interval."
    )
    if not stored:
        note += (
            f" The backtest does not store {k}% bounds, so inside or outside is read off the"
            f" PIT (inside when it lies between {(100 - k) / 200:.2f} and {(100 + k) / 200:.2f})."
        )
    return Table(
        "Published figures before publication",
        ["quantity", "region", "period", "published", "origin", "figure", "median"]
        + [f"predictive {k}%", "PIT", f"{k}% interval"],
        rows,
        [not bool(v) for v in inside],
        note,
    )


def figure_summary_table(fs: pd.DataFrame) -> Table:
    """Per kind of published figure: n, share inside 90%, mean PIT."""
    rows = [
        [str(r.quantity), str(r.n), str(r.origins), f"{r.inside} ({_cov(r.share_inside)})"]
        + [f"{r.mean_pit:.2f}"]
        for r in fs.itertuples(index=False)
    ]
    return Table(
        "Published figures by kind",
        ["kind", "figures scored", "origins", f"inside {bs.FIGURE_LEVEL}%", "mean PIT"],
        rows,
        note="A mean PIT near 0.5 means no systematic bias; near 0 the model ran too high, near"
        " 1 too low.",
    )


def origins_table(origins: pd.DataFrame) -> Table:
    """Each origin's fit; those whose diagnostics failed are flagged."""
    cols = ["origin", "as_of", "fitted_through", "seconds", "divergences", "max_rhat"]
    cols += ["diagnostics_ok", "problems"]
    df = origins.reindex(columns=cols).sort_values("origin")
    ok = df["diagnostics_ok"].fillna(False).astype(bool)
    rows = [
        [
            f"{pd.Timestamp(r.origin):%Y-%m}",
            fmt(pd.Timestamp(r.as_of)) if pd.notna(r.as_of) else "",
            fmt(pd.Timestamp(r.fitted_through)) if pd.notna(r.fitted_through) else "",
            f"{r.seconds:,.0f}" if pd.notna(r.seconds) else "",
            str(int(r.divergences)) if pd.notna(r.divergences) else "",
            f"{r.max_rhat:.3f}" if pd.notna(r.max_rhat) else "",
            "yes" if good else "FAILED",
            str(r.problems) if pd.notna(r.problems) else "",
        ]
        for r, good in zip(df.itertuples(index=False), ok, strict=True)
    ]
    return Table(
        "Origins",
        ["origin", "as of", "fitted through", "seconds", "divergences", "max R-hat"]
        + ["diagnostics ok", "problems"],
        rows,
        [not g for g in ok],
        note="Each origin is one fit on the data as they stood on its as-of day. Flagged: the"
        " fit failed its convergence diagnostics (its scores are kept).",
    )


# ---------------------------------------------------------------------------------- charts


def ratio_chart(book: ChartBook, summary: pd.DataFrame) -> Chart:
    """The CRPS ratio by horizon with its 90% interval, a line at 1."""
    fig = new_figure(PAGE[0] * 0.6, 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(summary))
    ratio = summary["ratio"].to_numpy(dtype=float)
    lo = summary["ratio_lower"].to_numpy(dtype=float)
    hi = summary["ratio_upper"].to_numpy(dtype=float)
    known = np.isfinite(lo) & np.isfinite(hi)
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--", label="equal CRPS")
    if known.any():
        err = np.vstack([ratio[known] - lo[known], hi[known] - ratio[known]])
        ax.errorbar(x[known], ratio[known], yerr=err, fmt="o", color=NOWCAST_COLOUR,
                    capsize=5, label="ratio, 90% interval")  # fmt: skip
    if (~known).any():
        ax.plot(x[~known], ratio[~known], "o", mfc="white", color=NOWCAST_COLOUR,
                label="ratio, interval n/a")  # fmt: skip
    ax.set_xticks(x, [f"h = {h}" for h in summary["horizon"]])
    ax.set_xlim(-0.6, len(summary) - 0.4)
    ax.set_ylabel("mean CRPS, model / random walk")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="best")
    title = book.title("USD/RUB: CRPS ratio model / random walk by horizon")
    ax.set_title(title)
    return book.add(fig, title, "Below 1 the model was better; above 1 the random walk was.")


def pit_chart(book: ChartBook, scores: pd.DataFrame) -> Chart | None:
    """PIT histograms: the model's USD/RUB forecasts per horizon, and the published figures."""
    usd = bs.usd_rub_rows(scores)
    model = usd[usd["model"] == bs.MODEL]
    panels = [(f"USD/RUB, h = {h}", g["pit"]) for h, g in model.groupby("horizon")]
    figs = bs.figure_rows(scores)
    if len(figs):
        panels.append(("published figures", figs["pit"]))
    if not panels:
        return None
    fig = new_figure(min(PAGE[0], 2.9 * len(panels) + 0.5), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    edges = np.linspace(0, 1, PIT_BINS + 1)
    for ax, (label, pit) in zip(axes, panels, strict=True):
        counts = pit_histogram(pit.to_numpy(dtype=float), PIT_BINS)
        ax.bar(edges[:-1], counts, width=1 / PIT_BINS, align="edge", color=NOWCAST_COLOUR,
               alpha=0.7, edgecolor="white")  # fmt: skip
        ax.axhline(len(pit) / PIT_BINS, color=ALERT_COLOUR, linewidth=1.2, linestyle="--")
        ax.set_title(f"{label} (n = {len(pit)})", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_xlabel("PIT")
    axes[0].set_ylabel("count")
    title = book.title("PIT histograms of the model's forecasts")
    fig.suptitle(title)
    return book.add(
        fig,
        title,
        f"{PIT_BINS} bins; the dashed line is the level of a calibrated forecast (uniform PIT)."
        " A U shape means intervals too narrow, a hump too wide, a slope a bias.",
        top=0.9,
    )


def coverage_chart(book: ChartBook, scores: pd.DataFrame) -> Chart | None:
    """Observed coverage against nominal, with the diagonal."""
    curve = bs.coverage_curve(scores).dropna(axis=1, how="all")
    if curve.empty or not len(curve.columns):
        return None
    caption = "Below the diagonal the intervals were too narrow."
    derived = [k for k in bs.NOMINAL_LEVELS if f"covered_{k}" not in scores]
    if derived:  # say which points do not come from stored bounds
        levels = ", ".join(f"{k}%" for k in derived)
        caption += f" Coverage at {levels} (bounds not stored) is read off the PIT."
    nominal = curve.index.to_numpy(dtype=float)
    curves = {str(name): 100 * col.to_numpy(dtype=float) for name, col in curve.items()}
    return charts.coverage_chart(book, nominal, curves, caption)


# ---------------------------------------------------------------------------------- page


def _meta_lines(meta: dict[str, Any], origins: pd.DataFrame) -> list[str]:
    horizons = meta.get("horizons", "")
    if isinstance(horizons, list | tuple):
        horizons = ", ".join(map(str, horizons))
    span = ""
    if len(origins) and "origin" in origins:
        first, last = pd.Timestamp(origins["origin"].min()), pd.Timestamp(origins["origin"].max())
        span = f"; origins {first:%Y-%m} to {last:%Y-%m} ({len(origins)})"
    return [
        f"Backtest {meta.get('backtest_id', '')}, spec {meta.get('spec_name', '')},"
        f" horizons {horizons} months{span}.",
        f"Sampler: {meta.get('sampler', '')}. Data: {meta.get('data_kind', '')}; scored against"
        f" the store as of ingest {meta.get('scored_through_ingest', '')}.",
    ]


def _horizons(meta: dict[str, Any]) -> tuple[int, ...]:
    h = meta.get("horizons", ())
    if isinstance(h, str):
        h = [v for v in h.split(",") if v.strip()]
    return tuple(int(v) for v in h)


def render_backtest_report(
    origins: pd.DataFrame,
    scores: pd.DataFrame,
    meta: dict[str, Any],
    out_dir: Path,
    baselines: dict[str, Baseline] | None = None,
) -> BacktestReportPaths:
    """Write ``backtest.html`` and the CSVs of a backtest into ``out_dir``, each atomically.
    ``origins``, ``scores``: as ``nowcast.backtest.load_backtest`` returns them; ``meta``:
    backtest_id, spec_name, sampler, horizons, data_kind, scored_through_ingest;
    ``baselines``: baseline specs backtested on the same origins, by spec name, set side by
    side with the model (and ``backtest_baselines.csv``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    simulated = str(meta.get("data_kind", "real")) != "real"
    summary = bs.horizon_summary(scores)
    per = bs.period_summary(scores)
    usd = bs.usd_rub_rows(scores)
    figs = bs.figure_rows(scores)
    fsum = bs.figure_summary(scores)
    verdict = bs.verdict_sentences(summary, scores, origins, _horizons(meta))
    baselines = baselines or {}
    versus = bs.baseline_summary(scores, {k: b.scores for k, b in baselines.items()})
    verdict += bs.baseline_sentences(versus, {k: b.description for k, b in baselines.items()})

    book = ChartBook(simulated)
    made = {
        "ratio": ratio_chart(book, summary) if summary["ratio"].notna().any() else None,
        "pit": pit_chart(book, scores),
        "coverage": coverage_chart(book, scores),
    }
    tabs = {
        "horizons": horizon_table(summary) if len(summary) else None,
        "periods": period_table(per) if len(per) else None,
        "baselines": baseline_table(versus) if len(versus) else None,
        "figures": figures_table(figs) if len(figs) else None,
        "figure_kinds": figure_summary_table(fsum) if len(fsum) else None,
        "origins": origins_table(origins) if len(origins) else None,
    }
    html = render_template(
        "backtest.html.j2",
        simulated=simulated,
        title=titled("Backtest: the nowcast's track record", simulated),
        meta_lines=_meta_lines(meta, origins),
        verdict=verdict,
        rw_better=bs.baseline_won(versus)
        or any(
            bs.ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper) == bs.RW_BETTER
            for table in (summary, per)
            for r in table.itertuples(index=False)
        ),
        baselines=[(k, b.description, b.backtest_id) for k, b in baselines.items()],
        failed_text=bs.failed_origins_sentence(origins),
        charts=made,
        tables=tabs,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return BacktestReportPaths(
        write_text(html, out_dir / HTML_FILE),
        write_csv(usd, out_dir / USD_RUB_FILE),
        write_csv(figs, out_dir / FIGURES_FILE),
        write_csv(summary, out_dir / SUMMARY_FILE),
        write_csv(versus, out_dir / BASELINES_FILE) if baselines else None,
    )
