"""``render_report``: one fitted run and its forecasts as the HTML page, the PDF and the
summaries. It reads the saved posterior only: nothing here fits, rebuilds or re-derives the
model (the free variables come from the run's attributes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import xarray as xr
from matplotlib.backends.backend_pdf import PdfPages

from nowcast.files import write_atomic, write_csv, write_text
from nowcast.fit import Diagnostics, diagnose, free_variables
from nowcast.identify import DATA_SAY, PARTLY, regional_mining
from nowcast.model.published import unused_figures
from nowcast.model.spec import ModelSpec, spec_of
from nowcast.report import charts, pdf, tables, updates
from nowcast.report.elsewhere import DrawnElsewhere, matches
from nowcast.report.exports import write_forecasts, write_summary
from nowcast.report.html import render_html
from nowcast.report.published import published_figures
from nowcast.report.style import PREDICTIVE_PROB, titled
from nowcast.report.summaries import (
    check_forecasts,
    headline,
    is_simulated,
    metadata,
    ordered,
    ragged_edge_start,
    summary_table,
)
from nowcast.report.text import (
    diagnostics_verdict,
    edge_text,
    headline_text,
    identification_text,
)
from nowcast.report.updates import UpdateSection


@dataclass(frozen=True)
class ReportPaths:
    """Where ``render_report`` wrote its files."""

    html: Path
    pdf: Path
    summary_csv: Path
    summary_json: Path
    forecast_csv: dict[str, Path] = field(default_factory=dict)


UNUSED_FILE = "unused_figures.csv"


def _spec(tree: xr.DataTree) -> ModelSpec:
    return spec_of(tree)  # a NowcastError naming the run's spec when it cannot be read


def render_report(
    tree: xr.DataTree,
    forecasts: dict[str, xr.Dataset],
    out_dir: Path,
    *,
    diagnostics: Diagnostics | None = None,
    narrowing_table: pd.DataFrame | None = None,
    sensitivity_table: pd.DataFrame | None = None,
    ablation_table: pd.DataFrame | None = None,
    declared_exports: pd.Series | None = None,
    update: UpdateSection | None = None,
    drawn: DrawnElsewhere | None = None,
) -> ReportPaths:
    """Write the report of one fitted run into ``out_dir``: ``report.html`` (self-contained),
    ``report.pdf`` (the same charts, tables and texts as PDF pages), ``summary.csv``,
    ``summary.json`` and ``forecast_<scenario>.csv`` per scenario, each atomically.

    ``forecasts`` maps a scenario name to what ``nowcast.forecast.forecast`` returned for this
    run (the baseline is shown first). ``diagnostics`` default to ``nowcast.fit.diagnose`` on
    the tree, over the free variables the fit recorded (every posterior variable for runs that
    predate that record). ``declared_exports``: monthly goods exports, USD bn, indexed by
    month; by default the panel's ``goods_exports_usd_bn``. The identification tables are shown
    when given; ``update`` adds how this nowcast was updated, its news and the history.
    ``drawn``: the published-figures chart and region panels, started in the sidecar
    process (``nowcast.report.elsewhere.draw_elsewhere``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    forecasts = ordered(forecasts)
    check_forecasts(tree, forecasts)
    spec = _spec(tree)
    simulated = is_simulated(tree) or any(
        str(ds.attrs.get("data_kind", "real")) != "real" for ds in forecasts.values()
    )
    created = datetime.now(UTC).isoformat(timespec="seconds")
    if diagnostics is None:
        diagnostics = diagnose(tree, spec, free_variables(tree))

    summary = summary_table(tree, forecasts)
    head = headline(tree, declared_exports)
    head_text = headline_text(head)
    edge = ragged_edge_start(tree["panel"].to_dataset())
    pub = published_figures(tree, PREDICTIVE_PROB)
    unused = unused_figures(tree)
    ident = identification_text(tree, spec, narrowing_table, sensitivity_table, ablation_table)
    verdict = diagnostics_verdict(diagnostics, spec)
    short_verdict = diagnostics_verdict(diagnostics, spec, short=True)
    edge_words = edge_text(edge)

    def optional(df: pd.DataFrame | None, title: str) -> tables.Table | None:
        return tables.frame_table(df, title) if df is not None else None

    tabs = {
        "regions": tables.frame_table(
            regional_mining(tree),
            "Where the mining power is drawn: mining load by region over the last 12 months"
            " (GW), ranked",
            "said_by: whether the data or only the prior place the load there (narrowing of"
            f" the load's variance at least {DATA_SAY}: the data; {PARTLY} to {DATA_SAY}:"
            " partly; below: the prior). An energy system's rest (OES-...-REST) is every region"
            " of it not modelled on its own; comparison regions carry no mining and are left"
            " out.",
        )
        if "region_share" in tree["prior"]
        else None,
        "intervals": tables.interval_table(summary),
        "priors": tables.prior_table(tree, spec),
        "published": tables.published_table(pub) if len(pub) else None,
        "unused": tables.unused_table(unused) if len(unused) else None,
        "diagnostics": tables.diagnostics_table(diagnostics, spec),
        "provenance": tables.provenance_table(tree, forecasts, created),
        "narrowing": optional(
            narrowing_table, "Narrowing: 1 - posterior variance / prior variance"
        ),
        "sensitivity": optional(
            sensitivity_table, "Power-scaling sensitivity to the prior and each kind of evidence"
        ),
        "ablation": optional(
            ablation_table, "Ablation: annual inflow's 90% interval (USD bn) by evidence used"
        ),
        "revision": (
            updates.revision_table(update.revision)
            if update is not None and update.revision is not None and len(update.revision)
            else None
        ),
    }
    update_lines = updates.update_text(update) if update is not None else []
    made: dict[str, object] = {"waterfalls": [], "history": None, "regions": []}

    # The PDF is written page by page in reading order; the charts it draws are kept for the
    # HTML page, so both carry the very same images.
    def write_pdf(tmp: Path) -> None:
        with PdfPages(tmp, metadata={"Title": "Hidden mining inflow nowcast"}) as doc:
            book = charts.ChartBook(simulated, doc)
            intro = [
                *head_text,
                f"Run: spec {spec.name} ({tree.attrs.get('spec_hash', '')}), data as of"
                f" {tree.attrs.get('data_as_of', '')} ({tree.attrs.get('data_kind', '')}),"
                f" fitted {tree.attrs.get('created_at', '')}; report created {created}.",
                short_verdict,
                edge_words,
            ]
            pdf.text_pages(doc, "Hidden mining inflow: headline", intro, simulated)
            if update is not None:
                if update_lines:
                    pdf.text_pages(doc, "This update", update_lines, simulated)
                if tabs["revision"] is not None:
                    pdf.table_pages(doc, tabs["revision"], simulated)
                    made["waterfalls"] = [
                        updates.waterfall_chart(book, update.revision, str(t))
                        for t in dict.fromkeys(update.revision["target"])
                    ]
                made["history"] = updates.history_figure(book, update)
            first = next(iter(forecasts.items()), None)
            made["inflow"] = charts.inflow_chart(book, tree, first, edge)
            made["fans"] = [charts.fan_chart(book, tree, n, ds) for n, ds in forecasts.items()]
            pdf.table_pages(doc, tabs["intervals"], simulated)
            made["prior_posterior"] = charts.prior_posterior_chart(book, tree)
            pdf.table_pages(doc, tabs["priors"], simulated)
            if ident:
                pdf.text_pages(doc, "Identification", ident, simulated)
            for k in ("narrowing", "sensitivity", "ablation"):
                if tabs[k] is not None:
                    pdf.table_pages(doc, tabs[k], simulated)
            if drawn is not None and matches(drawn, simulated):
                made["published"] = drawn.published_chart(book)
                made["regions"] = drawn.region_charts(book)
            else:
                made["published"] = charts.published_chart(book, pub)
                made["regions"] = charts.region_charts(book, tree, pub)
            if tabs["regions"] is not None:
                pdf.table_pages(doc, tabs["regions"], simulated)
            if tabs["published"] is not None:
                pdf.table_pages(doc, tabs["published"], simulated)
            if tabs["unused"] is not None:
                pdf.table_pages(doc, tabs["unused"], simulated)
            pdf.text_pages(doc, "Diagnostics", [verdict], simulated)
            pdf.table_pages(doc, tabs["diagnostics"], simulated)
            pdf.table_pages(doc, tabs["provenance"], simulated)

    pdf_path = write_atomic(out_dir / "report.pdf", write_pdf)
    html = render_html(
        simulated=simulated,
        title=titled("Hidden mining inflow: nowcast report", simulated),
        headline=head_text,
        edge_text=edge_words,
        charts=made,
        tables=tabs,
        identification=ident,
        verdict=verdict,
        short_verdict=short_verdict,
        diagnostics_ok=diagnostics.ok,
        created=created,
        spec_name=spec.name,
        attrs=metadata(tree),
        scenarios=list(forecasts),
        update_lines=update_lines,
    )
    html_path = write_text(html, out_dir / "report.html")
    write_csv(unused, out_dir / UNUSED_FILE)
    csv_path, json_path = write_summary(
        summary,
        out_dir,
        metadata={**metadata(tree), "report_created_at": created},
        headline=head,
        ragged_edge_start=edge,
    )
    return ReportPaths(
        html_path, pdf_path, csv_path, json_path, write_forecasts(forecasts, out_dir)
    )
