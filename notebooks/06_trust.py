# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Can it be trusted?
#
# **The question: can the nowcast's numbers, and above all its intervals, be trusted?** A
# nowcast of a hidden flow cannot be checked against the flow itself: nobody publishes it. So
# this notebook checks the three things that can be checked.
#
# 1. **Its track record on real data.** Replay the past: at each origin month, fit the model on
#    exactly what had been published by that month's last day, forecast the monthly mean
#    USD/RUB, and score the forecast against what the Bank of Russia published later. The
#    yardstick is the forecast every desk already has for free: a **random walk**, centred on
#    the last monthly mean known at the origin, its spread that of the last three years'
#    monthly moves. If the random walk wins, this notebook says so.
# 2. **Figures before they were published.** Every figure the model predicts (electricity,
#    power, BTC mined, errors and omissions, ...) that came out *after* an origin, about months
#    the nowcast already covered: did it fall inside the interval the nowcast gave for it
#    before it came out?
# 3. **Whether the inference is right about its own world.** Simulation-based calibration:
#    draw datasets from the model itself (**SIMULATED** data, where the true hidden inflow is
#    known), fit each, and check that the truth sits in the posterior where it should as often
#    as it should.
#
# (1) and (2) use the **real** published data bundled in `data/`; (3) uses **SIMULATED** data
# only and says so on every chart. Everything runs through the same code as `nowcast backtest`
# and `nowcast calibrate` (`nowcast.backtest`, `nowcast.calibrate`). Open it with
# `jupytext --to notebook notebooks/06_trust.py`. (Run it as a notebook: in full mode it starts
# dask worker processes, which a plain `python notebooks/06_trust.py` cannot start, because
# they import the script again.)

# %%
from nowcast.notebooks import ensure_data, notebook_mode

mode = notebook_mode()
print(mode.banner())

# %% [markdown]
# **Quick mode is for checking that the notebook runs, not for judging the model.** With
# `NOWCAST_QUICK=1` (what the test suite sets) the backtest has two early origins and one
# horizon, the calibration three short simulated datasets, and every fit a few dozen draws:
# far too few numbers to judge anything, and such short fits are not expected to pass their
# convergence checks. Every table, chart and verdict below is computed all the same, so that
# the mechanics are shown, but in quick mode read them as placeholders, not as evidence for or
# against the model. `make notebooks` runs the real thing (full mode, `NOWCAST_QUICK` unset):
# a year of the latest origins at horizons of 1 to 3 months with the spec's sampler settings,
# and 50 simulated datasets with the settings of `nowcast calibrate`: measured on 27 Nov 2026,
# 19.5 minutes on 2 cores (the backtest 695 s, the calibration 459 s).

# %%
import importlib.metadata as md  # noqa: E402
import logging  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from nowcast.backtest import (  # noqa: E402
    MODEL,
    RANDOM_WALK,
    BacktestPlan,
    run_backtest,
    write_report,
)
from nowcast.calibrate import RANK_BINS, CalibrationPlan, run_calibration, uniformity  # noqa: E402
from nowcast.calibrate import write_report as write_calibration_report  # noqa: E402
from nowcast.model.spec import load_spec  # noqa: E402
from nowcast.panel import build_panel  # noqa: E402
from nowcast.pipeline import sampler_settings  # noqa: E402
from nowcast.report import backtest_summary as bs  # noqa: E402
from nowcast.report.calibration import UNIFORM_P  # noqa: E402
from nowcast.report.calibration import verdict_sentences as calibration_sentences  # noqa: E402
from nowcast.scores import (  # noqa: E402
    COVERAGE_PROBS,
    FIGURE_PROB,
    RW_HISTORY_MONTHS,
    pit_histogram,
)
from nowcast.store import Store  # noqa: E402

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 20)
ensure_data(mode)  # the bundled real data, into the notebook's store
spec = load_spec("default")
LEVELS = [round(100 * p) for p in COVERAGE_PROBS]  # central intervals scored: 50, 80, 90, 95%
FIGURE_LEVEL = round(100 * FIGURE_PROB)  # published figures are judged by their 90% interval


