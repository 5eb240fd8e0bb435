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
# # A week of updates
#
# **The question.** A nowcast is made once and then kept current: every few days a new
# release lands (a month of on-chain data, the Bank of Russia's ruble rates, a balance of
# payments release, a regional electricity figure). **How does the nowcast of Russia's hidden
# mining inflow (USD per month) change as each release lands, and why?**
#
# We answer it by replaying history. We build a store holding the bundled **real** published
# data through June 2025 (every file cut at 30 June 2025), make a nowcast on it, and then let
# the later releases land **one at a time**, each through `nowcast update`'s Python API
# (`nowcast.update.update`), as a desk would run it each week. Every figure is real; only
# *when* it reaches the store is replayed (`nowcast.replay`). From the command line the same
# steps are `nowcast update FILE...` and `nowcast history --month 2025-07`.
#
# After each update we look at three things:
#
# 1. **which path the update took**: the *fast path* (the last run's draws carried forward
#    and importance-weighted by the likelihood of the new figures) or a *refit*, with the
#    Pareto k that decides between them (at most 0.7 for the fast path);
# 2. **the history**: every recorded nowcast and its estimate of each month, in the store;
# 3. **the news** (`revision.csv` in the run folder): how much each release moved the median
#    and the 80% interval's width of the latest month and the current quarter. The parts are
#    exact Shapley values, so they add up to the total revision.
#
# `NOWCAST_QUICK=1` (set by the tests) replays two releases on a short window with few draws
# (a minute or two); unset, six releases on the spec's window with its sampler settings (a
# full fit, six updates each of which writes a report, and a refit if one is needed: expect
# ten minutes or more on 2 cores).
# How the update works: `docs/UPDATES.md`.

# %%
import importlib.metadata as md
import json
import shutil
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nowcast import pipeline, replay
from nowcast.model.spec import load_spec
from nowcast.notebooks import notebook_mode
from nowcast.reweight import PARETO_K_MAX
from nowcast.store import Store
from nowcast.update import REVISION_FILE, UPDATE_FILE, Incoming, update

mode = notebook_mode()
print(mode.banner())
pd.set_option("display.width", 120)
pd.set_option("display.max_colwidth", 70)
MILLION = 1e6


# %% [markdown]
# ## 1. A store with the data through June 2025
#
# `replay.initial_data` writes a data folder holding every bundled file cut at 30 June 2025
# (each row by its own date; balance-of-payments releases by their publication date, so a
# figure for June that was published in early July is already in). The
# releases to come are written as files of their own by `replay.write_slice`: the rows of one
# bundled file for one month, exactly as the publisher's file would bring them.
#
# In full mode the replay also holds back Irkutsk's 2024 electricity figures (published
# before mid-2025) and lets them land as a release of their own: a figure that can pin down
# what the posterior had left wide. The quick replay keeps them in the data from the start.
#
# The replay lives in a folder of its own inside the notebook's store folder
# (`NOWCAST_STORE`), rebuilt each time the notebook runs: a store that already holds the later
# months would have nothing new to update with.

# %%
AS_OF = "2025-06-30"
ELECTRICITY = "electricity_published_points.csv"  # SO UPS and regional officials' figures
DRIVERS = ["usd_rub_cbr_daily.csv", "cbr_key_rate_daily.csv", "brent_monthly_eia.csv"]
ON_CHAIN = "coinmetrics_btc_daily.csv"

work = mode.store_dir / "replay_2025"
shutil.rmtree(work, ignore_errors=True)  # the notebook's own replay folder, rebuilt each run
store = work / "store"
releases_dir = work / "releases"


def month_release(name: str, month: str) -> Incoming:
    """One bundled file's rows for one month, as the release of that month."""
    first = pd.Timestamp(f"{month}-01")
    last = first + pd.offsets.MonthEnd(0)
    path = replay.write_slice(name, releases_dir, f"{first:%Y-%m-%d}", f"{last:%Y-%m-%d}")
    return Incoming(path, replay.source_of(name))


