"""PDF pages for the report's texts and tables (charts are added by ``charts.ChartBook``),
drawn with matplotlib's PDF backend on figures made without pyplot: no other dependency."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.text import Text

from nowcast.report.style import ALERT_COLOUR, PAGE, SIMULATED_BANNER, new_figure, titled
from nowcast.report.tables import Table

LINES_PER_TEXT_PAGE = 38


def core_fonts(texts: Iterable[str]) -> bool:
    """Whether a page of ``texts`` is written in the PDF's standard fonts (Helvetica,
    Courier), which every reader has: only when each character is in their encoding
    (cp1252), since matplotlib writes any other as "?".

    Text and table pages are where the report's time went: with an embedded font,
    matplotlib's PDF backend lays out and tracks every glyph (3.3 s of the report's 10 s,
    measured); with a standard font it writes each line as one string (ten times faster)."""
    try:
        for t in texts:
            t.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


class _NoWeightWarning(logging.Filter):
    """The standard fonts' regular faces are declared "Medium": matplotlib warns each time a
    page's "normal" text is set in one, though the face is the right one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Failed to find font weight" not in record.getMessage()


def _save(pdf: PdfPages, fig: Figure, core: bool) -> None:
    fonts = logging.getLogger("matplotlib.font_manager")
    quiet = _NoWeightWarning()
    fonts.addFilter(quiet)
    try:
        with mpl.rc_context({"pdf.use14corefonts": core}):
            pdf.savefig(fig)
    finally:
        fonts.removeFilter(quiet)


def save_page(pdf: PdfPages, fig: Figure) -> None:
    """A finished chart as a page of ``pdf``, in the PDF's standard fonts when every text of
    the chart has them (``core_fonts``; a chart with a Unicode minus keeps the embedded font).
    The chart's PNG (drawn by Agg) keeps matplotlib's own font: the two differ in typeface
    only, the layout being the same. Measured: the published-figures page 0.58 -> 0.12 s."""
    _save(pdf, fig, core_fonts(_chart_texts(fig)))


def _chart_texts(fig: Figure) -> list[str]:
    """Every text ``fig`` draws: its text artists', and its tick labels as the axes' formatters
    give them (a figure not drawn yet has empty tick labels)."""
    texts = [t.get_text() for t in fig.findobj(Text)]
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for ticker, locs in (
                (axis.major, axis.get_majorticklocs()),
                (axis.minor, axis.get_minorticklocs()),
            ):
                texts.extend(ticker.formatter.format_ticks(locs))
                texts.append(ticker.formatter.get_offset())
    return texts


def page_header(fig: Figure, title: str, banner: bool) -> None:
    """The page's title, under a red SIMULATED banner when the data are simulated."""
    if banner:
        fig.text(
            0.5,
            0.975,
            SIMULATED_BANNER,
            ha="center",
            va="top",
            fontsize=12,
            weight="bold",
            color="white",
            bbox={"facecolor": ALERT_COLOUR, "edgecolor": "none", "pad": 4},
        )
    fig.text(0.06, 0.93, titled(title, banner), fontsize=14, weight="bold", va="top")


def text_pages(
    pdf: PdfPages, title: str, paragraphs: Sequence[str], banner: bool, width: int = 110
) -> None:
    """Paragraphs wrapped at ``width`` characters, over as many pages as they need."""
    lines: list[str] = []
    for p in paragraphs:
        lines.extend(textwrap.wrap(p, width) or [""])
        lines.append("")
    for start in range(0, max(len(lines), 1), LINES_PER_TEXT_PAGE):
        page = lines[start : start + LINES_PER_TEXT_PAGE]
        core = core_fonts([titled(title, banner), *page])
        fig = new_figure(*PAGE)
        page_header(fig, title, banner)
        y = 0.86
        for line in page:
            fig.text(0.06, y, line, fontsize=10, va="top")
            y -= 0.021
        _save(pdf, fig, core)


def _column_widths(table: Table, max_col: int) -> list[int]:
    widths = []
    for j in range(len(table.columns)):
        cells = [table.columns[j], *[r[j] for r in table.rows]]
        widths.append(max(min(max(len(c) for c in cells), max_col), 1))
    return widths


def table_pages(pdf: PdfPages, table: Table, banner: bool, max_col: int = 70) -> None:
    """A table as monospaced text, long cells wrapped, over as many pages as it needs; the
    font shrinks (down to 5.5 pt) for wide tables and grows (up to 9 pt) for narrow ones."""
    ncol = len(table.columns)
    widths = _column_widths(table, max_col)
    usable_pt = 0.92 * PAGE[0] * 72

    def chars(fs: float) -> int:  # monospace characters across the page at font size fs
        return int(usable_pt / (0.6 * fs))

    gap = 2 * (ncol - 1)
    while sum(widths) + gap > chars(5.5) and max(widths) > 8:
        widths[int(np.argmax(widths))] -= 1  # shrink the widest column until the table fits
    total = sum(widths) + gap
    fs = float(np.clip(usable_pt / (0.6 * total), 5.5, 9.0))
    step = fs * 1.3 / (PAGE[1] * 72)  # line height as a fraction of the page

    def wrap(row: list[str]) -> list[str]:
        cols = [textwrap.wrap(c, w) or [""] for c, w in zip(row, widths, strict=True)]
        height = max(len(c) for c in cols)
        return [
            "  ".join(
                (c[i] if i < len(c) else "").ljust(w) for c, w in zip(cols, widths, strict=True)
            ).rstrip()
            for i in range(height)
        ]

    header = wrap(table.columns)
    body = [(wrap(r), f) for r, f in zip(table.rows, table.flagged, strict=True)]
    top, bottom = 0.885, 0.09
    per_page = int((top - bottom) / step) - len(header) - 1
    pages: list[list[tuple[list[str], bool]]] = [[]]
    used = 0
    for lines, flag in body:
        if used + len(lines) > per_page and pages[-1]:
            pages.append([])
            used = 0
        pages[-1].append((lines, flag))
        used += len(lines)

    def line(fig: Figure, y: float, text: str, **kw: Any) -> None:
        fig.text(0.04, y, text, family="monospace", fontsize=fs, va="top", **kw)

    for k, page in enumerate(pages):
        cont = f" (continued, {k + 1}/{len(pages)})" if len(pages) > 1 else ""
        note = textwrap.wrap(table.note, 150) if table.note and k == len(pages) - 1 else []
        core = core_fonts(
            [titled(table.title + cont, banner), *header, *(t for ls, _ in page for t in ls), *note]
        )
        fig = new_figure(*PAGE)
        page_header(fig, table.title + cont, banner)
        y = top
        for text in header:
            line(fig, y, text, weight="bold")
            y -= step
        line(fig, y, "-" * total)
        y -= step
        for lines, flag in page:
            for text in lines:
                line(fig, y, text, color=ALERT_COLOUR if flag else "black")
                y -= step
        for i, text in enumerate(note):
            fig.text(0.04, 0.06 - i * 0.018, text, fontsize=8, style="italic")
        _save(pdf, fig, core)