# how much evidence this notebook asks for before it reads a verdict as one
MIN_ORIGINS = 10  # origins behind a CRPS ratio
MIN_DATASETS = 5 * RANK_BINS  # simulated datasets: five expected per bin of the rank histogram


def pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.0f}%"


# %% [markdown]
# ## 1. The backtest on real data: the model against the random walk
#
# **Which origins.** Full mode: the latest twelve origins whose target months, 1, 2 and 3
# months ahead, all have a published monthly mean USD/RUB in the store, fitted with the spec's
# sampler. Quick mode: the two earliest origins at which the random walk has its three years
# of history, horizon 1, a few dozen draws (early origins hold less data, so their model
# compiles in about half the time of a recent one's). Each origin's model is fitted on the
# spec's whole window as it stood on the origin month's last day (every source with its own
# publication lag), exactly as `nowcast backtest` does.

# %%
with Store(mode.store_dir, read_only=True) as st:
    latest = build_panel(st, start=spec.start)  # what is known now: the realised rates
realised = pd.Series(
    latest["usd_rub_mean"].values.astype(float), index=pd.DatetimeIndex(latest["month"].values)
).dropna()
last_realised = realised.index[-1]
if mode.quick:
    horizons = (1,)
    bt_sampler = sampler_settings(spec, draws=40, tune=60, chains=2)
    first_origin = pd.Timestamp(spec.start) + pd.DateOffset(months=RW_HISTORY_MONTHS)
    last_origin = first_origin + pd.DateOffset(months=1)
else:
    horizons = (1, 2, 3)
    bt_sampler = sampler_settings(spec)  # the spec's own settings
    last_origin = last_realised - pd.DateOffset(months=max(horizons))
    first_origin = last_origin - pd.DateOffset(months=11)
plan = BacktestPlan(
    str(mode.store_dir),
    first_origin,
    last_origin,
    horizons,
    spec_name=spec.name,
    sampler=bt_sampler,
)
print(f"Monthly mean USD/RUB published through {last_realised:%Y-%m}")
print(
    f"Origins {first_origin:%Y-%m} to {last_origin:%Y-%m} ({len(plan.origins())}),"
    f" horizons {horizons}"
)
print(
    f"Sampler: {bt_sampler.chains} chains x {bt_sampler.draws} draws,"
    f" {bt_sampler.tune} tuning steps"
)

# %% [markdown]
# **Running it.** Origins are independent fits, run on dask.distributed. Full mode uses the
# library's default: a local cluster of one single-threaded worker process per core. Quick mode
# uses one worker inside this process (so no worker has to start and import PyMC), passed to
# `run_backtest` as an existing cluster's address, the same way `--scheduler` does. Each
# origin's scores go to the store as it finishes, so running the cell again reuses them.
# `nowcast backtest` also backtests, by default, the same model with the hidden inflow switched
# off in the ruble equation (`no_ruble_inflow`); this notebook leaves that baseline out, which
# halves the fits (pass `baselines=["no_ruble_inflow"]` to `run_backtest` to add it).

# %%
if mode.quick:
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )
    where = {"scheduler": cluster.scheduler_address}
else:
    cluster = None
    where = {"workers": None}  # one worker per core
run = run_backtest(plan, notify=print, **where)
print(
    f"Backtest {run.backtest_id} on {run.data_kind} data: {len(run.ran)} origin(s) fitted,"
    f" {len(run.reused)} reused, {run.seconds:.0f} s"
)
for origin, why in run.failed.items():
    print(f"origin {origin:%Y-%m} FAILED: {why}")
run.origins[
    [
        "origin",
        "fitted_through",
        "seconds",
        "divergences",
        "max_rhat",
        "min_ess_bulk",
        "diagnostics_ok",
    ]
]

