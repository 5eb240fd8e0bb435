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
# # 4. Forecasts and scenarios
#
# **Questions: where are the hidden mining inflow and the ruble heading over the next six
# months, how uncertain is that, how do they respond to a fall in the Bitcoin price or in oil,
# and what does the hidden inflow change in the ruble forecast?**
#
# The forecasts carry each posterior draw of the fitted model forward through the model's own
# equations (`nowcast.forecast`): Russia's hashrate share, the mining fleet's power and
# electricity bill, the hidden inflow, and the ruble equation (monthly change of USD/RUB = oil
# term + key-rate term - gamma x hidden inflow + a heavy-tailed shock). The drivers the model
# takes as given go forward by simple random walks fitted to the last 36 months (BTC price and
# network hashrate with drift, Brent without), the key rate is held at its last value, and a
# scenario fixes the BTC price or Brent path instead. All data are **real** (`data/SOURCES.md`).
#
# Open it with `jupytext --to notebook notebooks/04_forecasts.py` or run it as a script.
# `NOWCAST_QUICK=1` fits a short window with few draws: its numbers show the mechanics, not
# the nowcast. The notebook fits twice: the default model (unless the store already holds a
# run) and the same model without the inflow in the ruble equation.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nowcast import pipeline
from nowcast.errors import NowcastError
from nowcast.fit import inflow_summary, load_run, read_diagnostics
from nowcast.forecast import forecast, load_scenario, summarise
from nowcast.identify import DATA_SAY, PARTLY, narrowing
from nowcast.intervals import interval_summary
from nowcast.model.spec import spec_of
from nowcast.notebooks import current_run, notebook_mode

mode = notebook_mode()
print(mode.banner())
run_path, tree = current_run(mode)
spec = spec_of(tree)
panel = tree["panel"].to_dataset()  # the panel the run was fitted to
fitted_months = pd.DatetimeIndex(tree["posterior"]["month"].values)
n_draws = tree["posterior"].sizes["chain"] * tree["posterior"].sizes["draw"]
print(
    f"Run {run_path.name}: spec {spec.name}, {tree.attrs['data_kind']} data as of"
    f" {tree.attrs['data_as_of']}, fitted {fitted_months[0]:%Y-%m}..{fitted_months[-1]:%Y-%m},"
    f" {n_draws} posterior draws"
)
diagnostics = read_diagnostics(run_path, spec)
if diagnostics is not None:
    print("convergence checks passed:", diagnostics.ok)
    for problem in diagnostics.problems:
        print(" -", problem[:160] + ("..." if len(problem) > 160 else ""))

# %% [markdown]
# ## 1. The baseline forecast
# Six months after the last fitted month. Each row summarises the forecast paths (one per
# posterior draw): the median and the central 50%, 80% and 95% intervals. USD/RUB is the
# monthly mean of the Bank of Russia's official rate, in roubles per dollar; the hidden
# inflow is in USD million per month.

# %%
HORIZON = 6
HISTORY = 36  # months of history shown in the charts
BANDS = (50, 80, 95)

forecasts = pipeline.make_forecasts(tree, horizon=HORIZON)
base = forecasts[pipeline.BASELINE]
seed = int(base.attrs["seed"])  # every forecast below uses the same seed: paired paths
rub_fc = summarise(base, "usd_rub")
inflow_fc = summarise(base, "hidden_inflow_usd") / 1e6


def interval_table(table: pd.DataFrame, digits: int) -> pd.DataFrame:
    """Median and central intervals as text, one column each, months as YYYY-MM."""
    out = pd.DataFrame({"median": table["median"].round(digits)})
    for k in BANDS:
        lo, hi = table[f"lower_{k}"], table[f"upper_{k}"]
        out[f"{k}% interval"] = [
            f"{a:,.{digits}f} to {b:,.{digits}f}" for a, b in zip(lo, hi, strict=True)
        ]
    out.index = out.index.strftime("%Y-%m")
    return out


print("USD/RUB, RUB per USD (monthly mean)")
print(interval_table(rub_fc, 1).to_string())
print("\nHidden mining inflow, USD million per month")
print(interval_table(inflow_fc, 0).to_string())

# %% [markdown]
# ## 2. Fan charts: history and forecast
# USD/RUB history is the published monthly mean. The inflow is never observed: its history
# is the model's nowcast (posterior), drawn with the same bands as the forecast. The dashed
# line marks the last fitted month.