def bop_release(published: str) -> Incoming:
    """The Bank of Russia's balance-of-payments release of one day."""
    name = "bop_cbr_releases_2019_2025.csv"
    path = replay.write_slice(
        name, releases_dir, published, published, as_name=f"bop_release_{published}.csv"
    )
    return Incoming(path, replay.source_of(name))


def irkutsk_2024() -> Incoming:
    """Irkutsk's 2024 electricity consumption (two published figures that disagree)."""
    path = replay.write_slice(
        ELECTRICITY,
        releases_dir,
        "2024-01-01",
        "2024-12-31",
        as_name="irkutsk_electricity_2024.csv",
    )
    return Incoming(path, replay.source_of(ELECTRICITY))


# The releases to replay, in the order they land: (name, files).
if mode.quick:
    RELEASES = [
        ("Coin Metrics, July", lambda: [month_release(ON_CHAIN, "2025-07")]),
        ("ruble, key rate, Brent: July", lambda: [month_release(n, "2025-07") for n in DRIVERS]),
    ]
else:
    RELEASES = [
        ("Coin Metrics, July", lambda: [month_release(ON_CHAIN, "2025-07")]),
        ("ruble, key rate, Brent: July", lambda: [month_release(n, "2025-07") for n in DRIVERS]),
        ("August", lambda: [month_release(n, "2025-08") for n in [ON_CHAIN, *DRIVERS]]),
        ("balance of payments, 15 Sep", lambda: [bop_release("2025-09-15")]),
        ("Irkutsk electricity 2024", lambda: [irkutsk_2024()]),
        ("September", lambda: [month_release(n, "2025-09") for n in [ON_CHAIN, *DRIVERS]]),
    ]
names = [name for name, _ in RELEASES]
# Irkutsk's 2024 figures were public before mid-2025; when the replay includes them as a
# release, they are held back from the first nowcast to show what a surprising figure does.
cutoffs = {ELECTRICITY: "2023-12-31"} if "Irkutsk electricity 2024" in names else {}
data_dir = replay.initial_data(work / "data", AS_OF, cutoffs=cutoffs)
print(pipeline.ingest(data_dir, store))
print("releases to replay:", "; ".join(names))
if cutoffs:
    print("held back from the first nowcast:", cutoffs)

# %% [markdown]
# ## 2. The nowcast on the data through June 2025
#
# The first nowcast is fitted on that store (`pipeline.fit_and_save`), forecast six months
# ahead and recorded as the store's current nowcast (`pipeline.record`): the nowcast every
# update builds on. The window ends at the last month every driver reaches (the ragged edge).

# %%
spec = load_spec()
with Store(store, read_only=True) as st:
    last_ingest = st.last_ingest_id()  # what this nowcast rests on
panel = pipeline.load_panel(store, start=mode.start, spec=spec)
print(panel.attrs["data_kind"], "data;", panel.sizes["month"], "months in the window,")
window = pd.DatetimeIndex(panel["month"].values)
print(f"  {window[0]:%Y-%m} to {window[-1]:%Y-%m}")
fitted = pipeline.fit_and_save(
    panel, spec, sampler=mode.sampler(spec), store_dir=store, prior_draws=mode.prior_draws
)
print("sampler diagnostics ok:", fitted.diagnostics.ok)
for problem in fitted.diagnostics.problems:  # expected in quick mode: few draws
    print("  ", problem if len(problem) < 110 else problem[:107] + "...")
HORIZON = 6
forecasts = pipeline.make_forecasts(fitted.tree, horizon=HORIZON)
first_id = pipeline.record(fitted.tree, fitted.path, forecasts, store, last_ingest, HORIZON)
with Store(store, read_only=True) as st:
    first = st.estimates().query("nowcast_id == @first_id")
shown = first[["target", "status", "median", "lower_80", "upper_80"]].copy()
shown[["median", "lower_80", "upper_80"]] = (
    shown[["median", "lower_80", "upper_80"]] / MILLION
).round(1)
print("hidden inflow, USD million (months; the last fitted month, then the forecast):")
print(shown[first["freq"] == "month"].tail(HORIZON + 2).to_string(index=False))