# %% [markdown]
# **The scores.** For each forecast of the monthly mean USD/RUB (RUB per USD):
#
# * **CRPS**, in RUB per USD: how far the whole forecast distribution was from what happened
#   (for a forecast that is a single number, the absolute error). Lower is better.
# * **Log score**: minus the log of the forecast density at what happened. Lower is better; it
#   punishes a forecast that was confident and wrong much harder than the CRPS does.
# * **Coverage**: how often the realised rate fell inside the central 50/80/90/95% interval.
#   Good intervals hit their nominal level: far below it means the intervals are too narrow
#   (too confident), far above it too wide.
#
# The **ratio** is mean CRPS model / random walk over the same origins: below 1 the model did
# better. Its 90% interval comes from a block bootstrap over origins; the verdict at a horizon
# is "model better" or "random walk better" only when that interval lies entirely on one side
# of 1.

# %%
summary = bs.horizon_summary(run.scores)
rows = []
for r in summary.itertuples(index=False):
    for tag, name in (("model", "nowcast model"), ("rw", "random walk")):
        row = {
            "horizon (months)": r.horizon,
            "forecaster": name,
            "origins": r.origins,
            "mean CRPS (RUB/USD)": getattr(r, f"crps_{tag}"),
            "mean log score": getattr(r, f"logs_{tag}"),
        }
        row.update({f"{k}% coverage": getattr(r, f"coverage_{k}_{tag}") for k in LEVELS})
        row["mean 80% width (RUB/USD)"] = getattr(r, f"width_80_{tag}")
        rows.append(row)
by_horizon = pd.DataFrame(rows)
ratios = summary[["horizon", "origins", "ratio", "ratio_lower", "ratio_upper"]].assign(
    verdict=[bs.ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper) for r in summary.itertuples()]
)
print("USD/RUB, monthly mean, REAL data: scores by horizon")
print(by_horizon.round(3).to_string(index=False))
print()
print("Mean CRPS ratio model / random walk, with its 90% block-bootstrap interval")
print(ratios.round(3).to_string(index=False))

# %% [markdown]
# **Who won, in words.** Computed from the table above: first the mean scores horizon by
# horizon, then the verdict as `nowcast backtest` states it (the same function writes the
# backtest page's headline).

# %%
usd = bs.usd_rub_rows(run.scores)
for r in summary.itertuples(index=False):
    crps_winner = "the model" if r.crps_model < r.crps_rw else "the random walk"
    logs_winner = "the model" if r.logs_model < r.logs_rw else "the random walk"
    print(
        f"h = {r.horizon}: over {r.origins} origin(s), {crps_winner} had the lower mean CRPS"
        f" ({r.crps_model:.2f} model, {r.crps_rw:.2f} random walk) and {logs_winner} the lower"
        f" mean log score ({r.logs_model:.2f} against {r.logs_rw:.2f}); the model's 80% intervals"
        f" covered {pct(r.coverage_80_model)}, the random walk's {pct(r.coverage_80_rw)}"
        " (nominal 80%)."
    )
print()
for sentence in bs.verdict_sentences(summary, run.scores, run.origins, plan.horizons):
    print("*", sentence)
few = int(summary["origins"].min()) if len(summary) else 0
if few < MIN_ORIGINS:
    print(
        f"\nCaution: {few} origin(s) at the thinnest horizon. A bootstrap over so few origins"
        " cannot measure the uncertainty of the ratio, so no verdict above means much yet."
    )
    collapsed = summary[summary["ratio_lower"] == summary["ratio_upper"]]["horizon"].tolist()
    if collapsed:
        print(
            f"At h = {', '.join(map(str, collapsed))} the bootstrap interval has collapsed to"
            " the ratio itself: every resample drew the same origins."
        )

# %% [markdown]
# The same numbers as charts: mean scores by horizon (lower is better) and the 80% interval
# coverage against its nominal level.

# %%
hs = summary["horizon"].to_numpy()
x = np.arange(len(hs))
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, col, label in (
    (axes[0], "crps", "mean CRPS (RUB per USD)"),
    (axes[1], "logs", "mean log score (nats)"),
):
    ax.bar(x - 0.2, summary[f"{col}_model"], width=0.4, label="nowcast model")
    ax.bar(x + 0.2, summary[f"{col}_rw"], width=0.4, label="random walk")
    ax.set_xticks(x, [str(h) for h in hs])
    ax.set_xlabel("horizon (months after the origin month)")
    ax.set_ylabel(label)
    ax.legend(fontsize=8)
