"""The report's sentences, generated from its numbers: the headline, the ragged edge,
identification in plain words and the convergence verdict."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.constants import MONTH
from nowcast.fit import Diagnostics
from nowcast.identify import SENSITIVITY_THRESHOLD
from nowcast.model.spec import ModelSpec

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
    "alloc_logit_mean": "a mining region's typical share (logit against mining elsewhere)",
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


def usd_m(x: float) -> str:
    """USD as millions with one decimal."""
    return f"{x / 1e6:,.1f}"


def _interval(lo: float, hi: float) -> str:
    return f"{usd_m(lo)} to {usd_m(hi)}"


def headline_text(h: dict[str, Any]) -> list[str]:
    """The headline (what ``summaries.headline`` returns) as sentences, USD million."""
    lm, q = h["latest_month"], h["quarter"]

    def iv(d: dict[str, float]) -> str:
        return (
            f"median USD {usd_m(d['median'])} million (80% interval"
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


def edge_text(edge: pd.Timestamp | None) -> str:
    """What the ragged edge line on the inflow chart means."""
    if edge is None:
        return (
            "No ragged edge: electricity or balance-of-payments figures reach the last fitted"
            " month."
        )
    return (
        f"The dashed line marks the ragged edge: from {edge:%Y-%m} no electricity or"
        " balance-of-payments figure is published yet, so the nowcast there rests on on-chain"
        " data, the ruble and the model."
    )


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


def _narrowing_paragraph(nt: pd.DataFrame) -> str | None:
    parts = [
        f"{_label(v)} {_narrowed(float(nt.loc[v, 'narrowing']))}:"
        f" {_narrowing_words(float(nt.loc[v, 'narrowing']))}"
        for v in KEY_IDENTIFICATION
        if v in nt.index
    ]
    if not parts:
        return None
    return (
        "Narrowing (1 - posterior variance / prior variance; median over months for monthly"
        " quantities): " + "; ".join(parts) + "."
    )


def _bill_and_revenue_paragraph(
    tree: xr.DataTree, spec: ModelSpec, narrowing_table: pd.DataFrame | None
) -> str | None:
    """Where the inflow sits between the electricity bill and the full revenue: that is psi."""
    post = tree["posterior"]
    needed = {"electricity_cost_usd_bn", "mining_revenue_usd_bn", "hidden_inflow_usd_bn"}
    if not needed <= set(post.data_vars):
        return None
    months = pd.DatetimeIndex(post[MONTH].values)
    n = min(12, len(months))

    def total(name: str) -> str:
        x = post[name].isel({MONTH: slice(len(months) - n, None)}).sum(MONTH)
        lo, mid, hi = np.quantile(x.values.ravel(), (0.05, 0.5, 0.95))
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
    return text


def _sensitivity_paragraphs(st: pd.DataFrame) -> list[str]:
    paras = []
    like = [c for c in st.columns if c not in ("prior", "diagnosis", "size")]
    if "hidden_inflow_usd" in st.index and np.isnan(float(st.loc["hidden_inflow_usd", "prior"])):
        paras.append(
            "Power-scaling sensitivity could not be computed for these draws: too few of them are"
            " distinct (an update's reweighted posterior repeats draws by their weights), so the"
            " smoothed power-scaling weights are undefined. The last full fit's report has it."
        )
    elif "hidden_inflow_usd" in st.index and like:
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
    return paras


def _ablation_paragraph(ablation_table: pd.DataFrame) -> str | None:
    year = int(ablation_table["year"].max())
    ab = ablation_table[
        (ablation_table["year"] == year) & (ablation_table["evidence"] != "all evidence")
    ]
    if not len(ab):
        return None
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
            + "; these kinds of evidence carry little information about the inflow's level."
        )
    return text


def identification_text(
    tree: xr.DataTree,
    spec: ModelSpec,
    narrowing_table: pd.DataFrame | None = None,
    sensitivity_table: pd.DataFrame | None = None,
    ablation_table: pd.DataFrame | None = None,
) -> list[str]:
    """Plain-words paragraphs generated from the identification numbers."""
    paras: list[str | None] = []
    if narrowing_table is not None and len(narrowing_table):
        paras.append(_narrowing_paragraph(narrowing_table.set_index("variable")))
    paras.append(_bill_and_revenue_paragraph(tree, spec, narrowing_table))
    if sensitivity_table is not None and len(sensitivity_table):
        paras.extend(_sensitivity_paragraphs(sensitivity_table.set_index("variable")))
    if ablation_table is not None and len(ablation_table):
        paras.append(_ablation_paragraph(ablation_table))
    return [p for p in paras if p]


def short_problems(diag: Diagnostics) -> list[str]:
    """The diagnostics' problems with the variables behind each counted, not named."""
    return [
        re.sub(r" for (.+)$", lambda m: f" for {len(m.group(1).split(', '))} variable(s)", p)
        for p in diag.problems
    ]


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
        problems = short_problems(diag)
        return (
            f"NOT converged: {'; '.join(problems)} (see Diagnostics). Treat the intervals as"
            " unreliable until a longer run passes."
        )
    return (
        f"NOT converged: {'; '.join(problems)}. Checks: {rules}. Treat the intervals"
        " as unreliable until a longer run passes."
    )
