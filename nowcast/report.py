"""The report: one fitted posterior and its forecasts as a self-contained HTML page, the same
content as a PDF, and the figures as CSV and JSON.

``render_report`` writes, each atomically (a temporary file, then a rename):

* ``report.html``: charts embedded as base64 PNG, CSS inline, no external resource, so it
  opens offline. Sections: headline (latest month and current quarter, with the share of
  declared goods exports where known), the inflow over time with the ragged edge marked and
  the forecast appended, fan charts per scenario, the credible-interval table, prior against
  posterior with the prior table and its sources, identification, published figures against
  the posterior, diagnostics with a verdict, and provenance. A small inline script records on
  ``<body>`` whether every image loaded (``data-images-ok``) and any script error
  (``data-errors``), which the headless-browser test reads.
* ``report.pdf``: the same content (charts and the same tables and texts, rendered with
  matplotlib's ``PdfPages``; no other dependency).
* ``summary.csv`` / ``summary.json``: one row per fitted month (kind ``nowcast``) and per
  scenario and forecast month (kind ``forecast``): the hidden inflow's mean, median and
  50/80/95% bounds in USD, the same for USD/RUB forecasts, and the observed monthly mean of
  USD/RUB for fitted months; the JSON adds the run's metadata and the headline figures.
* ``forecast_<scenario>.csv``: each scenario's forecast summary by month.

Data that are not real (``data_kind`` other than ``real``) are flagged by a red banner and by
"SIMULATED" in every chart title.
"""

from __future__ import annotations

import base64
import io
import json
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import jinja2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nowcast import __version__  # noqa: E402
from nowcast.constants import CHAIN, DRAW, MONTH, RUSSIA  # noqa: E402
from nowcast.errors import NowcastError  # noqa: E402
from nowcast.files import write_atomic
from nowcast.fit import Diagnostics, diagnose  # noqa: E402
from nowcast.forecast import SAMPLE  # noqa: E402
from nowcast.identify import SENSITIVITY_THRESHOLD, model_of, spec_of  # noqa: E402
from nowcast.model.data import Block, prepare  # noqa: E402
from nowcast.model.spec import ModelSpec  # noqa: E402
from nowcast.panel import ragged_edge  # noqa: E402

PROBS = (0.5, 0.8, 0.95)
QUANTILES = (0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975)
PREDICTIVE_PROB = 0.9
HISTORY_MONTHS = 24  # months of history in the table and the fan charts
SIMULATED_WORD = "SIMULATED"
DPI = 110
PAGE = (11.69, 8.27)  # A4 landscape, inches
BAND_ALPHA = {0.95: 0.18, 0.8: 0.3, 0.5: 0.5}
NOWCAST_COLOUR = "#1f4e79"
FORECAST_COLOUR = "#c55a11"

# main parameters shown prior against posterior, in this order (those the spec has)
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

# plain words for the quantities the identification paragraph talks about
LABELS = {
    "psi_before": "converted share of the margin before legalisation",
    "psi_after": "converted share of the margin since legalisation",
    "electricity_price_rub_per_kwh": "miners' electricity price",
    "overhead_pue": "power overhead (PUE)",
    "efficiency_2019_log_j_per_th": "fleet efficiency in 2019",
    "efficiency_decline_per_year": "yearly efficiency gain",
    "share_step_sd": "monthly volatility of Russia's hashrate share",
    "estimate_log_sd": "error of published estimates",
    "ruble_gamma": "ruble's response to the inflow",
    "eo_k": "share of the inflow seen in errors and omissions",
    "ban_effect": "effect of the regional bans",
    "alloc_logit_mean": "Irkutsk's share of mining power",
    "hidden_inflow_usd": "hidden inflow",
    "hashrate_share": "Russia's hashrate share",
    "mining_power_gw": "mining power",
    "efficiency_j_per_th": "fleet efficiency",
}
KEY_IDENTIFICATION = [
    "psi_before",
    "psi_after",
    "electricity_price_rub_per_kwh",
    "hashrate_share",
    "mining_power_gw",
    "hidden_inflow_usd",
]

# published estimates compared with the posterior: block -> (what, unit)
PUBLISHED_BLOCKS = {
    "share_estimates": ("Russia's share of the network hashrate", "%"),
    "power_gw": ("Russia's mining power", "GW"),
    "load_mw": ("regional mining load", "MW"),
    "mining_twh": ("Russia's mining electricity", "TWh"),
    "btc_mined": ("BTC mined in Russia", "BTC"),
    "mining_revenue": ("Russia's mining revenue", "USD bn"),
}

SHORT = {
    "share_estimates": "hashrate share",
    "power_gw": "mining power",
    "load_mw": "mining load",
    "mining_twh": "mining TWh",
    "btc_mined": "BTC mined",
    "mining_revenue": "mining revenue",
}


@dataclass(frozen=True)
class ReportPaths:
    """Where ``render_report`` wrote its files."""

    html: Path
    pdf: Path
    summary_csv: Path
    summary_json: Path
    forecast_csv: dict[str, Path] = field(default_factory=dict)


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
        number = re.compile(r"^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?%?$")
        return [
            all(number.match(r[j]) for r in self.rows if r[j]) and any(r[j] for r in self.rows)
            for j in range(len(self.columns))
        ]


@dataclass
class Chart:
    """A rendered chart (already written to the PDF): title, PNG bytes for the HTML, caption."""

    title: str
    png: bytes
    caption: str = ""

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


# --------------------------------------------------------------------------- numbers


def is_simulated(tree: xr.DataTree) -> bool:
    """True unless the run's data are marked real."""
    return str(tree.attrs.get("data_kind", "real")) != "real"


def _months(x: Any) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(x)


def _draws(tree: xr.DataTree, name: str) -> xr.DataArray:
    """A posterior variable with draws stacked on ``sample`` first."""
    da = tree["posterior"][name].stack({SAMPLE: (CHAIN, DRAW)})
    return da.transpose(SAMPLE, ...)


