"""The report built from a real fitted posterior: the bundled real data (``data/``) ingested
into a temporary store, a short window (2023 on) fitted with few draws, forecasts under the
baseline and one scenario, then ``render_report``.

The fit is shared by this module and the headless-browser test: ``fitted_run`` fits once per
test session (under pytest-xdist, once across workers, behind a file lock) and every user
reads the saved ``posterior.nc``, as reports of real runs do.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from PIL import Image

from nowcast.datasets import ingest_dir
from nowcast.fit import diagnose, fit, free_variables, load_run, save_run
from nowcast.forecast import Scenario, forecast
from nowcast.identify import narrowing, spec_of
from nowcast.model.spec import Sampler, load_spec
from nowcast.panel import build_panel
from nowcast.report import figure_status, headline, published_figures, render_report
from nowcast.report.published import COLUMNS as PUBLISHED_COLUMNS
from nowcast.store import Store

# one xdist worker runs this file, and its fits are session fixtures: built once, although
# xdist interleaves other files' tests with this one's (a module fixture would be rebuilt)
pytestmark = pytest.mark.xdist_group("test_report")

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
HORIZON = 6
SCENARIO = "btc_halves"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fitted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fit the default spec to the bundled real data from 2023 on, once per session; the
    path of the saved ``posterior.nc``."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = root / "report_fit"
    root.mkdir(exist_ok=True)
    marker = root / "posterior_path.txt"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not marker.exists():
                with Store(root / "store") as st:
                    ingest_dir(st, DATA_DIR)
                    panel = build_panel(st, start="2023-01-01")
                result = fit(
                    panel,
                    load_spec(),
                    sampler=Sampler(draws=200, tune=300, chains=2, seed=1),
                    prior_draws=200,
                )
                run = save_run(result, root / "store")
                marker.write_text(str(run / "posterior.nc"), encoding="utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return Path(marker.read_text(encoding="utf-8"))


def scenario_for(tree: xr.DataTree) -> Scenario:
    """A scenario fixing the BTC price at half its last fitted level over the horizon."""
    last = pd.Timestamp(tree["posterior"]["month"].values[-1])
    price = float(tree["panel"]["btc_price_usd"].sel(month=last)) / 2
    months = pd.date_range(last + pd.offsets.MonthBegin(1), periods=HORIZON, freq="MS")
    return Scenario(SCENARIO, {"btc_price_usd": {m: price for m in months}})


def forecasts_for(tree: xr.DataTree) -> dict[str, xr.Dataset]:
    return {
        "baseline": forecast(tree, HORIZON, seed=3),
        SCENARIO: forecast(tree, HORIZON, scenario_for(tree), seed=3),
    }


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def tree(tmp_path_factory) -> xr.DataTree:
    return load_run(fitted_run(tmp_path_factory))


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def diagnostics(tree):
    return diagnose(tree, spec_of(tree))


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def report(tree, diagnostics, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    paths = render_report(
        tree,
        forecasts_for(tree),
        out,
        diagnostics=diagnostics,
        narrowing_table=narrowing(tree),
    )
    return paths


@pytest.fixture(scope="session")  # built once per worker, kept across interleaved modules
def summary(report) -> pd.DataFrame:
    return pd.read_csv(report.summary_csv, parse_dates=["month"])


# --------------------------------------------------------------------------- numbers


def test_fixture_is_a_real_posterior(tree):
    assert tree.attrs["data_kind"] == "real"
    assert pd.Timestamp(tree["posterior"]["month"].values[0]) == pd.Timestamp("2023-01-01")
    assert {"posterior", "prior", "panel", "sample_stats"} <= set(tree.children)


@pytest.mark.parametrize("back", [0, 12])
def test_summary_matches_posterior(tree, summary, back):
    """Mean and every bound of the inflow in summary.csv equal the quantiles recomputed from
    the posterior file, for the latest month and one a year earlier."""
    months = pd.DatetimeIndex(tree["posterior"]["month"].values)
    month = months[-1 - back]
    draws = tree["posterior"]["hidden_inflow_usd"].sel(month=month)
    probs = {
        "lower_95": 0.025,
        "lower_80": 0.1,
        "lower_50": 0.25,
        "median": 0.5,
        "upper_50": 0.75,
        "upper_80": 0.9,
        "upper_95": 0.975,
    }
    row = summary[(summary.kind == "nowcast") & (summary.month == month)]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["hidden_inflow_usd_mean"] == pytest.approx(float(draws.mean()), rel=1e-6)
    for col, p in probs.items():
        expected = float(draws.quantile(p, dim=("chain", "draw")))
        assert row[f"hidden_inflow_usd_{col}"] == pytest.approx(expected, rel=1e-6), col
    # USD/RUB observed for fitted months is the panel's monthly mean
    observed = float(tree["panel"]["usd_rub_mean"].sel(month=month))
    assert row["usd_rub_observed"] == pytest.approx(observed, rel=1e-12)


def test_summary_covers_every_fitted_month_once(tree, summary):
    months = pd.DatetimeIndex(tree["posterior"]["month"].values)
    now = summary[summary.kind == "nowcast"]
    assert list(now.month) == list(months)
    assert now["usd_rub_observed"].notna().all()


def test_intervals_nest(summary):
    """50% inside 80% inside 95%, around the median, in every row, inflow and USD/RUB."""
    order = ["lower_95", "lower_80", "lower_50", "median", "upper_50", "upper_80", "upper_95"]
    checked = 0
    for var in ("hidden_inflow_usd", "usd_rub"):
        block = summary[[f"{var}_{c}" for c in order]].dropna()
        values = block.to_numpy()
        assert (np.diff(values, axis=1) >= 0).all(), var
        checked += len(block)
    assert checked == len(summary) + (summary.kind == "forecast").sum()


def test_forecasts_for_every_horizon_and_scenario(tree, summary, report):
    last = pd.Timestamp(tree["posterior"]["month"].values[-1])
    fc = summary[summary.kind == "forecast"]
    assert list(dict.fromkeys(fc.scenario)) == ["baseline", SCENARIO]  # baseline first
    expected = pd.date_range(last + pd.offsets.MonthBegin(1), periods=HORIZON, freq="MS")
    for name in ("baseline", SCENARIO):
        rows = fc[fc.scenario == name]
        assert list(rows.horizon) == list(range(1, HORIZON + 1))
        assert list(rows.month) == list(expected)
        assert rows[["hidden_inflow_usd_median", "usd_rub_median"]].notna().all().all()
        assert report.forecast_csv[name].exists()
    # the scenario's halved BTC price lowers the median inflow at every horizon
    base = fc[fc.scenario == "baseline"]["hidden_inflow_usd_median"].to_numpy()
    low = fc[fc.scenario == SCENARIO]["hidden_inflow_usd_median"].to_numpy()
    assert (low < base).all()


def test_json_carries_metadata_headline_and_rows(tree, summary, report):
    data = json.loads(report.summary_json.read_text(encoding="utf-8"))
    meta = data["metadata"]
    assert "spec_json" not in meta
    # the sampler's settings, its mass matrix adaptation among them, travel with the run
    assert tree.attrs["adaptation"] == "draw_diag"
    keys = ("data_as_of", "data_kind", "spec_hash", "nowcast_version", "sampler", "seed")
    for key in (*keys, "adaptation"):
        value = tree.attrs[key]
        assert meta[key] == (value.item() if isinstance(value, np.generic) else value), key
    assert len(data["rows"]) == len(summary)
    last = pd.Timestamp(tree["posterior"]["month"].values[-1])
    head = data["headline"]
    assert head["latest_month"]["month"] == f"{last:%Y-%m}"
    latest = summary[(summary.kind == "nowcast") & (summary.month == last)].iloc[0]
    assert head["latest_month"]["median"] == pytest.approx(latest["hidden_inflow_usd_median"])


def test_headline_quarter_and_declared_exports(tree):
    """The quarter sums its fitted months; the share of declared exports appears only where
    the exports cover those months."""
    months = pd.DatetimeIndex(tree["posterior"]["month"].values)
    last = months[-1]
    q_months = months[months.to_period("Q") == last.to_period("Q")]
    draws = tree["posterior"]["hidden_inflow_usd"].stack(s=("chain", "draw"))

    none = headline(tree, pd.Series(dtype=float))
    assert none["quarter"]["months"] == [f"{m:%Y-%m}" for m in q_months]
    total = draws.sel(month=q_months).sum("month")
    assert none["quarter"]["median"] == pytest.approx(float(total.median()), rel=1e-9)
    assert none["latest_month"]["share_of_declared_exports"] is None
    assert none["quarter"]["share_of_declared_exports"] is None

    exports = pd.Series(40.0, index=q_months)  # USD bn a month
    full = headline(tree, exports)
    share = full["latest_month"]["share_of_declared_exports"]
    expected = float(draws.sel(month=last).median()) / 40e9
    assert share["median"] == pytest.approx(expected, rel=1e-9)
    assert full["quarter"]["share_of_declared_exports"]["declared_exports_usd"] == pytest.approx(
        40e9 * len(q_months)
    )

    gap = headline(tree, exports.drop(q_months[0]))  # a gap in the quarter
    assert gap["quarter"]["share_of_declared_exports"] is None
    assert gap["latest_month"]["share_of_declared_exports"] is not None


# --------------------------------------------------------------------------- HTML and PDF


class _Resources(HTMLParser):
    """Every attribute that loads something, and every image source."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.images: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action") and value:
                self.refs.append((tag, name, value))
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")


