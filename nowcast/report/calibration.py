"""The calibration page (``nowcast calibrate``): rank histograms of the truth among posterior
draws with a chi-square test of uniformity, coverage against nominal level, and every
dataset's fit. Every figure on it comes from SIMULATED data, and the page says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nowcast.calibrate import RANK_BINS, uniformity
from nowcast.files import write_csv, write_text
from nowcast.intervals import percent
from nowcast.report import charts
from nowcast.report.charts import Chart, ChartBook
from nowcast.report.html import render_template
from nowcast.report.style import NOWCAST_COLOUR, PAGE, new_figure, titled
from nowcast.report.tables import Table, fmt
from nowcast.scores import COVERAGE_PROBS

HTML_FILE = "calibration.html"
RANKS_FILE = "calibration_ranks.csv"
SUMMARY_FILE = "calibration_summary.csv"
UNIFORM_P = 0.01  # below this the ranks are called not uniform


@dataclass(frozen=True)
class CalibrationReportPaths:
    html: Path
    ranks_csv: Path
    summary_csv: Path


def verdict_sentences(summary: pd.DataFrame) -> list[str]:
    """One sentence per quantity: are its ranks uniform, do its intervals cover as stated."""
    if summary.empty:
        return ["No dataset has finished yet: nothing to judge."]
    out = []
    for r in summary.itertuples(index=False):
        bad = [
            f"{percent(p)}% ({100 * getattr(r, f'coverage_{percent(p)}'):.0f}%)"
            for p in COVERAGE_PROBS
            if not getattr(r, f"coverage_{percent(p)}_ok")
        ]
        ranks = (
            f"ranks not uniform (chi-square p = {r.p_value:.3f})"
            if r.p_value < UNIFORM_P
            else f"ranks consistent with uniform (chi-square p = {r.p_value:.2f})"
        )
        cover = (
            "every interval covers the truth as often as stated (within a binomial 99% band)"
            if not bad
            else f"intervals off their nominal level at {', '.join(bad)}"
        )
        out.append(f"{r.quantity}, {r.datasets} datasets: {ranks}; {cover}.")
    return out


def rank_chart(book: ChartBook, ranks: pd.DataFrame, summary: pd.DataFrame) -> Chart | None:
    """One rank histogram per quantity, with the uniform count and its 99% band."""
    if summary.empty:
        return None
    n = len(summary)
    fig = new_figure(PAGE[0], 2.9 * ((n + 1) // 2))
    for i, r in enumerate(summary.itertuples(index=False)):
        ax = fig.add_subplot((n + 1) // 2, 2, i + 1)
        counts = np.asarray(r.rank_counts, dtype=float)
        expected = r.datasets / RANK_BINS
        half = 2.576 * np.sqrt(expected * (1 - 1 / RANK_BINS))
        ax.axhspan(max(expected - half, 0), expected + half, color="0.85", label="99% band")
        ax.bar(np.arange(RANK_BINS), counts, color=NOWCAST_COLOUR, width=0.9)
        ax.axhline(expected, color="black", linewidth=1, linestyle="--", label="uniform")
        ax.set_title(f"{r.quantity} (p = {r.p_value:.2f})", fontsize=9)
        ax.set_xticks([0, RANK_BINS - 1], ["lowest", "highest"])
        ax.set_ylabel("datasets")
        if i == 0:
            ax.legend(fontsize=7)
    title = book.title("Rank of the truth among posterior draws")
    fig.suptitle(title)
    caption = "Bins of ranks; grey: where 99% of uniform histograms fall."
    return book.add(fig, title, caption, top=0.93)


def coverage_chart(book: ChartBook, summary: pd.DataFrame) -> Chart | None:
    """Observed coverage of each quantity's central intervals against their nominal level."""
    if summary.empty:
        return None
    nominal = np.array([100 * p for p in COVERAGE_PROBS])
    curves = {
        r.quantity: np.array([100 * getattr(r, f"coverage_{percent(p)}") for p in COVERAGE_PROBS])
        for r in summary.itertuples(index=False)
    }
    return charts.coverage_chart(book, nominal, curves)


def _uniformity_table(summary: pd.DataFrame) -> Table:
    cols = ["quantity", "datasets", "rank counts", "chi-square", "p-value"]
    cols += [f"coverage {percent(p)}%" for p in COVERAGE_PROBS]
    rows = [
        [
            r.quantity,
            str(r.datasets),
            " ".join(map(str, r.rank_counts)),
            fmt(r.chi_square),
            fmt(r.p_value),
            *[f"{100 * getattr(r, f'coverage_{percent(p)}'):.0f}%" for p in COVERAGE_PROBS],
        ]
        for r in summary.itertuples(index=False)
    ]
    flagged = [
        bool(r.p_value < UNIFORM_P)
        or not all(getattr(r, f"coverage_{percent(p)}_ok") for p in COVERAGE_PROBS)
        for r in summary.itertuples(index=False)
    ]
    return Table("Uniformity of ranks and coverage, by quantity", cols, rows, flagged)


def _datasets_table(ranks: pd.DataFrame) -> Table:
    per = ranks.groupby("dataset").first().reset_index()
    rows = [
        [
            str(r.dataset),
            str(r.seed),
            str(r.divergences),
            fmt(r.max_rhat),
            "yes" if r.diagnostics_ok else "NO",
            f"{r.seconds:.0f}",
        ]
        for r in per.itertuples(index=False)
    ]
    cols = ["dataset", "seed", "divergences", "max R-hat", "diagnostics ok", "seconds"]
    flagged = [not bool(r.diagnostics_ok) for r in per.itertuples(index=False)]
    failed = sum(flagged)
    note = (
        f"{failed} of {len(per)} fits failed their convergence diagnostics; their ranks are kept."
        if failed
        else "Every fit passed its convergence diagnostics."
    )
    return Table("Datasets", cols, rows, flagged, note)


def render_calibration_report(
    ranks: pd.DataFrame, meta: dict[str, Any], out_dir: Path
) -> CalibrationReportPaths:
    """Write ``calibration.html`` and its CSVs into ``out_dir``, each atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = uniformity(ranks) if len(ranks) else pd.DataFrame()
    book = ChartBook(True)  # calibration data are simulated, always
    verdict = verdict_sentences(summary)
    miscalibrated = bool(len(summary)) and any(
        r.p_value < UNIFORM_P
        or not all(getattr(r, f"coverage_{percent(p)}_ok") for p in COVERAGE_PROBS)
        for r in summary.itertuples(index=False)
    )
    html = render_template(
        "calibration.html.j2",
        simulated=True,
        title=titled("Simulation-based calibration", True),
        meta_lines=[
            f"Calibration {meta.get('calibration_id', '')}, spec {meta.get('spec_name', '')}:"
            f" {meta.get('datasets', 0)} datasets drawn from the prior with the real data's"
            f" availability; settings {meta.get('settings', '')}.",
        ],
        verdict=verdict,
        miscalibrated=miscalibrated,
        charts={
            "ranks": rank_chart(book, ranks, summary),
            "coverage": coverage_chart(book, summary),
        },
        tables={
            "uniformity": _uniformity_table(summary) if len(summary) else None,
            "datasets": _datasets_table(ranks) if len(ranks) else None,
        },
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    flat = summary.assign(rank_counts=summary["rank_counts"].map(str)) if len(summary) else summary
    return CalibrationReportPaths(
        write_text(html, out_dir / HTML_FILE),
        write_csv(ranks, out_dir / RANKS_FILE),
        write_csv(flat, out_dir / SUMMARY_FILE),
    )