# %%
rub_hist = panel["usd_rub_mean"].to_series().dropna().iloc[-HISTORY:]
inflow_hist = (inflow_summary(tree) / 1e6).iloc[-HISTORY:]
last_month = fitted_months[-1]


def fan(ax, table: pd.DataFrame, color: str, label: str) -> None:
    """Median and 50/80/95% bands of an interval table (``summarise``'s columns)."""
    for k, alpha in zip(BANDS, (0.45, 0.3, 0.15), strict=True):
        ax.fill_between(
            table.index,
            table[f"lower_{k}"],
            table[f"upper_{k}"],
            color=color,
            alpha=alpha,
            lw=0,
            label=f"{label}: {k}% band",
        )
    ax.plot(table.index, table["median"], color=color, lw=1.8, label=f"{label}: median")


# the forecast fan starts from the last observed rate, so it joins the history
start_row = pd.DataFrame({c: [rub_hist.iloc[-1]] for c in rub_fc.columns}, index=[last_month])
fig, ax = plt.subplots(figsize=(9, 4))
ax.plot(rub_hist.index, rub_hist.values, color="black", lw=1.5, label="published monthly mean")
fan(ax, pd.concat([start_row, rub_fc]), "tab:blue", "forecast")
ax.axvline(last_month, color="grey", ls="--", lw=1)
ax.set_title(f"USD/RUB: history and {HORIZON}-month forecast (real data)")
ax.set_xlabel("month")
ax.set_ylabel("RUB per USD, monthly mean")
ax.legend(loc="upper left", fontsize=8)
fig.tight_layout()
plt.show()

# %%
fig, ax = plt.subplots(figsize=(9, 4))
fan(ax, inflow_hist, "tab:grey", "nowcast (posterior)")
fan(ax, pd.concat([inflow_hist.iloc[[-1]], inflow_fc]), "tab:orange", "forecast")
ax.axvline(last_month, color="grey", ls="--", lw=1)
ax.set_title(f"Hidden mining inflow: nowcast and {HORIZON}-month forecast (real data)")
ax.set_xlabel("month")
ax.set_ylabel("USD million per month")
ax.set_ylim(bottom=0)
ax.legend(loc="upper left", fontsize=8, ncol=2)
fig.tight_layout()
plt.show()

# %%
end = rub_fc.index[-1]


def width(table: pd.DataFrame, k: int, month: pd.Timestamp) -> float:
    return float(table.loc[month, f"upper_{k}"] - table.loc[month, f"lower_{k}"])


def signed(x: float, digits: int) -> str:
    """``x`` with its sign, rounded (no "-0")."""
    return f"{round(float(x), digits) + 0.0:+.{digits}f}"


def band80(table: pd.DataFrame, month: pd.Timestamp, digits: int) -> str:
    """The 80% interval of ``month`` as signed text."""
    lo, hi = table.loc[month, "lower_80"], table.loc[month, "upper_80"]
    return f"{signed(lo, digits)} to {signed(hi, digits)}"


print(
    f"USD/RUB: last published monthly mean {rub_hist.iloc[-1]:.1f} ({rub_hist.index[-1]:%Y-%m});"
    f" forecast for {end:%Y-%m}: median {rub_fc.loc[end, 'median']:.1f}, 80% interval"
    f" {rub_fc.loc[end, 'lower_80']:.1f} to {rub_fc.loc[end, 'upper_80']:.1f}"
    f" ({width(rub_fc, 80, end) / rub_fc.loc[end, 'median']:.0%} of the median wide)."
)
print(
    f"Hidden inflow: nowcast for {last_month:%Y-%m}: median"
    f" {inflow_hist.loc[last_month, 'median']:.0f} USD m (80%:"
    f" {inflow_hist.loc[last_month, 'lower_80']:.0f} to"
    f" {inflow_hist.loc[last_month, 'upper_80']:.0f}); forecast for {end:%Y-%m}: median"
    f" {inflow_fc.loc[end, 'median']:.0f} USD m (80%: {inflow_fc.loc[end, 'lower_80']:.0f} to"
    f" {inflow_fc.loc[end, 'upper_80']:.0f})."
)

# %% [markdown]
# ## 3. Scenarios: a Bitcoin slump and an oil slump
# A scenario is a small TOML file fixing a driver's monthly path (the format `nowcast run
# --scenario FILE` reads; see README.md). We write two, relative to the last month the model
# saw: the BTC price 30% below its last monthly mean, and Brent 20% below its last monthly
# mean, each held flat over the horizon; every other driver follows its baseline paths. All
# three forecasts use the same seed, so for each posterior draw the scenario and the baseline
# share their random paths: the difference, draw by draw, is the scenario's effect alone.