# %% [markdown]
# ## 3. The releases land, one update each
#
# Each call stores the release's files as new vintages and updates the current nowcast. After
# each we print what was stored, the path taken and its Pareto k (the fast path needs
# k <= 0.7), the importance-sampling effective sample size (ESS), what the nowcast still waits
# for, and the news table in USD million.

# %%
results = []
for name, files in RELEASES:
    result = update(files(), store_dir=store)
    assert result.status == "updated", (name, result.status)  # every replayed release is new
    results.append((name, result))
    k = "n/a" if result.pareto_k is None else f"{result.pareto_k:.2f}"
    ess = "n/a" if result.ess is None else f"{result.ess:.0f}"
    print(f"=== {name}: {result.status}; path: {result.path}; Pareto k: {k}; ESS: {ess}")
    print("  stored:", ", ".join(result.stored) or "nothing new")
    if result.reason:
        print("  why it refitted:", result.reason)
    if result.waiting:
        print("  waits for:", "; ".join(result.waiting))
    table = result.revision.copy()
    table[["d_median_usd", "d_width80_usd"]] = table[["d_median_usd", "d_width80_usd"]] / MILLION
    table = table.rename(
        columns={"d_median_usd": "median moved (USD m)", "d_width80_usd": "80% width moved (USD m)"}
    )
    print(table.round(2).to_string(index=False), "\n")

# %% [markdown]
# ## 4. The path of each update, as recorded
#
# Each update writes `update.json` into its run folder: the path, its Pareto k and ESS, why
# it refitted, and the releases it rested on. The history table in the store records the same
# for every nowcast.

# %%
rows = []
for name, result in results:
    info = json.loads((result.run_path / UPDATE_FILE).read_text(encoding="utf-8"))
    rows.append(
        {
            "release": name,
            "path": info["path"],
            "pareto_k": info["pareto_k"],
            "ess": info["importance_ess"],
            "files": len(info["releases"]),
            "waiting_for": "; ".join(info["waiting_for"]) or "-",
            "why_refit": info["reason"] or "-",
        }
    )
paths = pd.DataFrame(rows)
print(paths.round(3).to_string(index=False))

# %% [markdown]
# ## 5. The history: every recorded nowcast
#
# `Store.nowcasts()` lists every nowcast the store recorded, oldest first, with its headline:
# the latest fitted month's hidden inflow. The first row is the nowcast on the data through
# June (path `run`); each update adds one row.

# %%
with Store(store, read_only=True) as st:
    history = st.nowcasts()
cols = [
    "nowcast_id",
    "path",
    "pareto_k",
    "fitted_through",
    "headline_month",
    "median",
    "lower_80",
    "upper_80",
]
hist = history[cols].copy()
hist[["median", "lower_80", "upper_80"]] = (
    hist[["median", "lower_80", "upper_80"]] / MILLION
).round(1)
hist["fitted_through"] = hist["fitted_through"].dt.strftime("%Y-%m")
made_by = {first_id: f"nowcast, data to {AS_OF}"} | {r.nowcast_id: n for n, r in results}
hist.insert(1, "release", hist["nowcast_id"].map(made_by))
print("headline: the latest fitted month's hidden inflow, USD million")
print(hist.to_string(index=False))

# %% [markdown]
# ## 6. One month across vintages
#
# July 2025 is the first month after the data's cut. The first nowcast could only *forecast*
# it; the updates carry that forecast forward until the drivers of July have all landed, and
# from then on July is *fitted*. `Store.estimates("2025-07")` gives its estimate in every
# recorded nowcast.

# %%
MONTH = "2025-07"
with Store(store, read_only=True) as st:
    july = st.estimates(MONTH)