axes[0].set_title("CRPS, lower is better")
axes[1].set_title("Log score, lower is better")
axes[2].bar(x - 0.2, 100 * summary["coverage_80_model"], width=0.4, label="nowcast model")
axes[2].bar(x + 0.2, 100 * summary["coverage_80_rw"], width=0.4, label="random walk")
axes[2].axhline(80, color="black", linestyle="--", linewidth=1, label="nominal 80%")
axes[2].set_xticks(x, [str(h) for h in hs])
axes[2].set_ylim(0, 105)
axes[2].set_xlabel("horizon (months after the origin month)")
axes[2].set_ylabel("realised rate inside the 80% interval (%)")
axes[2].set_title("80% interval coverage")
axes[2].legend(fontsize=8)
fig.suptitle(
    f"USD/RUB monthly mean, REAL data: model vs random walk"
    f" ({len(run.origins)} origins, {plan.start:%Y-%m} to {plan.end:%Y-%m})"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# What the forecasts looked like: for the shortest horizon, the realised monthly mean against
# each forecaster's 80% interval, origin by origin. An interval that misses the dot is a miss.

# %%
h0 = int(min(plan.horizons))
at_h0 = usd[usd["horizon"] == h0]
months = sorted(at_h0["period_start"].unique())
pos = {m: i for i, m in enumerate(months)}
fig, ax = plt.subplots(figsize=(max(7.5, 0.7 * len(months) + 3), 3.8))
for name, label, colour, shift in (
    (MODEL, "nowcast model", "C0", -0.12),
    (RANDOM_WALK, "random walk", "C1", 0.12),
):
    sel = at_h0[at_h0["model"] == name]
    xs = sel["period_start"].map(pos) + shift
    ax.vlines(xs, sel["lower_80"], sel["upper_80"], color=colour, linewidth=6, alpha=0.6)
    ax.plot(xs, sel["median"], "_", markersize=12, color=colour, label=f"{label}: median, 80%")
truth = at_h0[at_h0["model"] == MODEL]
ax.plot(truth["period_start"].map(pos), truth["observed"], "o", color="black", label="published")
ax.set_xticks(range(len(months)), [f"{pd.Timestamp(m):%Y-%m}" for m in months], rotation=45)
ax.set_xlabel("target month")
ax.set_ylabel("USD/RUB monthly mean (RUB per USD)")
ax.set_title(f"USD/RUB {h0} month(s) ahead, REAL data: forecasts and outcomes")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 2. Published figures before they were published (real data)
#
# At every origin, each figure the model predicts that was published *after* the origin's
# as-of day and is about a month inside the origin's fitted window is scored under the
# posterior predictive the nowcast made before the figure came out: the model's prediction of
# that figure at every posterior draw, plus that kind of evidence's observation error. The
# question is simple: did it fall inside the 90% predictive interval? About 90% of them should.
# The **PIT** is where the figure fell in the predictive distribution (0 = below every draw,
# 1 = above every draw); it averages 0.5 when the nowcast is unbiased.

# %%
figs = bs.figure_rows(run.scores)
by_kind = bs.figure_summary(run.scores)
if len(figs):
    inside = bs.covered(figs, FIGURE_LEVEL)
    print(
        f"{int(inside.sum())} of {len(figs)} published figures ({pct(inside.mean())}) fell inside"
        f" the nowcast's {FIGURE_LEVEL}% predictive interval made before they were published"
        f" (nominal {FIGURE_LEVEL}%), over {figs['origin'].nunique()} origin(s)."
    )
    print(by_kind.round(2).to_string(index=False))
else:
    print("No published figure was scored: none came out after an origin about its window.")

# %%
if len(figs):
    cols = ["origin", "quantity", "region", "period_start", "published", "observed"]
    cols += [f"lower_{FIGURE_LEVEL}", f"upper_{FIGURE_LEVEL}", "pit"]
    misses = figs.loc[~bs.covered(figs, FIGURE_LEVEL), cols]
    print(f"Figures outside their {FIGURE_LEVEL}% interval ({len(misses)}):")
    print(misses.round(3).to_string(index=False) if len(misses) else "none")

# %%
if len(figs):
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), width_ratios=[3, 2])
    labels = [f"{q} (n={n})" for q, n in zip(by_kind["quantity"], by_kind["n"], strict=True)]
    y = np.arange(len(by_kind))
    axes[0].barh(y, 100 * by_kind["share_inside"])
    axes[0].axvline(FIGURE_LEVEL, color="black", linestyle="--", linewidth=1, label="nominal")
    axes[0].set_yticks(y, labels, fontsize=8)
    axes[0].set_xlim(0, 105)
    axes[0].set_xlabel(f"figures inside the {FIGURE_LEVEL}% predictive interval (%)")
    axes[0].set_title("Inside the interval, by kind of figure")
    axes[0].legend(fontsize=8)
    counts = pit_histogram(figs["pit"].to_numpy(), bins=10)
    axes[1].bar(np.arange(10) / 10 + 0.05, counts, width=0.09)
    axes[1].axhline(len(figs) / 10, color="black", linestyle="--", linewidth=1, label="uniform")
    axes[1].set_xlabel("PIT (share of predictive draws below the figure)")
    axes[1].set_ylabel("published figures")
    axes[1].set_title("Where figures fell in the predictive distribution")
    axes[1].legend(fontsize=8)
    fig.suptitle("Published figures before publication, REAL data")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# All interval levels at once: for the USD/RUB forecasts of each forecaster and for the