# %%
BTC_FACTOR, BRENT_FACTOR = 0.7, 0.8
months = pd.DatetimeIndex(base["month"].values)
last_btc = float(panel["btc_price_usd"].to_series().dropna().iloc[-1])
last_brent = float(panel["brent_usd_per_bbl"].to_series().dropna().iloc[-1])
scenario_dir = Path(tempfile.mkdtemp(prefix="nowcast-scenarios-"))


def write_scenario(name: str, driver: str, value: float) -> Path:
    """A scenario file holding ``driver`` at ``value`` in every forecast month."""
    lines = [f'name = "{name}"', "", f"[{driver}]"]
    lines += [f'"{m:%Y-%m}" = {value:.1f}' for m in months]
    path = scenario_dir / f"{driver}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


btc_level = round(last_btc * BTC_FACTOR, -3)
brent_level = round(last_brent * BRENT_FACTOR * 2) / 2
files = {
    "btc_price_usd": write_scenario(f"BTC at USD {btc_level:,.0f}", "btc_price_usd", btc_level),
    "brent_usd_per_bbl": write_scenario(
        f"Brent at USD {brent_level:.1f} a barrel", "brent_usd_per_bbl", brent_level
    ),
}
print(files["btc_price_usd"].read_text())
scenarios = {driver: load_scenario(path) for driver, path in files.items()}
scenario_fc = {d: forecast(tree, HORIZON, s, seed=seed) for d, s in scenarios.items()}
print(
    f"last monthly means ({last_month:%Y-%m}): BTC USD {last_btc:,.0f}, Brent USD {last_brent:.2f}"
)

# %%
rows = []
for driver, sc in scenario_fc.items():
    d_inflow = interval_summary(
        (sc["hidden_inflow_usd"] - base["hidden_inflow_usd"]) / 1e6, "sample"
    )
    d_rub = interval_summary(sc["usd_rub"] - base["usd_rub"], "sample")
    for m in months:
        rows.append(
            {
                "scenario": sc.attrs["scenario"],
                "month": f"{m:%Y-%m}",
                "driver, baseline median": float(base[driver].sel(month=m).median()),
                "driver, scenario": float(sc[driver].sel(month=m).median()),
                "inflow median, baseline (USD m)": inflow_fc.loc[m, "median"],
                "inflow median, scenario (USD m)": float(
                    sc["hidden_inflow_usd"].sel(month=m).median()
                )
                / 1e6,
                "inflow difference, median (USD m)": d_inflow.loc[m, "median"],
                "inflow difference, 80%": band80(d_inflow, m, 0),
                "USD/RUB median, baseline": rub_fc.loc[m, "median"],
                "USD/RUB median, scenario": float(sc["usd_rub"].sel(month=m).median()),
                "USD/RUB difference, median (RUB)": d_rub.loc[m, "median"],
                "USD/RUB difference, 80%": band80(d_rub, m, 2),
            }
        )
scenario_table = pd.DataFrame(rows).set_index(["scenario", "month"])
print("Driver: BTC price in USD for the BTC scenario, Brent in USD per barrel for the oil one.")
print("Differences are scenario minus baseline, draw by draw (same random paths).")
scenario_table.round(2)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
colors = {"btc_price_usd": "tab:orange", "brent_usd_per_bbl": "tab:green"}
effects = {}
for driver, sc in scenario_fc.items():
    name = sc.attrs["scenario"]
    diffs = {
        "inflow": interval_summary(
            (sc["hidden_inflow_usd"] - base["hidden_inflow_usd"]) / 1e6, "sample"
        ),
        "usd_rub": interval_summary(sc["usd_rub"] - base["usd_rub"], "sample"),
    }
    effects[driver] = diffs
    for ax, table in zip(axes, diffs.values(), strict=True):
        ax.fill_between(
            table.index,
            table["lower_80"],
            table["upper_80"],
            color=colors[driver],
            alpha=0.25,
            lw=0,
            label=f"{name}: 80% band",
        )
        ax.plot(
            table.index, table["median"], color=colors[driver], marker="o", label=f"{name}: median"
        )
for ax in axes:
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("forecast month")
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(fontsize=8)
axes[0].set_title("Hidden inflow: scenario minus baseline")
axes[0].set_ylabel("USD million per month")
axes[1].set_title("USD/RUB: scenario minus baseline")
axes[1].set_ylabel("RUB per USD (positive: weaker ruble)")
fig.suptitle("Scenario effects, paired draw by draw (real data)")
fig.tight_layout()
plt.show()