def bands(samples: np.ndarray) -> pd.DataFrame:
    """Mean, median and 50/80/95% central bounds of ``samples`` (sample x item), per item.

    Quantiles are NumPy's default (linear), as xarray's ``quantile`` computes them."""
    x = np.asarray(samples, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    q = np.quantile(x, QUANTILES, axis=0)
    qi = dict(zip(QUANTILES, q, strict=True))
    out = {"mean": x.mean(axis=0), "median": qi[0.5]}
    for p in PROBS:
        out[f"lower_{int(p * 100)}"] = qi[round((1 - p) / 2, 3)]
        out[f"upper_{int(p * 100)}"] = qi[round((1 + p) / 2, 3)]
    return pd.DataFrame(out)


BAND_COLUMNS = list(bands(np.zeros((2, 1))).columns)


def _inflow_samples(tree: xr.DataTree) -> tuple[pd.DatetimeIndex, np.ndarray]:
    da = _draws(tree, "hidden_inflow_usd")
    return _months(da[MONTH].values), da.values


def _ordered(forecasts: dict[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    """Scenarios with the baseline first."""
    names = sorted(forecasts, key=lambda n: (n != "baseline", list(forecasts).index(n)))
    return {n: forecasts[n] for n in names}


def summary_table(tree: xr.DataTree, forecasts: dict[str, xr.Dataset]) -> pd.DataFrame:
    """One row per fitted month (``nowcast``) and per scenario and forecast month
    (``forecast``): the hidden inflow (USD per month) and USD/RUB, mean, median and 50/80/95%
    bounds; ``usd_rub_observed`` is the panel's monthly mean for fitted months. Nowcast rows
    have no scenario (they do not depend on one) and no horizon."""
    months, inflow = _inflow_samples(tree)
    panel = tree["panel"].to_dataset()
    observed = panel["usd_rub_mean"].sel({MONTH: months}).values.astype(float)
    frames = []
    now = bands(inflow).add_prefix("hidden_inflow_usd_")
    now.insert(0, "horizon", pd.array([pd.NA] * len(months), dtype="Int64"))
    now.insert(0, "month", months)
    now.insert(0, "scenario", "")
    now.insert(0, "kind", "nowcast")
    for c in BAND_COLUMNS:
        now[f"usd_rub_{c}"] = np.nan
    now["usd_rub_observed"] = observed
    frames.append(now)
    for name, ds in _ordered(forecasts).items():
        fm = _months(ds[MONTH].values)
        f = bands(ds["hidden_inflow_usd"].transpose(SAMPLE, MONTH).values).add_prefix(
            "hidden_inflow_usd_"
        )
        u = bands(ds["usd_rub"].transpose(SAMPLE, MONTH).values).add_prefix("usd_rub_")
        df = pd.concat([f, u], axis=1)
        df.insert(0, "horizon", pd.array(np.arange(1, len(fm) + 1), dtype="Int64"))
        df.insert(0, "month", fm)
        df.insert(0, "scenario", name)
        df.insert(0, "kind", "forecast")
        df["usd_rub_observed"] = np.nan
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _declared(tree: xr.DataTree, declared_exports: pd.Series | None) -> pd.Series:
    """Declared goods exports (USD bn) by month start; the panel's when none are given."""
    if declared_exports is None:
        panel = tree["panel"]
        if "goods_exports_usd_bn" not in panel:
            return pd.Series(dtype=float)
        declared_exports = panel["goods_exports_usd_bn"].to_series()
    s = pd.Series(declared_exports, dtype=float).dropna()
    if s.empty:
        return s
    idx = s.index
    if isinstance(idx, pd.PeriodIndex):
        idx = idx.to_timestamp()
    s.index = pd.DatetimeIndex(pd.to_datetime(idx)).to_period("M").to_timestamp()
    return s[~s.index.duplicated(keep="last")]


def _usd_m(x: float) -> str:
    return f"{x / 1e6:,.1f}"


def _interval(lo: float, hi: float, scale: float = 1e6, fmt: str = "{:,.1f}") -> str:
    return f"{fmt.format(lo / scale)} to {fmt.format(hi / scale)}"


def _summ(x: np.ndarray) -> dict[str, float]:
    b = bands(np.asarray(x)[:, None]).iloc[0]
    return {k: float(v) for k, v in b.items()}


def headline(tree: xr.DataTree, declared_exports: pd.Series | None = None) -> dict[str, Any]:
    """The hidden inflow of the latest fitted month and of the current quarter (its fitted
    months), in USD, with the share of declared goods exports where those are known."""
    months, inflow = _inflow_samples(tree)
    exports = _declared(tree, declared_exports)
    latest = months[-1]
    quarter = latest.to_period("Q")
    in_q = np.asarray(months.to_period("Q") == quarter)
    q_months = months[in_q]
    q_draws = inflow[:, in_q].sum(axis=1)
    out: dict[str, Any] = {
        "latest_month": {"month": f"{latest:%Y-%m}", **_summ(inflow[:, -1])},
        "quarter": {
            "quarter": str(quarter),
            "months": [f"{m:%Y-%m}" for m in q_months],
            "complete": bool(len(q_months) == 3),
            **_summ(q_draws),
        },
    }

    def share(draws: np.ndarray, wanted: pd.DatetimeIndex) -> dict[str, Any] | None:
        have = [m for m in wanted if m in exports.index]
        if len(have) < len(wanted):
            return None
        total = float(exports.loc[list(wanted)].sum()) * 1e9
        return {"declared_exports_usd": total, **_summ(draws / total)}

    out["latest_month"]["share_of_declared_exports"] = share(
        inflow[:, -1], pd.DatetimeIndex([latest])
    )
    out["quarter"]["share_of_declared_exports"] = share(q_draws, q_months)
    missing = [f"{m:%Y-%m}" for m in q_months if m not in exports.index]
    out["declared_exports_missing"] = missing
    return out


def _headline_text(h: dict[str, Any]) -> list[str]:
    """The headline as sentences (USD million)."""
    lm, q = h["latest_month"], h["quarter"]

    def iv(d: dict[str, float]) -> str:
        return (
            f"median USD {_usd_m(d['median'])} million (80% interval"
            f" {_interval(d['lower_80'], d['upper_80'])}, 95% interval"
            f" {_interval(d['lower_95'], d['upper_95'])})"
        )

    def pct(d: dict[str, Any]) -> str:
        return (
            f"{100 * d['median']:.2f}% of declared goods exports (USD"
            f" {d['declared_exports_usd'] / 1e9:,.1f} bn; 80% interval"
            f" {100 * d['lower_80']:.2f}% to {100 * d['upper_80']:.2f}%, 95% interval"
            f" {100 * d['lower_95']:.2f}% to {100 * d['upper_95']:.2f}%)"
        )

    months = ", ".join(q["months"])
    partial = "" if q["complete"] else f" (only {months} of it are fitted)"
    lines = [
        f"Hidden inflow in {lm['month']}, the latest fitted month: {iv(lm)}.",
        f"Current quarter {q['quarter']}, summing {months}{partial}: {iv(q)}.",
    ]
    if lm["share_of_declared_exports"] is not None:
        lines.append(f"In {lm['month']} that is {pct(lm['share_of_declared_exports'])}.")
    if q["share_of_declared_exports"] is not None:
        lines.append(f"In {q['quarter']} that is {pct(q['share_of_declared_exports'])}.")
    without = [
        name
        for name, d in ((lm["month"], lm), (q["quarter"], q))
        if d["share_of_declared_exports"] is None
    ]
    if without:
        missing = h["declared_exports_missing"]
        lines.append(
            f"Declared goods exports for {', '.join(missing)}"
            f" {'is' if len(missing) == 1 else 'are'} not in the store: no share of declared"
            f" exports for {' or '.join(without)}."
        )
    return lines


def ragged_edge_start(panel: xr.Dataset) -> pd.Timestamp | None:
    """The first month after the last month with any published electricity or balance-of-
    payments figure (``None`` when such figures reach the panel's end or do not exist)."""
    months = _months(panel[MONTH].values)
    edge = ragged_edge(panel)
    kinds = edge["series"].str.startswith("bop_") | (
        edge["series"].str.contains("electricity") & ~edge["series"].str.startswith("mining_")
    )
    last = edge.loc[kinds, "last_month"].dropna()
    if last.empty:
        return None
    start = pd.Timestamp(last.max()) + pd.offsets.MonthBegin(1)
    return start if start <= months[-1] else None


# --------------------------------------------------------------------------- published figures


def _weights_mean(w: np.ndarray) -> np.ndarray:
    return w / w.sum(axis=1, keepdims=True)


def published_vs_posterior(
    tree: xr.DataTree, spec: ModelSpec, prob: float = PREDICTIVE_PROB, seed: int = 0
) -> pd.DataFrame:
    """Each published estimate the model's evidence holds, against the posterior of the same
    quantity (its central ``prob`` interval) and the posterior predictive interval (the same
    quantity with the estimates' shared log-scale error ``estimate_log_sd``).

    The quantities are those the likelihood compares: share = logistic of the period mean of
    the share's logit; power = period mean of ``mining_power_gw``; load = period mean of the
    region's share of that power x 1e3; electricity, BTC mined and revenue = period sums."""
    panel = tree["panel"].to_dataset()
    data = prepare(panel, spec)
    post = tree["posterior"]
    months = _months(post[MONTH].values)
    if not months.equals(data.months):
        raise NowcastError(
            "the posterior's months differ from the panel's model window:"
            " the run was not fitted with this spec"
        )

    def p(name: str) -> np.ndarray:
        return _draws(tree, name).values

    power = p("mining_power_gw")
    issuance = data.drivers["issuance_btc"]
    quantity: dict[str, Callable[[Block], np.ndarray]] = {
        "share_estimates": lambda b: (
            1.0 / (1.0 + np.exp(-(p("share_logit") @ _weights_mean(b.weights).T)))
        ),
        "power_gw": lambda b: power @ _weights_mean(b.weights).T,
        "load_mw": lambda b: (
            np.einsum(
                "ot,sot->so",
                _weights_mean(b.weights),
                p("region_share")[:, b.group, :] * power[:, None, :],
            )
            * 1e3
        ),
        "mining_twh": lambda b: (power * data.hours[None, :] * 1e-3) @ b.weights.T,
        "btc_mined": lambda b: (p("hashrate_share") * issuance[None, :]) @ b.weights.T,
        "mining_revenue": lambda b: p("mining_revenue_usd_bn") @ b.weights.T,
    }
    rng = np.random.default_rng(seed)
    sd = p("estimate_log_sd") if "estimate_log_sd" in post else None
    lo_q, hi_q = (1 - prob) / 2, (1 + prob) / 2
    rows = []
    for name, (what, unit) in PUBLISHED_BLOCKS.items():
        block = data.blocks.get(name)
        if block is None or not block.n:
            continue
        q = quantity[name](block)  # (sample, obs)
        if sd is not None:
            z = sd[:, None] * rng.standard_normal(q.shape)
            if name == "share_estimates":
                pred = 1.0 / (1.0 + np.exp(-(np.log(q / (1 - q)) + z)))
            else:
                pred = q * np.exp(z)
        else:
            pred = q
        scale = 100.0 if name == "share_estimates" else 1.0
        for i, lab in block.labels.iterrows():
            lo, med, hi = np.quantile(q[:, i], (lo_q, 0.5, hi_q)) * scale
            plo, phi = np.quantile(pred[:, i], (lo_q, hi_q)) * scale
            value = float(block.values[i]) * scale
            if name == "load_mw":
                what_i = f"{what} ({lab['region']})"
            else:
                what_i = what
            rows.append(
                {
                    "block": name,
                    "quantity": what_i,
                    "unit": unit,
                    "region": lab["region"],
                    "observer": lab["observer"],
                    "period_start": lab["period_start"],
                    "period_end": lab["period_end"],
                    "published": lab["published"],
                    "value": value,
                    "posterior_median": med,
                    "lower": lo,
                    "upper": hi,
                    "predictive_lower": plo,
                    "predictive_upper": phi,
                    "outside": bool(value < lo or value > hi),
                    "outside_predictive": bool(value < plo or value > phi),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- texts


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _label(v: str) -> str:
    return f"{v} ({LABELS[v]})" if v in LABELS else v


def _narrowed(n: float) -> str:
    return f"narrowed by {_pct(n)}" if n > 0 else f"did not narrow ({_pct(n)})"


def _narrowing_words(n: float) -> str:
    if not np.isfinite(n):
        return "cannot be measured"
    if n < 0.2:
        return "the data say almost nothing about it"
    if n < 0.6:
        return "the data say something, the prior still matters"
    return "the data pin it down"


def identification_text(
    tree: xr.DataTree,
    spec: ModelSpec,
    narrowing_table: pd.DataFrame | None = None,
    sensitivity_table: pd.DataFrame | None = None,
    ablation_table: pd.DataFrame | None = None,
) -> list[str]:
    """Plain-words paragraphs generated from the identification numbers."""
    paras: list[str] = []
    post = tree["posterior"]
    months = _months(post[MONTH].values)
    if narrowing_table is not None and len(narrowing_table):
        nt = narrowing_table.set_index("variable")
        parts = [
            f"{_label(v)} {_narrowed(float(nt.loc[v, 'narrowing']))}:"
            f" {_narrowing_words(float(nt.loc[v, 'narrowing']))}"
            for v in KEY_IDENTIFICATION
            if v in nt.index
        ]
        if parts:
            paras.append(
                "Narrowing (1 - posterior variance / prior variance; median over months for"
                " monthly quantities): " + "; ".join(parts) + "."
            )

    # where the inflow sits between the electricity bill and the full revenue: that is psi
    needed = {"electricity_cost_usd_bn", "mining_revenue_usd_bn", "hidden_inflow_usd_bn"}
    if needed <= set(post.data_vars):
        n = min(12, len(months))
        window = slice(len(months) - n, None)

        def total(name: str) -> str:
            x = _draws(tree, name).values[:, window].sum(axis=1)
            lo, mid, hi = np.quantile(x, (0.05, 0.5, 0.95))
            return f"USD {mid:,.2f} bn (90% interval {lo:,.2f} to {hi:,.2f})"

        psi = "psi_after" if months[-1] >= pd.Timestamp(spec.legalisation) else "psi_before"
        text = (
            f"Over the last {n} fitted months ({months[-n]:%Y-%m} to {months[-1]:%Y-%m}) the"
            f" miners' electricity bill comes to {total('electricity_cost_usd_bn')} and their"
            f" full revenue to {total('mining_revenue_usd_bn')}. The hidden inflow,"
            f" {total('hidden_inflow_usd_bn')}, is the bill plus the converted share {psi} of"
            " the margin between the two."
        )
        if narrowing_table is not None and psi in set(narrowing_table["variable"]):
            nar = float(narrowing_table.set_index("variable").loc[psi, "narrowing"])
            if nar < 0.2:
                text += (
                    f" With {psi} {_narrowed(nar)}, the data say almost nothing about how much"
                    " of the margin is converted: the inflow's interval spans what psi's prior"
                    " allows between the electricity bill and the full revenue."
                )
            else:
                text += (
                    f" {psi} {_narrowed(nar)}: the evidence, not only the prior, places the"
                    " inflow within that range."
                )
        paras.append(text)

    if sensitivity_table is not None and len(sensitivity_table):
        st = sensitivity_table.set_index("variable")
        like = [c for c in st.columns if c not in ("prior", "diagnosis", "size")]
        if "hidden_inflow_usd" in st.index and like:
            row = st.loc["hidden_inflow_usd"]
            ranked = sorted(like, key=lambda k: -float(row[k]))
            cut = SENSITIVITY_THRESHOLD
            strong = [k for k in ranked if float(row[k]) > cut]
            prior_words = (
                f"above {cut}: the prior still shapes it"
                if float(row["prior"]) > cut
                else f"at most {cut}: the prior hardly matters"
            )
            ev = (
                ", ".join(f"{k.replace('_', ' ')} ({float(row[k]):.3f})" for k in strong)
                if strong
                else f"none above {cut}; the largest is {ranked[0].replace('_', ' ')}"
                f" ({float(row[ranked[0]]):.3f})"
            )
            paras.append(
                "Power-scaling sensitivity of the hidden inflow: to the prior"
                f" {float(row['prior']):.3f} ({prior_words}); to the evidence: {ev}."
            )
        if "diagnosis" in st.columns:
            weak = [v for v in st.index if str(st.loc[v, "diagnosis"]).startswith("prior dom")]
            if weak:
                paras.append(
                    "The prior dominates, with no kind of evidence moving the posterior, for: "
                    + ", ".join(weak)
                    + "."
                )

    if ablation_table is not None and len(ablation_table):
        year = int(ablation_table["year"].max())
        ab = ablation_table[
            (ablation_table["year"] == year) & (ablation_table["evidence"] != "all evidence")
        ]
        if len(ab):
            ab = ab.sort_values("width_vs_all", ascending=False)
            top = ab.iloc[0]
            flat = ab[(ab["width_vs_all"] - 1).abs() < 0.1]["evidence"].tolist()
            text = (
                f"Ablation, {year}: {top['evidence']}, the inflow's 90% interval is"
                f" {float(top['width_vs_all']):.2f} times as wide as with all evidence, the"
                " largest change."
            )
            if flat:
                text += (
                    " Within 10% of the full width: "
                    + ", ".join(flat)
                    + "; these kinds of evidence carry little information about the"
                    " inflow's level."
                )
            paras.append(text)
    return paras


def diagnostics_verdict(diag: Diagnostics, spec: ModelSpec, short: bool = False) -> str:
    """A plain verdict on convergence against ``spec.thresholds``; ``short`` counts the
    variables behind each problem instead of naming them (for the headline)."""
    th = spec.thresholds
    rules = (
        f"R-hat at most {th.max_rhat}, bulk and tail ESS at least {th.min_ess_bulk:g} and"
        f" {th.min_ess_tail:g}, at most {th.max_divergences} divergences, E-BFMI at least"
        f" {th.min_bfmi}"
    )
    if diag.ok:
        return (
            f"Converged: every check passes ({rules}). Sampling error does not limit these"
            " intervals."
        )
    problems = diag.problems
    if short:
        problems = [
            re.sub(r" for (.+)$", lambda m: f" for {len(m.group(1).split(', '))} variable(s)", p)
            for p in problems
        ]
        return (
            f"NOT converged: {'; '.join(problems)} (see Diagnostics). Treat the intervals as"
            " unreliable until a longer run passes."
        )
    return (
        f"NOT converged: {'; '.join(problems)}. Checks: {rules}. Treat the intervals"
        " as unreliable until a longer run passes."
    )


# --------------------------------------------------------------------------- tables


def _fmt(x: Any, digits: int = 3) -> str:
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


def frame_table(df: pd.DataFrame, title: str, note: str = "", flag: str | None = None) -> Table:
    """A DataFrame as a display table; ``flag`` names a boolean column marking rows."""
    cols = [c for c in df.columns if c != flag]
    rows = [[_fmt(v) for v in r] for r in df[cols].itertuples(index=False)]
    flagged = [bool(v) for v in df[flag]] if flag else []
    return Table(title, [str(c) for c in cols], rows, flagged, note)


def _interval_table(summary: pd.DataFrame) -> Table:
    now = summary[summary.kind == "nowcast"].tail(HISTORY_MONTHS)
    fc = summary[summary.kind == "forecast"]
    cols = ["mean", "median", *[f"{s}_{int(p * 100)}" for p in PROBS for s in ("lower", "upper")]]
    rows = []
    for r in pd.concat([now, fc]).itertuples(index=False):
        d = r._asdict()
        label = "nowcast" if d["kind"] == "nowcast" else f"forecast h={d['horizon']}"
        rows.append(
            [
                f"{d['month']:%Y-%m}",
                label,
                d["scenario"],
                *[_usd_m(d[f"hidden_inflow_usd_{c}"]) for c in cols],
            ]
        )
    header = ["month", "kind", "scenario", "mean", "median"] + [
        f"{s} {int(p * 100)}%" for p in PROBS for s in ("lower", "upper")
    ]
    return Table(
        "Hidden inflow by month, USD million",
        header,
        rows,
        note=f"The last {HISTORY_MONTHS} fitted months and every forecast month; equal-tailed"
        " intervals.",
    )


def _prior_table(tree: xr.DataTree, spec: ModelSpec) -> Table:
    post = tree["posterior"]
    rows = []
    for r in spec.prior_table():
        v = r["variable"]
        est = ""
        if v in post and post[v].ndim == 2:
            x = _draws(tree, v).values
            lo, med, hi = np.quantile(x, (0.05, 0.5, 0.95))
            est = f"{_fmt(med)} [{_fmt(lo)}, {_fmt(hi)}]"
        rows.append([v, r["distribution"], est, r["source"]])
    return Table(
        "Priors and their sources",
        ["variable", "prior", "posterior median [90%]", "source"],
        rows,
        note="Posterior shown for scalar parameters the model samples under the prior's name.",
    )


def _published_table(pub: pd.DataFrame) -> Table:
    rows = []
    for r in pub.itertuples(index=False):
        period = _period(r.period_start, r.period_end)
        rows.append(
            [
                f"{r.quantity}, {r.unit}",
                r.observer,
                period,
                _fmt(r.value),
                _fmt(r.posterior_median),
                f"{_fmt(r.lower)} to {_fmt(r.upper)}",
                f"{_fmt(r.predictive_lower)} to {_fmt(r.predictive_upper)}",
                ("OUTSIDE" if r.outside else "inside")
                + ("" if r.outside_predictive or not r.outside else " predictive"),
            ]
        )
    return Table(
        "Published figures against the posterior",
        [
            "quantity",
            "published by",
            "period",
            "figure",
            "posterior median",
            f"posterior {int(PREDICTIVE_PROB * 100)}%",
            f"predictive {int(PREDICTIVE_PROB * 100)}%",
            "figure is",
        ],
        rows,
        flagged=[bool(v) for v in pub["outside"]],
        note="OUTSIDE: the published figure lies outside the posterior's 90% interval of the"
        " same quantity; 'inside predictive' when it still lies inside the predictive interval,"
        " which adds the published estimates' shared error.",
    )


def _diagnostics_table(diag: Diagnostics, spec: ModelSpec) -> Table:
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


def _plain(v: Any) -> Any:
    """NumPy scalars to Python ones, for JSON."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def metadata(tree: xr.DataTree) -> dict[str, Any]:
    """The run's provenance attributes (all but the spec's JSON), as plain values."""
    return {k: _plain(v) for k, v in tree.attrs.items() if k != "spec_json"}


def _provenance_table(tree: xr.DataTree, forecasts: dict[str, xr.Dataset], created: str) -> Table:
    attrs = tree.attrs
    rows = [[label, str(_plain(attrs[k]))] for k, label in PROVENANCE_KEYS if k in attrs]
    for name, ds in forecasts.items():
        src = ds.attrs.get("scenario_file") or "fitted random walks"
        rows.append([f"forecast '{name}'", f"seed {ds.attrs.get('seed', '')}; drivers: {src}"])
    rows.append(["report created at", created])
    return Table("Provenance", ["item", "value"], rows)


# --------------------------------------------------------------------------- charts


def _title(text: str, simulated: bool) -> str:
    return f"{SIMULATED_WORD}: {text}" if simulated else text


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _band_plot(ax: Any, x: pd.DatetimeIndex, b: pd.DataFrame, colour: str, label: str) -> None:
    for p in sorted(PROBS, reverse=True):
        k = int(p * 100)
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


def _scale(b: pd.DataFrame, by: float) -> pd.DataFrame:
    return b.assign(**{c: b[c] / by for c in BAND_COLUMNS})


class _Figures:
    """Collects charts: each figure gets its caption drawn in (so the PNG and the PDF page
    carry the same text), is written to the PDF, encoded as PNG and closed."""

    def __init__(self, pdf: PdfPages, simulated: bool) -> None:
        self.pdf = pdf
        self.simulated = simulated

    def add(self, fig: Figure, title: str, caption: str = "", top: float = 1.0) -> Chart:
        try:
            lines = textwrap.wrap(caption, 160)
            height = fig.get_size_inches()[1]
            bottom = (0.08 + 0.16 * len(lines)) / height if lines else 0.0
            fig.tight_layout(rect=(0, bottom, 1, top))
            for i, line in enumerate(reversed(lines)):
                fig.text(
                    0.01, (0.04 + 0.16 * i) / height, line, fontsize=8, style="italic", va="bottom"
                )
            png = _png(fig)
            self.pdf.savefig(fig)
        finally:
            plt.close(fig)
        return Chart(title, png, caption)


def _inflow_chart(
    figs: _Figures,
    months: pd.DatetimeIndex,
    now: pd.DataFrame,
    baseline: tuple[str, xr.Dataset] | None,
    edge: pd.Timestamp | None,
) -> Chart:
    fig, ax = plt.subplots(figsize=(PAGE[0], 5.2))
    _band_plot(ax, months, _scale(now, 1e6), NOWCAST_COLOUR, "nowcast")
    if baseline is not None:
        name, ds = baseline
        fm = _months(ds[MONTH].values)
        fb = bands(ds["hidden_inflow_usd"].transpose(SAMPLE, MONTH).values)
        _band_plot(ax, fm, _scale(fb, 1e6), FORECAST_COLOUR, f"forecast ({name})")
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
    title = _title("Hidden mining inflow, USD million per month", figs.simulated)
    ax.set_title(title)
    ax.set_ylabel("USD million")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    return figs.add(
        fig,
        title,
        "Posterior median with 50/80/95% bands; the first scenario's forecast (the baseline)"
        " continues the series.",
    )


def _fan_chart(
    figs: _Figures, tree: xr.DataTree, name: str, ds: xr.Dataset, months: pd.DatetimeIndex
) -> Chart:
    panel = tree["panel"].to_dataset()
    hist = months[-HISTORY_MONTHS:]
    fm = _months(ds[MONTH].values)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(PAGE[0], 4.6))
    usd = panel["usd_rub_mean"].sel({MONTH: hist}).values
    a1.plot(hist, usd, color="black", linewidth=1.3, label="observed monthly mean")
    fu = bands(ds["usd_rub"].transpose(SAMPLE, MONTH).values)
    _band_plot(a1, fm, fu, FORECAST_COLOUR, "forecast")
    a1.set_title("USD/RUB, RUB per USD")
    now = bands(_draws(tree, "hidden_inflow_usd").sel({MONTH: hist}).values)
    _band_plot(a2, hist, _scale(now, 1e6), NOWCAST_COLOUR, "nowcast")
    fb = bands(ds["hidden_inflow_usd"].transpose(SAMPLE, MONTH).values)
    _band_plot(a2, fm, _scale(fb, 1e6), FORECAST_COLOUR, "forecast")
    a2.set_title("Hidden inflow, USD million per month")
    a2.set_ylim(bottom=0)
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    a1.legend(fontsize=7, loc="upper left")
    title = _title(
        f"Forecast, scenario '{name}': h = 1..{len(fm)} months ahead of {months[-1]:%Y-%m}",
        figs.simulated,
    )
    fig.suptitle(title)
    return figs.add(
        fig,
        title,
        f"50/80/95% bands. History: the last {HISTORY_MONTHS} fitted months (USD/RUB observed,"
        " the inflow's posterior); then the forecast h months ahead.",
    )


def _prior_posterior_chart(figs: _Figures, tree: xr.DataTree, names: list[str]) -> Chart | None:
    if not names:
        return None
    title = _title("Prior and posterior of the main parameters", figs.simulated)
    fig = None
    before = set(plt.get_fignums())
    try:
        import arviz as az

        pc = az.plot_prior_posterior(tree, var_names=names, backend="matplotlib", col_wrap=4)
        fig = pc.viz["figure"].item()
        fig.set_size_inches(PAGE[0], 2.3 * int(np.ceil(len(names) / 4)) + 0.8)
        for legend in fig.legends:  # beside the title, not over the first row
            legend.set_loc("upper right")
            legend.set_ncols(2)
    except Exception:  # arviz-plots cannot draw this tree: plain histograms instead
        for num in set(plt.get_fignums()) - before:
            plt.close(num)
        fig = None
    if fig is None:
        ncol = 4
        nrow = int(np.ceil(len(names) / ncol))
        fig, axes = plt.subplots(nrow, ncol, figsize=(PAGE[0], 2.3 * nrow + 0.8), squeeze=False)
        for ax, v in zip(axes.ravel(), names, strict=False):
            pr = tree["prior"][v].values.ravel()
            po = tree["posterior"][v].values.ravel()
            lo, hi = np.quantile(np.concatenate([pr, po]), (0.005, 0.995))
            bins = np.linspace(lo, hi, 40)
            ax.hist(pr, bins=bins, density=True, alpha=0.5, label="prior", color="grey")
            ax.hist(po, bins=bins, density=True, alpha=0.6, label="posterior", color="C0")
            ax.set_title(v, fontsize=9)
            ax.set_yticks([])
        for ax in axes.ravel()[len(names) :]:
            ax.set_visible(False)
        axes.ravel()[0].legend(fontsize=7)
    fig.suptitle(title, x=0.02, ha="left")
    return figs.add(
        fig, title, "Marginal densities, prior draws against posterior draws.", top=0.95
    )


def _published_chart(figs: _Figures, pub: pd.DataFrame) -> Chart | None:
    if pub.empty:
        return None
    n = len(pub)
    fig, ax = plt.subplots(figsize=(PAGE[0], 0.32 * n + 1.6))
    med = pub["posterior_median"].to_numpy()
    y = np.arange(n)[::-1]
    ax.hlines(y, pub["predictive_lower"] / med, pub["predictive_upper"] / med, color="0.75", lw=6)
    ax.hlines(y, pub["lower"] / med, pub["upper"] / med, color=NOWCAST_COLOUR, lw=2.5)
    colours = np.where(pub["outside"], "red", "black")
    ax.scatter(pub["value"] / med, y, color=colours, zorder=3, s=22)
    ax.axvline(1.0, color="0.5", lw=0.8)
    ax.set_xscale("log")
    labels = [
        f"{SHORT[r.block]}{'' if r.region == RUSSIA else ' ' + r.region}"
        f" {_period(r.period_start, r.period_end)}"
        f" ({textwrap.shorten(r.observer, 34, placeholder='...')})"
        for r in pub.itertuples(index=False)
    ]
    ax.set_yticks(y, labels, fontsize=7)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("published figure and intervals relative to the posterior median (log scale)")
    title = _title("Published figures against the posterior", figs.simulated)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return figs.add(
        fig,
        title,
        f"Dots: published figures (red: outside the posterior's {int(PREDICTIVE_PROB * 100)}%"
        " interval of the same quantity, blue bar); grey bar: the predictive interval, which"
        " adds the estimates' shared error.",
    )


def _period(start: pd.Timestamp, end: pd.Timestamp) -> str:
    if start.to_period("M") == end.to_period("M"):
        return f"{start:%Y-%m}"
    return f"{start:%Y-%m} to {end:%Y-%m}"


# --------------------------------------------------------------------------- PDF pages


def _text_pages(
    pdf: PdfPages, title: str, paragraphs: Sequence[str], banner: bool, width: int = 110
) -> None:
    lines: list[str] = []
    for p in paragraphs:
        lines.extend(textwrap.wrap(p, width) or [""])
        lines.append("")
    per_page = 38
    for start in range(0, max(len(lines), 1), per_page):
        fig = plt.figure(figsize=PAGE)
        try:
            _page_header(fig, title, banner)
            y = 0.86
            for line in lines[start : start + per_page]:
                fig.text(0.06, y, line, fontsize=10, va="top")
                y -= 0.021
            pdf.savefig(fig)
        finally:
            plt.close(fig)


def _page_header(fig: Figure, title: str, banner: bool) -> None:
    if banner:
        fig.text(
            0.5,
            0.975,
            "SIMULATED DATA: not an estimate of the real world",
            ha="center",
            va="top",
            fontsize=12,
            weight="bold",
            color="white",
            bbox={"facecolor": "#c00000", "edgecolor": "none", "pad": 4},
        )
    fig.text(0.06, 0.93, _title(title, banner), fontsize=14, weight="bold", va="top")


def _table_pages(pdf: PdfPages, table: Table, banner: bool, max_col: int = 70) -> None:
    """A table as monospaced text, long cells wrapped, over as many pages as it needs; the
    font shrinks (down to 5.5 pt) for wide tables and grows (up to 9 pt) for narrow ones."""
    ncol = len(table.columns)
    widths = []
    for j in range(ncol):
        cells = [table.columns[j], *[r[j] for r in table.rows]]
        widths.append(max(min(max(len(c) for c in cells), max_col), 1))
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
        fig = plt.figure(figsize=PAGE)
        try:
            cont = f" (continued, {k + 1}/{len(pages)})" if len(pages) > 1 else ""
            _page_header(fig, table.title + cont, banner)
            y = top
            for text in header:
                line(fig, y, text, weight="bold")
                y -= step
            line(fig, y, "-" * total)
            y -= step
            for lines, flag in page:
                for text in lines:
                    line(fig, y, text, color="#c00000" if flag else "black")
                    y -= step
            if table.note and k == len(pages) - 1:
                for i, text in enumerate(textwrap.wrap(table.note, 150)):
                    fig.text(0.04, 0.06 - i * 0.018, text, fontsize=8, style="italic")
            pdf.savefig(fig)
        finally:
            plt.close(fig)


# --------------------------------------------------------------------------- writing


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "scenario"


def _forecast_frame(ds: xr.Dataset) -> pd.DataFrame:
    months = _months(ds[MONTH].values)
    parts = [
        bands(ds[v].transpose(SAMPLE, MONTH).values).add_prefix(f"{v}_")
        for v in ("hidden_inflow_usd", "usd_rub", "hashrate_share", "mining_power_gw")
        if v in ds
    ]
    out = pd.concat(parts, axis=1)
    out.insert(0, "horizon", np.arange(1, len(months) + 1))
    out.insert(0, "month", months.strftime("%Y-%m-%d"))
    out.insert(0, "scenario", ds.attrs.get("scenario", ""))
    return out


def _check_forecasts(tree: xr.DataTree, forecasts: dict[str, xr.Dataset]) -> None:
    last = _months(tree["posterior"][MONTH].values)[-1]
    for name, ds in forecasts.items():
        for v in ("hidden_inflow_usd", "usd_rub"):
            if v not in ds:
                raise NowcastError(f"forecast '{name}' has no {v}: pass what forecast() returns")
        first = _months(ds[MONTH].values)[0]
        if first != last + pd.offsets.MonthBegin(1):
            raise NowcastError(
                f"forecast '{name}' starts {first:%Y-%m}, not the month after the posterior's"
                f" last fitted month {last:%Y-%m}: it was made from another run"
            )


def _json_default(o: Any) -> Any:
    if isinstance(o, pd.Timestamp | datetime):
        return o.isoformat()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


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
) -> ReportPaths:
    """Write the report of one fitted run into ``out_dir``: ``report.html`` (self-contained),
    ``report.pdf`` (the same content: the same charts, tables and texts as PDF pages),
    ``summary.csv``, ``summary.json`` and ``forecast_<scenario>.csv`` per scenario.

    ``forecasts`` maps a scenario name to what ``nowcast.forecast.forecast`` returned for this
    run (the baseline is shown first). ``diagnostics`` default to ``nowcast.fit.diagnose`` on
    the tree. ``declared_exports``: monthly goods exports, USD bn, indexed by month; by default
    the panel's ``goods_exports_usd_bn``. The identification tables are shown when given."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    forecasts = _ordered(forecasts)
    _check_forecasts(tree, forecasts)
    try:
        spec = spec_of(tree)
    except ValueError as exc:  # pydantic's ValidationError: the spec format has changed
        raise NowcastError(
            f"the run's spec ({tree.attrs.get('model')}, {tree.attrs.get('spec_hash')}) does not"
            f" validate with nowcast {__version__}: refit it ({str(exc).splitlines()[0]})"
        ) from None
    simulated = is_simulated(tree) or any(
        str(ds.attrs.get("data_kind", "real")) != "real" for ds in forecasts.values()
    )
    created = datetime.now(UTC).isoformat(timespec="seconds")
    if diagnostics is None:
        try:
            free = [v.name for v in model_of(tree).free_RVs]
        except Exception:  # the model cannot be rebuilt: check every posterior variable
            free = None
        diagnostics = diagnose(tree, spec, free)

    months, inflow = _inflow_samples(tree)
    now = bands(inflow)
    summary = summary_table(tree, forecasts)
    head = headline(tree, declared_exports)
    head_text = _headline_text(head)
    edge = ragged_edge_start(tree["panel"].to_dataset())
    pub = published_vs_posterior(tree, spec)
    ident = identification_text(tree, spec, narrowing_table, sensitivity_table, ablation_table)
    verdict = diagnostics_verdict(diagnostics, spec)
    short_verdict = diagnostics_verdict(diagnostics, spec, short=True)
    prior_vars = set(tree["prior"].data_vars) if "prior" in tree.children else set()
    names = [v for v in MAIN_PARAMS if v in tree["posterior"] and v in prior_vars]
    edge_text = (
        f"The dashed line marks the ragged edge: from {edge:%Y-%m} no electricity or"
        " balance-of-payments figure is published yet, so the nowcast there rests on on-chain"
        " data, the ruble and the model."
        if edge is not None
        else "No ragged edge: electricity or balance-of-payments figures reach the last fitted"
        " month."
    )

    tables = {
        "intervals": _interval_table(summary),
        "priors": _prior_table(tree, spec),
        "published": _published_table(pub) if len(pub) else None,
        "diagnostics": _diagnostics_table(diagnostics, spec),
        "provenance": _provenance_table(tree, forecasts, created),
        "narrowing": frame_table(
            narrowing_table, "Narrowing: 1 - posterior variance / prior variance"
        )
        if narrowing_table is not None
        else None,
        "sensitivity": frame_table(
            sensitivity_table, "Power-scaling sensitivity to the prior and each kind of evidence"
        )
        if sensitivity_table is not None
        else None,
        "ablation": frame_table(
            ablation_table, "Ablation: annual inflow's 90% interval (USD bn) by evidence used"
        )
        if ablation_table is not None
        else None,
    }

    html_path = out_dir / "report.html"
    pdf_path = out_dir / "report.pdf"
    charts: dict[str, Any] = {}

    def write_pdf(tmp: Path) -> None:
        with PdfPages(tmp, metadata={"Title": "Hidden mining inflow nowcast"}) as pdf:
            figs = _Figures(pdf, simulated)
            intro = [
                *head_text,
                f"Run: spec {spec.name} ({tree.attrs.get('spec_hash', '')}), data as of"
                f" {tree.attrs.get('data_as_of', '')} ({tree.attrs.get('data_kind', '')}),"
                f" fitted {tree.attrs.get('created_at', '')}; report created {created}.",
                short_verdict,
                edge_text,
            ]
            _text_pages(pdf, "Hidden mining inflow: headline", intro, simulated)
            first = next(iter(forecasts.items()), None)
            charts["inflow"] = _inflow_chart(figs, months, now, first, edge)
            charts["fans"] = [
                _fan_chart(figs, tree, name, ds, months) for name, ds in forecasts.items()
            ]
            _table_pages(pdf, tables["intervals"], simulated)
            charts["prior_posterior"] = _prior_posterior_chart(figs, tree, names)
            _table_pages(pdf, tables["priors"], simulated)
            if ident:
                _text_pages(pdf, "Identification", ident, simulated)
            for k in ("narrowing", "sensitivity", "ablation"):
                if tables[k] is not None:
                    _table_pages(pdf, tables[k], simulated)
            charts["published"] = _published_chart(figs, pub)
            if tables["published"] is not None:
                _table_pages(pdf, tables["published"], simulated)
            _text_pages(pdf, "Diagnostics", [verdict], simulated)
            _table_pages(pdf, tables["diagnostics"], simulated)
            _table_pages(pdf, tables["provenance"], simulated)

    write_atomic(pdf_path, write_pdf)

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("nowcast", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template("report.html.j2").render(
        simulated=simulated,
        title=_title("Hidden mining inflow: nowcast report", simulated),
        headline=head_text,
        edge_text=edge_text,
        charts=charts,
        tables=tables,
        identification=ident,
        verdict=verdict,
        short_verdict=short_verdict,
        diagnostics_ok=diagnostics.ok,
        created=created,
        spec_name=spec.name,
        attrs=metadata(tree),
        scenarios=list(forecasts),
    )
    write_atomic(html_path, lambda tmp: tmp.write_text(html, encoding="utf-8"))

    csv_path = out_dir / "summary.csv"
    json_path = out_dir / "summary.json"
    out = summary.assign(month=summary["month"].dt.strftime("%Y-%m-%d"))
    write_atomic(csv_path, lambda tmp: out.to_csv(tmp, index=False))
    records = json.loads(out.to_json(orient="records", double_precision=15))
    payload = {
        "metadata": {**metadata(tree), "report_created_at": created},
        "headline": head,
        "ragged_edge_start": f"{edge:%Y-%m}" if edge is not None else None,
        "units": {"hidden_inflow_usd": "USD per month", "usd_rub": "RUB per USD"},
        "rows": records,
    }
    text = json.dumps(payload, indent=1, default=_json_default, allow_nan=False)
    write_atomic(json_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    fc_paths: dict[str, Path] = {}
    for name, ds in forecasts.items():
        stem, k = f"forecast_{_safe_name(name)}", 1
        while out_dir / f"{stem}.csv" in fc_paths.values():  # names equal once made safe
            stem, k = f"forecast_{_safe_name(name)}_{k}", k + 1
        p = out_dir / f"{stem}.csv"
        frame = _forecast_frame(ds)
        fc_paths[name] = write_atomic(p, lambda tmp, f=frame: f.to_csv(tmp, index=False))
    return ReportPaths(html_path, pdf_path, csv_path, json_path, fc_paths)
