"""The report's parts on their own: the published-figures labels, the table and chart being
generic over kinds of evidence, charts drawn without pyplot, and an import that leaves a
user's matplotlib backend alone."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from nowcast.report import figure_status
from nowcast.report.charts import Chart, ChartBook, published_chart
from nowcast.report.published import (
    COLUMNS,
    INSIDE,
    OUTSIDE_POSTERIOR,
    OUTSIDE_PREDICTIVE,
)
from nowcast.report.tables import published_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class RecordingBook(ChartBook):
    """A ChartBook that keeps each finished figure, so a test can look inside it."""

    def __init__(self, simulated: bool = False) -> None:
        super().__init__(simulated)
        self.figures: list[Figure] = []

    def add(self, fig: Figure, title: str, caption: str = "", top: float = 1.0) -> Chart:
        self.figures.append(fig)
        return super().add(fig, title, caption, top)


@pytest.fixture
def no_pyplot(monkeypatch):
    """Any figure made through pyplot fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the report must not make figures through pyplot")

    for name in ("figure", "subplots", "subplot_mosaic"):
        monkeypatch.setattr(plt, name, refuse)
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before


def _row(block: str, quantity: str, unit: str, value: float, **bounds: float) -> dict:
    row = {
        "block": block,
        "quantity": quantity,
        "unit": unit,
        "region": "RU",
        "observer": "A publisher",
        "period_start": pd.Timestamp("2024-01-01"),
        "period_end": pd.Timestamp("2024-12-31"),
        "published": pd.Timestamp("2025-02-01"),
        "value": value,
        "posterior_median": 10.0,
        "lower": 8.0,
        "upper": 12.0,
        "predictive_lower": 5.0,
        "predictive_upper": 20.0,
    }
    row.update(bounds)
    row["outside"] = not row["lower"] <= value <= row["upper"]
    row["outside_predictive"] = not row["predictive_lower"] <= value <= row["predictive_upper"]
    return row