# %%
for driver, diffs in effects.items():
    name = scenario_fc[driver].attrs["scenario"]
    inflow_d, rub_d = diffs["inflow"].loc[end], diffs["usd_rub"].loc[end]
    print(
        f"{name}, {end:%Y-%m}: inflow {signed(inflow_d['median'], 0)} USD m against the baseline"
        f" (80%: {signed(inflow_d['lower_80'], 0)} to {signed(inflow_d['upper_80'], 0)}, i.e."
        f" {inflow_d['median'] / inflow_fc.loc[end, 'median']:+.0%} of the baseline median);"
        f" USD/RUB {signed(rub_d['median'], 2)} RUB (80%: {signed(rub_d['lower_80'], 2)} to"
        f" {signed(rub_d['upper_80'], 2)})."
    )
# the oil scenario moves the ruble through the fitted oil elasticity of USD/RUB
oil_prior = spec.priors["ruble_oil_beta"]
oil_q = tree["posterior"]["ruble_oil_beta"].quantile([0.05, 0.5, 0.95]).values
oil_reading = (
    "cheaper oil, weaker ruble (the prior's sign)"
    if oil_q[1] < 0
    else "in this window cheaper oil went with a stronger ruble, against the prior's sign"
)
if oil_q[0] < 0 < oil_q[2]:
    oil_reading = (
        "its 90% interval spans zero, so even the sign is uncertain; the median says: "
        + oil_reading
    )
print(
    f"Fitted oil elasticity of USD/RUB: median {oil_q[1]:+.3f}, 90% interval {oil_q[0]:+.3f} to"
    f" {oil_q[2]:+.3f} (prior {oil_prior.describe()}): {oil_reading}."
)

# %% [markdown]
# ## 4. What the hidden inflow changes in the ruble forecast
# In the default model the hidden inflow enters the ruble equation with a response gamma
# (USD 1 bn a month of inflow lowers USD/RUB's monthly log change by gamma; the prior keeps
# gamma positive and small). The variant `no_ruble_inflow` is the same spec with that term
# switched off: its ruble moves with oil, the key rate and its shocks only, and the inflow is
# still inferred from the other evidence. We fit it to the same panel with this mode's sampler
# settings (a variant fitted earlier to the same data with the same settings is reused),
# forecast it with the same seed and compare the two USD/RUB forecasts: medians, 80% interval
# widths, and how much of each difference is mere sampling noise.
#
# First, what the default fit learned about gamma, and how large a push the inflow gives the
# ruble at the last fitted month (gamma x inflow, per draw).

# %%
post = tree["posterior"]
gamma = post["ruble_gamma"]
push = (gamma * post["hidden_inflow_usd"].sel(month=last_month) / 1e9) * 100  # % per month
gamma_q = gamma.quantile([0.05, 0.5, 0.95]).values
push_q = push.quantile([0.1, 0.5, 0.9]).values
gamma_narrowing = float(narrowing(tree, ["ruble_gamma"])["narrowing"].iloc[0])
print(
    f"gamma (per USD bn a month): median {gamma_q[1]:.4f}, 90% interval {gamma_q[0]:.4f} to"
    f" {gamma_q[2]:.4f}; narrowing against its prior: {gamma_narrowing:.2f}"
    " (0: the data taught nothing, 1: pinned down)"
)
print(
    f"push of the {last_month:%Y-%m} inflow on USD/RUB: median {push_q[1]:.2f}% a month"
    f" (80%: {push_q[0]:.2f}% to {push_q[2]:.2f}%), toward a stronger ruble"
)

# %%
variant = spec.without_ruble_inflow()
variant_sampler = mode.sampler(variant)
# the variant's runs live beside the store's own (store/variants/runs/), so that they never
# become the store's current run for other notebooks
variant_root = mode.store_dir / "variants"


def reusable_variant() -> tuple[Path, object] | None:
    """A variant run fitted earlier to the same data with the same settings, if any."""
    for posterior in sorted((variant_root / "runs").glob("*/posterior.nc"), reverse=True):
        try:
            candidate = load_run(posterior, spec=variant)
        except NowcastError:
            continue
        same = candidate.attrs.get("data_digest") == tree.attrs.get("data_digest") and all(
            int(candidate.attrs[k]) == getattr(variant_sampler, k)
            for k in ("draws", "tune", "chains", "seed")
        )
        if same and np.array_equal(candidate["posterior"]["month"].values, fitted_months.values):
            return posterior.parent, candidate
    return None