july = july.assign(release=july["nowcast_id"].map(made_by))
cols = ["nowcast_id", "release", "path", "status", "median", "lower_80", "upper_80"]
july_table = july[cols].copy()
july_table[["median", "lower_80", "upper_80"]] = (
    july_table[["median", "lower_80", "upper_80"]] / MILLION
).round(1)
print(f"hidden inflow of {MONTH}, USD million, in each recorded nowcast")
print(july_table.to_string(index=False))

fig, ax = plt.subplots(figsize=(9, 4))
x = np.arange(len(july))
ax.plot(x, july["median"] / MILLION, color="grey", lw=0.8, zorder=0)
for status, marker in (("forecast", "o"), ("fitted", "s")):
    sel = (july["status"] == status).to_numpy()
    if sel.any():
        med = july["median"].to_numpy()[sel] / MILLION
        lo = july["lower_80"].to_numpy()[sel] / MILLION
        hi = july["upper_80"].to_numpy()[sel] / MILLION
        ax.errorbar(
            x[sel],
            med,
            yerr=[med - lo, hi - med],
            fmt=marker,
            capsize=4,
            mfc="white" if status == "forecast" else None,
            label=f"{status}: median and 80% interval",
        )
        for xi, m in zip(x[sel], med, strict=True):
            ax.annotate(f"{m:.1f}", (xi, m), xytext=(6, 0), textcoords="offset points", fontsize=7)
ax.set_xticks(
    x, [f"#{i}\n{r}" for i, r in zip(july["nowcast_id"], july["release"], strict=True)], fontsize=7
)
ax.set_xlim(-0.5, len(july) - 0.5)
ax.set_xlabel("recorded nowcast (and the release that made it)")
ax.set_ylabel("USD million per month")
ax.set_title(f"Hidden mining inflow of {MONTH} across vintages (real data)")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 7. The news: what moved the latest month
#
# For each update (one row of charts), the revision of the latest month's median (left) and
# of its 80% interval's width (right), split by release. Each bar is one part: a file's new
# driver months, its new or revised figures, figures stored earlier that only now enter the
# window, and one part for what reweighting cannot assign (the resampling of the draws, or
# after a refit the difference between two MCMC runs). The bars run from the previous
# nowcast's value to the new one, a waterfall; the blue bar is the total. Green raises the
# value, red lowers it. The parts are read back from each run folder's `revision.csv`, the
# file the report's table and waterfall are drawn from.

# %%
news = []
for i, (name, result) in enumerate(results, start=1):
    table = pd.read_csv(result.run_path / REVISION_FILE)
    news.append(table.assign(update=i, name=name, path=result.path))
news = pd.concat(news, ignore_index=True)

# the parts add up to the total, for every update, target and measure
check = []
for _, rows_t in news.groupby(["update", "target"]):
    parts = rows_t[rows_t["kind"] != "total"]
    total = rows_t[rows_t["kind"] == "total"].iloc[0]
    for col in ("d_median_usd", "d_width80_usd"):
        check.append(abs(parts[col].sum() - total[col]))
print(f"largest gap between the sum of the parts and the total: {max(check):.3g} USD")


def short(release: str) -> str:
    """A news row's label, wrapped to fit beside a bar."""
    return textwrap.fill(release, 42, max_lines=2, placeholder=" ...")


def waterfall(ax, labels: list[str], steps: np.ndarray, total: float, names: bool) -> None:
    """Bars from 0 to the total revision, one step per part, top to bottom (USD million)."""
    starts = np.concatenate([[0.0], np.cumsum(steps)[:-1]])
    y = np.arange(len(steps) + 1)
    ax.barh(y[:-1], steps, left=starts, color=["tab:green" if v >= 0 else "tab:red" for v in steps])
    ax.barh(y[-1], total, color="tab:blue")
    for yi, (left, step) in enumerate(zip(starts, steps, strict=True)):
        ax.text(left + step, yi, f" {step:+.2f}", va="center", fontsize=7)
    ax.text(total, y[-1], f" {total:+.2f}", va="center", fontsize=7, fontweight="bold")
    ax.set_yticks(y, [*labels, "total"] if names else [], fontsize=7)
    ax.set_ylim(len(steps) + 0.6, -0.6)  # the first part on top, the total at the bottom
    ax.axvline(0, color="grey", lw=0.8)
    ends = np.concatenate([[0.0, total], np.cumsum(steps)])
    pad = 0.3 * (ends.max() - ends.min()) or 1.0
    ax.set_xlim(ends.min() - 0.1 * pad, ends.max() + pad)
    if not np.any(steps) and total == 0:
        ax.text(0.5, 0.5, "no change", transform=ax.transAxes, ha="center", color="grey")