# published figures, the share of outcomes inside the central interval against its nominal
# level. On the diagonal is honest; below it, intervals are too narrow.

# %%
curve = bs.coverage_curve(run.scores)
print((100 * curve).round(0).to_string())
fig, ax = plt.subplots(figsize=(5.5, 4.5))
ax.plot([0, 100], [0, 100], color="grey", linewidth=1, label="honest (observed = nominal)")
for name, style in zip(curve.columns, ("o-", "s--", "^:"), strict=False):
    if curve[name].notna().any():
        ax.plot(curve.index, 100 * curve[name], style, label=name, markersize=7, alpha=0.8)
ax.set_xlim(40, 100)
ax.set_ylim(0, 105)
ax.set_xlabel("nominal level of the central interval (%)")
ax.set_ylabel("outcomes inside the interval (%)")
ax.set_title("Interval coverage against nominal, REAL data")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The backtest's own page (the one `nowcast backtest` writes, with PIT histograms, the figures
# one by one and every origin's diagnostics) is written beside the store:

# %%
paths = write_report(run)
print(paths.html)

# %% [markdown]
# ## 3. Simulation-based calibration (SIMULATED data)
#
# The backtest asks whether the nowcast was right about the real world. Simulation-based
# calibration (Talts et al. 2018) asks a narrower question: **if the world worked exactly as
# the model says, would the model's posterior be right?** Each dataset is drawn from the
# model's own prior (parameters, hidden inflow, every observation, with the real data's
# availability): SIMULATED data, where the true hidden inflow is known. Each is fitted like the
# real data, and the truth's rank among the posterior draws is recorded. If the inference is
# calibrated, that rank is uniform over datasets: the rank histograms are flat, and a 90%
# interval contains the truth in 90% of datasets. A failure here means the intervals would be
# wrong even with a perfect model; a pass does not mean the model is right about Russia (that
# is what sections 1 and 2 test). Nothing simulated enters the store's figures: each dataset
# lives in a temporary store, only the ranks are kept.

# %%
if mode.quick:
    calibration = CalibrationPlan(
        str(mode.store_dir),
        n=3,
        months=6,  # the shortest the calibration allows
        start=mode.start,
        sampler=sampler_settings(spec, draws=20, tune=60, chains=2),
        rank_draws=19,
    )