reused = reusable_variant()
if reused is not None:
    variant_path, variant_tree = reused
    print("reusing the variant fitted earlier:", variant_path)
else:
    as_of = tree.attrs.get("data_as_of")
    as_of = None if as_of in (None, "", "latest") else str(as_of)
    fit_panel = pipeline.load_panel(mode.store_dir, as_of, start=fitted_months[0], spec=variant)
    same_panel = fit_panel.attrs.get("data_digest") == tree.attrs.get("data_digest") and (
        np.array_equal(fit_panel["month"].values, fitted_months.values)
    )
    if not same_panel:  # the store moved on since the run: fit to the run's own panel
        print("the store changed since the run; fitting the variant to the run's own panel")
        fit_panel = panel
    fitted_variant = pipeline.fit_and_save(
        fit_panel,
        variant,
        sampler=variant_sampler,
        store_dir=variant_root,
        prior_draws=mode.prior_draws,
    )
    variant_path, variant_tree = fitted_variant.path, fitted_variant.tree
    print(
        f"fitted {variant.name} on the same {fit_panel.sizes['month']} months; convergence"
        f" checks passed: {fitted_variant.diagnostics.ok}"
    )

without = pipeline.make_forecasts(variant_tree, horizon=HORIZON, seed=seed)[pipeline.BASELINE]
rub_without = summarise(without, "usd_rub")

# %%
compare = pd.DataFrame(
    {
        "median, with inflow": rub_fc["median"],
        "median, without": rub_without["median"],
        "median difference (with - without)": rub_fc["median"] - rub_without["median"],
        "80% width, with inflow": rub_fc["upper_80"] - rub_fc["lower_80"],
        "80% width, without": rub_without["upper_80"] - rub_without["lower_80"],
    }
)
compare["width ratio (with / without)"] = (
    compare["80% width, with inflow"] / compare["80% width, without"]
)


# Monte Carlo error: both forecasts rest on a finite number of draws, so part of any
# difference is sampling noise. Its size, by resampling the draws (bootstrap):
def median_gap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.median(a) - np.median(b))


def width_ratio(a: np.ndarray, b: np.ndarray) -> float:
    return float(
        np.subtract(*np.quantile(a, [0.9, 0.1])) / np.subtract(*np.quantile(b, [0.9, 0.1]))
    )


def bootstrap_sd(stat, a: np.ndarray, b: np.ndarray, reps: int = 300) -> float:
    rng = np.random.default_rng(seed)
    return float(np.std([stat(rng.choice(a, a.size), rng.choice(b, b.size)) for _ in range(reps)]))


pairs = [
    (base["usd_rub"].sel(month=m).values, without["usd_rub"].sel(month=m).values) for m in months
]
compare["Monte Carlo sd of the difference"] = [bootstrap_sd(median_gap, a, b) for a, b in pairs]
compare["Monte Carlo sd of the ratio"] = [bootstrap_sd(width_ratio, a, b) for a, b in pairs]
compare.index = compare.index.strftime("%Y-%m")
print("USD/RUB forecast, RUB per USD: the default model against the model without the inflow")
compare.round(2)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
ax = axes[0]
recent = rub_hist.iloc[-12:]
ax.plot(recent.index, recent.values, color="black", lw=1.5, label="published monthly mean")
for table, color, label in (
    (rub_fc, "tab:blue", "with the inflow"),
    (rub_without, "tab:red", "without the inflow"),
):
    joined = pd.concat([start_row, table])
    ax.fill_between(
        joined.index,
        joined["lower_80"],
        joined["upper_80"],
        color=color,
        alpha=0.2,
        lw=0,
        label=f"{label}: 80% band",
    )
    ax.plot(joined.index, joined["median"], color=color, lw=1.8, label=f"{label}: median")