MEASURES = [
    ("d_median_usd", "median"),
    ("d_width80_usd", "80% interval width"),
]
fig, axes = plt.subplots(len(results), 2, figsize=(12, 1.0 + 2.4 * len(results)), squeeze=False)
for row, (i, (name, result)) in zip(axes, enumerate(results, start=1), strict=True):
    target = str(result.revision["target"].iloc[0])  # the latest month of this nowcast
    rows_t = news[(news["update"] == i) & (news["target"] == target)]
    parts = rows_t[rows_t["kind"] != "total"]
    k = "" if result.pareto_k is None else f", k = {result.pareto_k:.2f}"
    for j, (ax, (col, what)) in enumerate(zip(row, MEASURES, strict=True)):
        total = rows_t.loc[rows_t["kind"] == "total", col].iloc[0] / MILLION
        labels = [short(r) for r in parts["release"]]
        waterfall(ax, labels, parts[col].to_numpy() / MILLION, total, names=j == 0)
        ax.set_title(f"Update {i} ({name}; {result.path} path{k}): {what} of {target}", fontsize=8)
        ax.set_xlabel(f"change of the {what}, USD million per month", fontsize=8)
fig.suptitle("News: what moved the latest month's hidden inflow (real data)", fontsize=11)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 8. The facts this notebook found
#
# Computed from the updates above; each statement of the last section is checked here.

# %%
fast = paths[paths["path"] == "fast"]
refit = paths[paths["path"] == "refit"]
print(f"updates: {len(paths)}; fast path: {len(fast)}; refit: {len(refit)}")
if len(fast):
    print(f"largest Pareto k on the fast path: {fast['pareto_k'].max():.2f} (limit {PARETO_K_MAX})")
for r in refit.itertuples():
    print(f"refitted after '{r.release}': {r.why_refit}")

# July's on-chain data and July's ruble, key rate and Brent took the fast path
for name, result in results[:2]:
    assert result.path == "fast" and result.pareto_k <= PARETO_K_MAX, (name, result.reason)
# the on-chain month alone did not move the window: the month waited for the ruble
first_name, first_result = results[0]
assert any(w.startswith("usd_rub_mean for 2025-07") for w in first_result.waiting)
stayed = history.loc[history["nowcast_id"] == first_result.nowcast_id, "headline_month"].iloc[0]
assert stayed == "2025-06", stayed
print(
    f"'{first_name}' was stored, but the latest fitted month stayed {stayed}; it waited for:",
    "; ".join(first_result.waiting),
)

# July was a forecast until the release that completed it; fitted from then on
status_of = dict(zip(july["nowcast_id"], july["status"], strict=True))
assert status_of[first_id] == "forecast" and status_of[first_result.nowcast_id] == "forecast"
assert all(status_of[r.nowcast_id] == "fitted" for _, r in results[1:])
before, after = july.iloc[0], july.iloc[-1]
width_before = (before["upper_80"] - before["lower_80"]) / MILLION
width_after = (after["upper_80"] - after["lower_80"]) / MILLION
print(
    f"{MONTH}: forecast on the data to {AS_OF}: median {before['median'] / MILLION:.1f}, 80% width"
    f" {width_before:.1f}; latest nowcast ({after['status']}): median"
    f" {after['median'] / MILLION:.1f}, 80% width {width_after:.1f} (USD million)"
)

# the parts of the news add up to the total revision
assert max(check) <= 1e-6 * max(1.0, news["d_median_usd"].abs().max())