else:
    calibration = CalibrationPlan(  # the settings of `nowcast calibrate --n 50`
        str(mode.store_dir),
        n=MIN_DATASETS,
        sampler=sampler_settings(spec, draws=250, tune=400, chains=2),
    )
s = calibration.sampler
print(
    f"SIMULATED: {calibration.n} datasets of {calibration.months} months from"
    f" {calibration.start}, each fitted with {s.chains} chains x {s.draws} draws;"
    f" ranks among {calibration.rank_draws} thinned draws"
)
sbc = run_calibration(calibration, notify=print, **where)
if cluster is not None:
    cluster.close()
print(
    f"Calibration {sbc.calibration_id} (SIMULATED data): {len(sbc.ran)} run,"
    f" {len(sbc.reused)} reused, {sbc.seconds:.0f} s"
)
for i, why in sbc.failed.items():
    print(f"dataset {i} FAILED: {why}")
ok = sbc.ranks.drop_duplicates("dataset")["diagnostics_ok"] if len(sbc.ranks) else pd.Series()
print(f"{int(ok.sum())} of {len(ok)} simulated fits passed their convergence checks")

# %%
uni = uniformity(sbc.ranks) if len(sbc.ranks) else pd.DataFrame()
if len(uni):
    table = uni[["quantity", "datasets", "chi_square", "p_value"]].copy()
    for k in LEVELS:
        table[f"{k}% coverage"] = uni[f"coverage_{k}"]
        table[f"{k}% ok"] = uni[f"coverage_{k}_ok"]
    print("SIMULATED data: uniformity of ranks and interval coverage of the truth")
    print(table.round(3).to_string(index=False))
    print()
for sentence in calibration_sentences(uni):
    print("*", sentence)

# %%
if len(uni):
    n_q = len(uni)
    fig, axes = plt.subplots((n_q + 1) // 2, 2, figsize=(11, 3.2 * ((n_q + 1) // 2)))
    for ax, r in zip(np.ravel(axes), uni.itertuples(index=False), strict=False):
        counts = np.asarray(r.rank_counts, dtype=float)
        expected = r.datasets / RANK_BINS
        half = 2.576 * np.sqrt(expected * (1 - 1 / RANK_BINS))  # 99% band of a uniform bin
        ax.axhspan(max(expected - half, 0), expected + half, color="0.88", label="99% band")
        ax.bar(np.arange(RANK_BINS), counts, width=0.9)
        ax.axhline(expected, color="black", linestyle="--", linewidth=1, label="uniform")
        ax.set_title(f"SIMULATED: {r.quantity} (chi-square p = {r.p_value:.2f})", fontsize=9)
        ax.set_xticks(range(RANK_BINS), [str(i + 1) for i in range(RANK_BINS)])
        ax.set_xlabel("rank of the truth among posterior draws (bin; 1 = lowest)")
        ax.set_ylabel("simulated datasets")
        ax.legend(fontsize=7)
    for ax in np.ravel(axes)[n_q:]:
        ax.set_visible(False)
    fig.suptitle(f"SIMULATED data: rank histograms over {int(uni['datasets'].max())} datasets")
    fig.tight_layout()
    plt.show()

# %%
page = write_calibration_report(sbc)
print(page.html)

# %% [markdown]
# ## Versions this notebook ran with

# %%
for pkg in ("nowcast", "pymc", "pytensor", "arviz", "nutpie", "distributed", "pandas", "numpy"):
    print(f"{pkg} {md.version(pkg)}")

# %% [markdown]
# ## What we learned
#
# The statements below are computed from this run's numbers, not written in advance: rerun the
# notebook and they follow the numbers. In quick mode they rest on two origins and a handful
# of simulated datasets, so they say what the machinery computes, not whether the nowcast can
# be trusted; the full run (`make notebooks`) is the one to read.

# %%
learned = []
if mode.quick:
    learned.append(
        "QUICK mode: every number below rests on far too few origins, datasets and draws to"
        " judge the nowcast; run the notebook in full mode for the verdict."
    )
for r in summary.itertuples(index=False):
    v = bs.ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper)
    lower = "the model" if r.crps_model < r.crps_rw else "the random walk"
    thin = (
        f" (only {r.origins} origins, fewer than {MIN_ORIGINS}: not evidence either way)"
        if r.origins < MIN_ORIGINS
        else ""
    )
    learned.append(
        f"USD/RUB {r.horizon} month(s) ahead, {r.origins} origin(s) of REAL data: {lower} had"
        f" the lower mean CRPS (ratio model / random walk {r.ratio:.2f},"
        f" 90% interval [{r.ratio_lower:.2f}, {r.ratio_upper:.2f}]): {v}{thin}."
    )