ax.axvline(last_month, color="grey", ls="--", lw=1)
ax.set_title("USD/RUB forecast with and without the hidden inflow")
ax.set_xlabel("month")
ax.set_ylabel("RUB per USD, monthly mean")
ax.legend(loc="upper left", fontsize=8)
ax = axes[1]
steps = np.arange(1, HORIZON + 1)
ax.plot(
    steps, compare["80% width, with inflow"], color="tab:blue", marker="o", label="with the inflow"
)
ax.plot(
    steps, compare["80% width, without"], color="tab:red", marker="o", label="without the inflow"
)
ax.set_title("Width of the USD/RUB 80% interval")
ax.set_xlabel("months ahead")
ax.set_ylabel("RUB per USD")
ax.legend(fontsize=8)
fig.suptitle("What the hidden inflow changes in the ruble forecast (real data)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Versions this notebook ran with

# %%
import importlib.metadata as md  # noqa: E402

for pkg in ("nowcast", "pymc", "pytensor", "arviz", "nutpie", "xarray", "pandas", "numpy"):
    print(f"{pkg} {md.version(pkg)}")

# %% [markdown]
# ## What we learned
# The statements below are computed from this run; in quick mode they describe a short window
# fitted with few draws, not the nowcast.

# %%
findings = [mode.banner().split(":")[0] + "."]
if diagnostics is not None and not diagnostics.ok:
    findings.append(
        "The default fit did not pass its convergence checks, so read every number below as"
        " indicative only."
    )
findings.append(
    f"USD/RUB {HORIZON} months ahead ({end:%Y-%m}): median {rub_fc.loc[end, 'median']:.1f} RUB"
    f" per USD against {rub_hist.iloc[-1]:.1f} last published; the 80% interval is"
    f" {width(rub_fc, 80, end):.1f} RUB wide and the 95% interval {width(rub_fc, 95, end):.1f}"
    " RUB."
)
direction = (
    "rises" if inflow_fc.loc[end, "median"] > inflow_hist.loc[last_month, "median"] else "falls"
)
findings.append(
    f"The hidden inflow's median {direction} from {inflow_hist.loc[last_month, 'median']:.0f}"
    f" USD m ({last_month:%Y-%m}, itself a nowcast) to {inflow_fc.loc[end, 'median']:.0f} USD m"
    f" in {end:%Y-%m}, with an 80% interval of {inflow_fc.loc[end, 'lower_80']:.0f} to"
    f" {inflow_fc.loc[end, 'upper_80']:.0f} USD m."
)
for driver, diffs in effects.items():
    name = scenario_fc[driver].attrs["scenario"]
    inflow_d, rub_d = diffs["inflow"].loc[end], diffs["usd_rub"].loc[end]
    findings.append(
        f"Scenario '{name}': by {end:%Y-%m} the inflow moves {signed(inflow_d['median'], 0)} USD m"
        f" a month ({inflow_d['median'] / inflow_fc.loc[end, 'median']:+.0%}) and USD/RUB"
        f" {signed(rub_d['median'], 2)} RUB, against a baseline 80% interval"
        f" {width(rub_fc, 80, end):.1f} RUB wide."
    )
findings.append(
    f"The oil scenario moves the ruble through the fitted oil elasticity of USD/RUB (median"
    f" {oil_q[1]:+.3f}, 90% interval {oil_q[0]:+.3f} to {oil_q[2]:+.3f}): {oil_reading}."
)
diff_end = compare.iloc[-1]
noise = 2 * diff_end["Monte Carlo sd of the difference"]
size = abs(diff_end["median difference (with - without)"])
ratio = diff_end["width ratio (with / without)"]
ratio_noise = 2 * diff_end["Monte Carlo sd of the ratio"]
findings.append(
    f"gamma narrowed by {gamma_narrowing:.2f} against its prior"
    + (
        ": the ruble's own history says little about the inflow's effect; its prior sets it."
        if gamma_narrowing < PARTLY
        else ": the data say something, not much, about the inflow's effect on the ruble."
        if gamma_narrowing < DATA_SAY
        else ": the data say much about the inflow's effect on the ruble."
    )
)
findings.append(
    f"With the inflow in the ruble equation, the {end:%Y-%m} USD/RUB median differs from the"
    f" model without it by {diff_end['median difference (with - without)']:+.2f} RUB"
    + (
        f", within twice its Monte Carlo error ({noise:.2f} RUB): no difference this run can"
        " distinguish;"
        if size <= noise
        else f", beyond twice its Monte Carlo error ({noise:.2f} RUB);"
    )
    + f" the 80% interval is {ratio:.2f} times as wide as without it"
    + (
        f", within twice its Monte Carlo error ({ratio_noise:.2f}) of 1."
        if abs(ratio - 1) <= ratio_noise
        else f", beyond twice its Monte Carlo error ({ratio_noise:.2f}) from 1."
    )
    + " (The model without the inflow can absorb the inflow's average push in its intercept,"
    " so what differs comes mainly from the inflow's changes and its uncertainty.)"
)
for line in findings:
    print("-", line)