# which release part moved a latest-month median most
parts = news[(news["kind"] != "total") & (news["target"].str.len() == 7)]
top = parts.loc[parts["d_median_usd"].abs().idxmax()]
print(
    f"largest single part: {top['release']} in update {top['update']} ({top['name']}):"
    f" {top['d_median_usd'] / MILLION:+.2f} USD million on the median of {top['target']}"
)
# the on-chain data stored by the first update moved July only when July entered the window:
# the news of the update that completed the month credits it, marked "stored earlier"
second = results[1][1].revision
credited = second[second["release"].str.contains("stored earlier") & (second["target"] == MONTH)]
assert credited["release"].str.startswith(ON_CHAIN.removesuffix(".csv")).any()
print("credited to figures stored earlier, on the median of", MONTH, "(USD million):")
print((credited.set_index("release")["d_median_usd"] / MILLION).round(2).to_string())

# how far each update moved any recorded estimate (every month and quarter, fitted or
# forecast), against the nowcast before it
with Store(store, read_only=True) as st:
    every = st.estimates().pivot_table(index="target", columns="nowcast_id", values="median")
ids = [first_id, *[r.nowcast_id for _, r in results]]
largest_move = {}
for before_id, (name, result) in zip(ids[:-1], results, strict=True):
    both = every[[before_id, result.nowcast_id]].dropna()
    moved = (both[result.nowcast_id] - both[before_id]).abs()
    largest_move[name] = moved.max()
    if moved.max() < 1.0:  # USD: nothing moved
        print(f"{name}: none of the {len(both)} medians both nowcasts estimate changed")
    else:
        print(
            f"{name}: largest change of a median both nowcasts estimate:"
            f" {moved.max() / MILLION:.2f} USD million ({moved.idxmax()}; of {len(both)})"
        )
assert largest_move[first_name] < 1.0  # the on-chain month alone moved no estimate

# %% [markdown]
# ## Versions this notebook ran with

# %%
for pkg in ("nowcast", "pymc", "pytensor", "arviz", "nutpie", "xarray", "pandas", "numpy"):
    print(f"{pkg} {md.version(pkg)}")

# %% [markdown]
# ## What we learned
#
# Each statement below is checked by the cell of section 8 (an `assert`, so the notebook
# stops if the data ever say otherwise); the numbers behind them are printed there.
#
# - **An ordinary month of data costs a reweighting, not a fit.** July's on-chain data, and
#   then July's ruble, key rate and Brent, each took the fast path: the last run's draws,
#   carried forward through the model's own transitions and reweighted by the likelihood of
#   the new figures, with a Pareto k within the 0.7 limit up to which reweighted draws are
#   taken to stand for a refit (`docs/UPDATES.md` measures how close they come). The update
#   chooses the path itself; section 4 lists the path of every update, its Pareto k and the
#   reason for any refit.
# - **A month enters the nowcast only once all its drivers have landed.** The on-chain data
#   for July were stored, but the latest fitted month stayed June and the update named what
#   it waited for (the ruble's July mean among them). July stayed a forecast in that nowcast
#   and became a fitted month with the release that completed it.
# - **A release is credited when it counts, not when it is stored.** The on-chain file moved
#   no estimate when it was stored alone; the news of the update that completed July credits
#   its part of July's revision to it, marked "stored earlier".
# - **The history keeps every vintage.** `Store.nowcasts()` and `Store.estimates(month)` (the
#   same tables as `nowcast history --month 2025-07`) show how July 2025 moved from the
#   forecast made on the data through June to the latest fit, and which path made each step.
# - **The news explains each revision, and adds up.** Each update's `revision.csv` splits the
#   change of the median and of the 80% interval's width into one part per release (drivers
#   apart from evidence, new figures apart from revisions) plus one part that reweighting
#   cannot assign; for every update and target the parts sum to the total revision.
# - In quick mode (`NOWCAST_QUICK=1`) the window is short and the draws few: the numbers
#   show the mechanics, not the nowcast.