@pytest.fixture
def figures() -> pd.DataFrame:
    """One figure in each place, from kinds of evidence the report has never heard of."""
    rows = [
        _row("geothermal_mw", "Russia's geothermal mining load", "MW", 11.0),
        _row("pool_share", "A pool's share of Russian hashrate", "%", 15.0),
        _row("customs_btc", "BTC declared at customs", "BTC", 30.0),
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


@pytest.mark.parametrize(
    ("outside", "outside_predictive", "label"),
    [
        (False, False, "inside posterior"),
        (True, False, "outside posterior, inside predictive"),
        (True, True, "outside predictive"),
    ],
)
def test_figure_status_labels(outside, outside_predictive, label):
    assert figure_status(outside, outside_predictive) == label


def test_published_table_labels_each_case(figures):
    table = published_table(figures)
    status = [r[table.columns.index("figure is")] for r in table.rows]
    assert status == [INSIDE, OUTSIDE_POSTERIOR, OUTSIDE_PREDICTIVE]
    # only a figure outside the predictive interval is a disagreement worth flagging
    assert table.flagged == [False, False, True]
    # labels and units come from the DataFrame, whatever the kind of evidence
    quantities = [r[0] for r in table.rows]
    assert quantities == [
        "Russia's geothermal mining load, MW",
        "A pool's share of Russian hashrate, %",
        "BTC declared at customs, BTC",
    ]
    assert "OUTSIDE" not in " ".join(" ".join(r) for r in table.rows)


def test_published_chart_is_generic_over_kinds(figures, no_pyplot):
    book = RecordingBook(simulated=True)
    chart = published_chart(book, figures)
    assert chart is not None and chart.png.startswith(PNG_SIGNATURE)
    assert chart.title.startswith("SIMULATED")
    (fig,) = book.figures
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("Russia's geothermal mining load, MW" in t for t in labels)
    assert any("BTC declared at customs, BTC" in t for t in labels)
    # dot colours follow the three cases (rows are drawn top to bottom)
    colours = ax.collections[-1].get_facecolors()
    assert len({tuple(c) for c in colours}) == 3


def test_published_chart_of_nothing_is_none():
    assert published_chart(RecordingBook(), pd.DataFrame(columns=COLUMNS)) is None


def test_import_leaves_the_backend_and_pyplot_alone():
    """A notebook user's backend survives importing the report, the pipeline and the CLI, and
    no pyplot figure appears."""
    code = textwrap.dedent(
        """
        import matplotlib
        matplotlib.use("svg")
        import nowcast.report, nowcast.pipeline, nowcast.cli
        import matplotlib.pyplot as plt
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
        assert plt.get_fignums() == [], plt.get_fignums()
        print("backend kept")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "backend kept" in proc.stdout


def test_prior_posterior_chart_draws_both_groups(tmp_path_factory, no_pyplot):
    """Densities of the prior and posterior draws, one panel per main parameter, drawn on the
    report's own figure (arviz-plots' ``plot_prior_posterior`` would go through pyplot)."""
    from test_report import fitted_run

    from nowcast.fit import load_run
    from nowcast.report.charts import MAIN_PARAMS, prior_posterior_chart

    tree = load_run(fitted_run(tmp_path_factory))
    book = RecordingBook(simulated=True)
    chart = prior_posterior_chart(book, tree)
    assert chart is not None and chart.png.startswith(PNG_SIGNATURE)
    assert chart.title.startswith("SIMULATED")
    (fig,) = book.figures
    panels = [ax for ax in fig.axes if ax.get_visible()]
    names = [v for v in MAIN_PARAMS if v in tree["posterior"] and v in tree["prior"]]
    assert [ax.get_title() for ax in panels] == names
    for ax, v in zip(panels, names, strict=True):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"prior", "posterior"}, v
        for group, line in (("prior", lines["prior"]), ("posterior", lines["posterior"])):
            draws = tree[group][v].values.ravel()
            x = line.get_xdata()
            # the density spans the draws' bulk and integrates to about one
            assert x.min() <= np.quantile(draws, 0.05) and x.max() >= np.quantile(draws, 0.95)
            assert np.trapezoid(line.get_ydata(), x) == pytest.approx(1.0, abs=0.05), (v, group)


def test_a_region_panel_shows_consumption_baseline_and_published_levels(
    tmp_path_factory, no_pyplot
):
    """One panel per mining region: the total and the baseline it would have without mining
    (the model's own quantities), and each published level of the region alone on its
    period, as a monthly mean."""
    from test_report import fitted_run

    from nowcast.fit import load_run
    from nowcast.model.data import prepare
    from nowcast.model.derived import unit_electricity
    from nowcast.model.evidence import REGISTRY
    from nowcast.model.published import published_figures
    from nowcast.model.spec import spec_of
    from nowcast.report.charts import region_charts

    tree = load_run(fitted_run(tmp_path_factory))
    post = tree["posterior"]
    # consumption by unit is rebuilt from the parameters the fit keeps: summed over each
    # published figure's area and period it must give the model's own predictions of them
    grids = unit_electricity(post.to_dataset())
    total = grids["electricity_twh"]
    data = prepare(tree["panel"].to_dataset(), spec_of(tree))
    flat = total.stack(sample=("chain", "draw")).transpose("sample", "region", "month").values
    checked = 0
    for name in ("electricity_areas", "electricity_yoy", "electricity_national"):
        kind, block = REGISTRY[name], data.blocks[name]
        if not block.n:
            continue
        rebuilt = kind.predict({"electricity_twh": flat}, block, data, np)
        kept = post[kind.predicted_name].stack(sample=("chain", "draw")).transpose("sample", ...)
        # (a change on a year earlier is a log ratio near zero: an absolute tolerance too)
        np.testing.assert_allclose(rebuilt, kept.values, rtol=1e-9, atol=1e-12)
        checked += 1
    assert checked >= 2
    assert (grids["electricity_baseline_twh"] <= total + 1e-12).all()
    pub = published_figures(tree)
    book = RecordingBook()
    charts = region_charts(book, tree, pub)
    assert [c.title for c in charts] == ["Electricity consumption by region, TWh per month"]
    panels = {ax.get_gid(): ax for ax in book.figures[0].axes if ax.get_visible()}
    regions = [str(r) for r in post["region"].values if not str(r).endswith("-REST")]
    assert sorted(panels) == sorted(regions)
    # ranked by the mining load over the last 12 months, as the titles say
    loads = [float(ax.get_title().split("mining ")[1].split(" GW")[0]) for ax in panels.values()]
    assert loads == sorted(loads, reverse=True)
    with_levels = pub[pub["block"].isin(["electricity_regional", "electricity_areas"])]
    region = next(r for r in regions if (with_levels["region"] == r).any())
    ax = panels[region]
    lines = {line.get_label(): line for line in ax.get_lines()}
    median_total = total.sel(region=region).median(("chain", "draw")).values
    np.testing.assert_allclose(lines["consumption, median"].get_ydata(), median_total)
    base = lines["baseline without mining"].get_ydata()
    assert (base <= median_total + 1e-9).mean() > 0.9  # mining adds to the baseline
    # every published level of the region alone is a dot (with its predictive interval)
    mine = with_levels[with_levels["region"] == region]
    dots = [line for line in ax.get_lines() if line.get_gid() == "published figure"]
    assert len(dots) == len(mine)
    ys = sorted(float(line.get_ydata()[0]) for line in dots)
    months = (
        (pd.to_datetime(mine["period_end"]) - pd.to_datetime(mine["period_start"])).dt.days + 1
    ) / 30.4375
    np.testing.assert_allclose(ys, sorted(mine["value"] / months))


def test_regions_are_ranked_by_mining_load_and_say_who_places_it(tmp_path_factory):
    from test_report import fitted_run

    from nowcast.fit import load_run
    from nowcast.identify import DATA_SAY, PARTLY, regional_mining

    tree = load_run(fitted_run(tmp_path_factory))
    table = regional_mining(tree)
    prior_load = tree["prior"]["region_share"].max(("chain", "draw", "month"))
    carrying = {str(r) for r in prior_load["region"].values if prior_load.sel(region=r) > 0}
    assert set(table["region"]) == carrying  # units without mining by construction left out
    assert "RU-OMS" not in carrying
    assert table["load_gw_median"].is_monotonic_decreasing
    # the loads add up to the country's mining power (last 12 months' mean, medians aside)
    post = tree["posterior"]
    power = post["mining_power_gw"].isel(month=slice(-12, None)).mean("month")
    by_unit = (post["region_share"] * post["mining_power_gw"]).isel(month=slice(-12, None))
    np.testing.assert_allclose(by_unit.mean("month").sum("region"), power, rtol=1e-9)
    for r in table.itertuples(index=False):
        assert r.load_gw_lower_90 <= r.load_gw_median <= r.load_gw_upper_90
        want = (
            "the data"
            if r.narrowing >= DATA_SAY
            else "partly the data"
            if r.narrowing >= PARTLY
            else "the prior"
        )
        assert r.said_by == want


def test_a_region_panel_draws_a_figure_outside_its_predictive_interval(tmp_path_factory):
    """A published level far outside its interval (as the first real run had) is drawn in the
    alarm colour, never an error."""
    from test_report import fitted_run

    from nowcast.fit import load_run
    from nowcast.model.published import published_figures
    from nowcast.report.charts import region_charts
    from nowcast.report.style import ALERT_COLOUR

    tree = load_run(fitted_run(tmp_path_factory))
    pub = published_figures(tree)
    levels = pub[pub["block"].isin(["electricity_regional", "electricity_areas"])]
    k = levels.index[0]
    region = str(pub.loc[k, "region"])
    for value in (pub.loc[k, "predictive_upper"] * 3, pub.loc[k, "predictive_lower"] / 3):
        odd = pub.copy()
        odd.loc[k, "value"] = value
        odd.loc[k, ["outside", "outside_predictive"]] = True
        book = RecordingBook()
        region_charts(book, tree, odd)
        (ax,) = [a for a in book.figures[0].axes if a.get_gid() == region]
        dots = [
            line
            for line in ax.get_lines()
            if line.get_gid() == "published figure" and line.get_color() == ALERT_COLOUR
        ]
        assert len(dots) == 1


def test_sensitivity_text_says_when_it_could_not_be_computed():
    """An update's resampled posterior can leave power-scaling sensitivity undefined: the
    report says so in words, never prints a NaN as if it were a sensitivity."""
    from nowcast.identify import NOT_COMPUTED
    from nowcast.report.text import _sensitivity_paragraphs

    table = pd.DataFrame(
        {"prior": [np.nan], "electricity": [np.nan], "diagnosis": [NOT_COMPUTED]},
        index=pd.Index(["hidden_inflow_usd"], name="variable"),
    )
    text = " ".join(_sensitivity_paragraphs(table))
    assert "could not be computed" in text
    assert "nan" not in text.lower()


def _table_pdf(tmp_path, cells: list[list[str]]) -> bytes:
    from matplotlib.backends.backend_pdf import PdfPages

    from nowcast.report import pdf
    from nowcast.report.tables import Table

    table = Table("Figures", ["what", "value"], cells, [False] * len(cells), "")
    path = tmp_path / "t.pdf"
    with PdfPages(path) as doc:
        pdf.table_pages(doc, table, banner=False)
        pdf.text_pages(doc, "Words", [" ".join(c[0] for c in cells)], banner=False)
    return path.read_bytes()


def test_text_pages_use_the_standard_fonts_only_when_every_character_has_one(tmp_path, caplog):
    """Pages whose characters the PDF's standard fonts encode are written in them (fast, no
    font embedded, no warning about their weights); a page with any other character keeps the
    embedded font, never a "?"."""
    import logging

    with caplog.at_level(logging.WARNING, logger="matplotlib.font_manager"):
        plain = _table_pdf(tmp_path, [["inflow, USD m", "104.8 (65.3 to 163.8)"]])
    assert not [r for r in caplog.records if "font weight" in r.getMessage()]
    assert b"/BaseFont /Courier" in plain and b"/BaseFont /Helvetica-Bold" in plain
    assert b"DejaVu" not in plain

    cyrillic = "\u0418\u0440\u043a\u0443\u0442\u0441\u043a"
    wider = _table_pdf(tmp_path, [["share \u2265 5%", cyrillic]])
    assert b"DejaVu" in wider
    assert b"/BaseFont /Courier" not in wider


def test_a_chart_page_uses_the_standard_fonts_only_when_every_text_has_one(tmp_path, caplog):
    """A chart whose texts the standard fonts encode is written in them, without a warning
    about their weights; one with a Unicode minus (matplotlib's negative ticks) keeps the
    embedded font."""
    import logging

    from matplotlib.backends.backend_pdf import PdfPages

    from nowcast.report.pdf import save_page
    from nowcast.report.style import new_figure

    def page(values: list[float]) -> bytes:
        fig = new_figure(6, 3)
        ax = fig.add_subplot()
        ax.plot(values, values)
        ax.set_title("inflow, USD m")
        path = tmp_path / "chart.pdf"
        with PdfPages(path) as doc:
            save_page(doc, fig)
        return path.read_bytes()

    with caplog.at_level(logging.WARNING, logger="matplotlib.font_manager"):
        plain = page([1.0, 2.0, 3.0])
    assert b"/BaseFont /Helvetica" in plain and b"DejaVu" not in plain
    assert not [r for r in caplog.records if "font weight" in r.getMessage()]
    negative = page([-2.0, -1.0, 0.0])  # tick labels with U+2212
    assert b"DejaVu" in negative