def test_html_is_self_contained(report):
    html = report.html.read_text(encoding="utf-8")
    parser = _Resources()
    parser.feed(html)
    external = [r for r in parser.refs if re.match(r"\s*(https?:)?//", r[2], flags=re.IGNORECASE)]
    assert not external, external
    # links only to anchors in the page; scripts and styles inline
    assert all(v.startswith("#") for tag, name, v in parser.refs if tag == "a")
    assert not [r for r in parser.refs if r[0] in ("script", "link", "iframe")]
    assert "link" not in parser.tags
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", html, flags=re.IGNORECASE)
    assert not re.search(r"@import", html)
    # every image is an embedded PNG that decodes
    assert len(parser.images) >= 4  # inflow, a fan chart per scenario, priors, published
    for src in parser.images:
        assert src.startswith("data:image/png;base64,"), src[:40]
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw.startswith(PNG_SIGNATURE)
        with Image.open(io.BytesIO(raw)) as im:
            im.verify()
        with Image.open(io.BytesIO(raw)) as im:
            assert im.format == "PNG" and im.width > 100 and im.height > 100


def test_html_has_every_section(report):
    html = report.html.read_text(encoding="utf-8")
    for anchor in (
        "headline",
        "over-time",
        "fans",
        "intervals",
        "priors",
        "identification",
        "published",
        "diagnostics",
        "provenance",
    ):
        assert f'id="{anchor}"' in html, anchor
    assert "narrowed by" in html or "did not narrow" in html  # the generated paragraph
    assert "ragged edge" in html
    assert "Published figures against the posterior" in html
    # the regions: a panel per modelled region and where the mining power is drawn
    assert "Electricity consumption by region, TWh per month" in html
    assert "Where the mining power is drawn" in html