if len(summary):
    cov_m = bs.covered(usd[usd["model"] == MODEL], 80)
    cov_w = bs.covered(usd[usd["model"] == RANDOM_WALK], 80)
    if cov_m.mean() < cov_w.mean():
        how = "less often than the random walk's"
    elif cov_m.mean() > cov_w.mean():
        how = "more often than the random walk's"
    else:
        how = "as often as the random walk's"
    learned.append(
        f"The model's 80% USD/RUB intervals held the published rate in {int(cov_m.sum())} of"
        f" {len(cov_m)} forecasts ({pct(cov_m.mean())}), {how} ({pct(cov_w.mean())}); nominal 80%."
    )
    beaten = [
        int(r.horizon)
        for r in summary.itertuples(index=False)
        if bs.ratio_verdict(r.ratio, r.ratio_lower, r.ratio_upper) == bs.RW_BETTER
    ]
    if beaten and few >= MIN_ORIGINS:
        learned.append(
            f"The random walk beat the model at h = {', '.join(map(str, beaten))}: for USD/RUB at"
            " those horizons, the free benchmark is the better forecast."
        )
    elif beaten:
        learned.append(
            f"By the verdict rule the random walk beat the model at h ="
            f" {', '.join(map(str, beaten))}, but on {few} origin(s) that rule cannot be trusted."
        )
if len(figs):
    inside = bs.covered(figs, FIGURE_LEVEL)
    learned.append(
        f"Published figures: {int(inside.sum())} of {len(figs)} ({pct(inside.mean())}) fell"
        f" inside the {FIGURE_LEVEL}% interval the nowcast gave before they came out (nominal"
        f" {FIGURE_LEVEL}%)."
    )
    worst = by_kind.sort_values("share_inside").iloc[0]
    if worst["share_inside"] < FIGURE_PROB:
        learned.append(
            f"The kind of figure covered least often: {worst['quantity']},"
            f" {int(worst['inside'])} of {int(worst['n'])} inside"
            f" (mean PIT {worst['mean_pit']:.2f})."
        )
if len(uni):
    bad = uni[uni["p_value"] < 0.01]["quantity"].tolist()
    off = [
        r.quantity
        for r in uni.itertuples(index=False)
        if not all(getattr(r, f"coverage_{k}_ok") for k in LEVELS)
    ]
    n_sets = int(uni["datasets"].max())
    learned.append(
        f"SIMULATED calibration over {n_sets} dataset(s): ranks "
        + (
            f"not uniform for {', '.join(bad)}"
            if bad
            else "consistent with uniform for every quantity"
        )
        + "; intervals "
        + (
            f"off their nominal level for {', '.join(off)}"
            if off
            else "covering the truth as often as stated"
        )
        + f" (thresholds: chi-square p < {UNIFORM_P} and a binomial 99% band)."
    )
    if n_sets < MIN_DATASETS:
        learned.append(
            f"With {n_sets} simulated datasets (fewer than {MIN_DATASETS}, five per rank bin) the"
            " calibration can only catch gross failures: passing it here proves little."
        )
failed_fits = int((~run.origins["diagnostics_ok"].astype(bool)).sum()) if len(run.origins) else 0
if failed_fits:
    learned.append(
        f"{failed_fits} of {len(run.origins)} backtest origins failed their convergence checks;"
        " their scores are included above."
    )
for line in learned:
    print("*", line)