def test_simulated_banner_only_for_simulated_data(tree, diagnostics, report, tmp_path):
    real = report.html.read_text(encoding="utf-8")
    assert "SIMULATED" not in real
    sim = tree.copy()
    sim.attrs["data_kind"] = "SIMULATED"
    paths = render_report(sim, forecasts_for(sim), tmp_path, diagnostics=diagnostics)
    html = paths.html.read_text(encoding="utf-8")
    assert 'id="simulated-banner"' in html and "SIMULATED DATA" in html
    assert html.index("simulated-banner") < html.index('id="headline"')  # at the top
    parser = _Resources()
    parser.feed(html)
    alts = re.findall(r'<img src="[^"]*" alt="([^"]*)"', html)
    assert len(alts) == len(parser.images) and all(a.startswith("SIMULATED") for a in alts)
    meta = json.loads(paths.summary_json.read_text(encoding="utf-8"))["metadata"]
    assert meta["data_kind"] == "SIMULATED"


def _pdf_pages(raw: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", raw))


def test_pdf_has_several_pages(report):
    raw = report.pdf.read_bytes()
    assert raw.startswith(b"%PDF")
    assert raw.rstrip().endswith(b"%%EOF")
    assert _pdf_pages(raw) > 1


def test_writes_are_atomic_and_figures_closed(report):
    out = report.html.parent
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    expected = {
        "report.html",
        "report.pdf",
        "summary.csv",
        "summary.json",
        "forecast_baseline.csv",
        f"forecast_{SCENARIO}.csv",
    }
    assert expected <= {p.name for p in out.iterdir()}
    assert plt.get_fignums() == []


def test_forecast_from_another_run_is_refused(tree, tmp_path):
    from nowcast.errors import NowcastError

    shifted = forecast(tree, 2, seed=0)
    shifted = shifted.assign_coords(month=shifted["month"] + np.timedelta64(31, "D"))
    with pytest.raises(NowcastError, match="another run"):
        render_report(tree, {"baseline": shifted}, tmp_path)


# --------------------------------------------------------------------------- reads, never refits


def test_fit_records_its_free_variables(tree):
    """The fit writes the model's free variables into the run, which the report reads."""
    from nowcast.identify import model_of

    recorded = free_variables(tree)
    assert recorded == [v.name for v in model_of(tree).free_RVs]
    assert json.loads(tree.attrs["free_variables"]) == recorded


@pytest.mark.parametrize("old_run", [False, True], ids=["recorded", "old-run"])
def test_report_never_rebuilds_the_model(tree, tmp_path, monkeypatch, old_run):
    """With model building, sampling and pyplot figures all made to fail, the report still
    renders; diagnostics cover the recorded free variables, or every posterior variable for a
    run saved before they were recorded."""
    import pymc as pm

    import nowcast.fit
    import nowcast.identify
    import nowcast.model.build
    import nowcast.report.render as render_module

    forecasts = forecasts_for(tree)  # forecasts are made before anything is switched off
    run = tree.copy()
    run.attrs = {k: v for k, v in tree.attrs.items() if not (old_run and k == "free_variables")}

    def refuse(*args, **kwargs):
        raise AssertionError("the report must read the run, not rebuild or refit the model")

    for module, name in [
        (nowcast.model.build, "build_model"),
        (nowcast.fit, "build_model"),
        (nowcast.fit, "fit"),
        (nowcast.identify, "build_model"),
        (nowcast.identify, "model_of"),
        (nowcast.identify, "fit"),
        (pm, "sample"),
        (plt, "figure"),
        (plt, "subplots"),
    ]:
        monkeypatch.setattr(module, name, refuse)
    monkeypatch.setattr(pm.Model, "__init__", refuse)
    seen: list[list[str] | None] = []
    real_diagnose = render_module.diagnose

    def spy(tree_, spec, free=None):
        seen.append(free)
        return real_diagnose(tree_, spec, free)

    monkeypatch.setattr(render_module, "diagnose", spy)
    backend = matplotlib.get_backend()
    paths = render_report(run, forecasts, tmp_path)
    assert paths.html.exists() and paths.pdf.exists()
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == []
    assert seen == [None if old_run else free_variables(tree)]
    html = paths.html.read_text(encoding="utf-8")
    diag_rows = html[html.index('id="diagnostics"') : html.index('id="provenance"')]
    if old_run:  # every posterior variable, derived ones included
        assert "electricity_cost_usd_bn" in diag_rows
    else:
        assert "electricity_cost_usd_bn" not in diag_rows
        assert all(v in diag_rows for v in free_variables(tree))


def test_published_figures_columns_and_labels(tree, report):
    pub = published_figures(tree)
    assert list(pub.columns) == PUBLISHED_COLUMNS
    assert len(pub) and pub["quantity"].str.len().gt(0).all() and pub["unit"].notna().all()
    assert (pub["lower"] <= pub["posterior_median"]).all()
    assert (pub["posterior_median"] <= pub["upper"]).all()
    # a figure outside the predictive interval is outside the narrower posterior one too
    assert (pub["outside"] | ~pub["outside_predictive"]).all()
    html = report.html.read_text(encoding="utf-8")
    section = html[html.index('id="published"') : html.index('id="diagnostics"')]
    statuses = re.findall(r"<td>((?:inside|outside)[^<]*)</td>", section)
    assert len(statuses) == len(pub)
    assert statuses == [
        figure_status(a, b) for a, b in zip(pub.outside, pub.outside_predictive, strict=True)
    ]
    assert "OUTSIDE" not in section


def _html_pngs(path: Path) -> list[bytes]:
    html = path.read_text(encoding="utf-8")
    return [
        base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    ]


def test_charts_drawn_in_the_sidecar_are_the_same(tree, diagnostics, report, tmp_path):
    """The published-figures chart and the region panels drawn in the sidecar process: the
    report's images are byte for byte those drawn here, and its PDF has the same pages."""
    from nowcast.report.elsewhere import draw_elsewhere
    from nowcast.sidecar import Sidecar

    with Sidecar() as side:
        drawn = draw_elsewhere(tree, side)
        assert drawn is not None and drawn.regions is not None
        paths = render_report(
            tree,
            forecasts_for(tree),
            tmp_path,
            diagnostics=diagnostics,
            narrowing_table=narrowing(tree),
            drawn=drawn,
        )
        assert side.answered == 2  # both charts came from the other process
    here, there = _html_pngs(report.html), _html_pngs(paths.html)
    assert len(here) == len(there) >= 5
    assert here == there
    pages = re.compile(rb"/Type\s*/Page\b")
    assert len(pages.findall(paths.pdf.read_bytes())) == len(pages.findall(report.pdf.read_bytes()))
