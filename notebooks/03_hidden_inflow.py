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
# # 3. The hidden inflow
#
# **Question: how large is the hidden mining inflow month by month, what is it made of, and
# which of its numbers does the evidence pin down rather than the prior?**
#
# The inflow is F = C + psi x (M - C): the electricity bill C, paid in rubles and so
# converted, plus a fraction psi of the margin M - C (revenue M less the bill). This notebook
# reads the store's current fitted run on **real** data (fitting one first if there is none).

# %%
import matplotlib.pyplot as plt

from nowcast.fit import inflow_summary
from nowcast.identify import (
    ablation,
    add_log_densities,
    annual_inflow_interval,
    narrowing,
    regional_mining,
    sensitivity,
)
from nowcast.intervals import interval_summary
from nowcast.model.derived import unit_electricity
from nowcast.model.spec import load_spec
from nowcast.notebooks import current_run, notebook_mode

mode = notebook_mode()
print(mode.banner())
run_path, tree = current_run(mode)
print("run:", run_path.name, "|", tree.attrs.get("data_kind", "real"), "data")

# %% [markdown]
# ## The inflow over time, USD million per month

# %%
q = inflow_summary(tree) / 1e6
print(q[["lower_90", "median", "upper_90"]].tail(6).round(1).to_string())
fig, ax = plt.subplots(figsize=(9, 3.5))
ax.fill_between(q.index, q["lower_90"], q["upper_90"], alpha=0.25, label="90% interval")
ax.fill_between(q.index, q["lower_50"], q["upper_50"], alpha=0.4, label="50% interval")
ax.plot(q.index, q["median"], label="median")
ax.set_ylabel("USD million per month")
ax.set_xlabel("month")
ax.set_title("Hidden mining inflow, posterior (real data)")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## What it is made of: the electricity bill and the converted margin
# The bill is what miners must convert to pay for power; the margin's converted part rests on
# psi, which nothing public measures.

# %%
post = tree["posterior"]
bill = post["electricity_cost_usd_bn"] * 1e3  # USD million
margin = post["hidden_inflow_usd"] / 1e6 - bill
parts = {
    "electricity bill": interval_summary(bill, ("chain", "draw")),
    "converted margin": interval_summary(margin, ("chain", "draw")),
}
fig, ax = plt.subplots(figsize=(9, 3.5))
for (label, s), colour in zip(parts.items(), ("tab:orange", "tab:green"), strict=True):
    ax.fill_between(s.index, s["lower_80"], s["upper_80"], color=colour, alpha=0.3)
    ax.plot(s.index, s["median"], color=colour, label=f"{label} (median, 80%)")
ax.set_ylabel("USD million per month")
ax.set_xlabel("month")
ax.set_title("The inflow's two parts (real data)")
ax.legend()
fig.tight_layout()
share_bill = float((bill.sum("month") / (post["hidden_inflow_usd"].sum("month") / 1e6)).median())
print(f"the bill's share of the window's inflow, posterior median: {share_bill:.0%}")

# %% [markdown]
# ## By year
# Complete years in the window, USD bn, with 90% intervals.

# %%
annual = annual_inflow_interval(tree)
print(annual.round(2).to_string(index=False) if len(annual) else "no complete year in the window")

# %% [markdown]
# ## Where the mining is: regions
# Each modelled region's consumption is its baseline (level, growth and seasonal shape pooled
# within its united energy system and across systems) plus its share of the mining power.
# Comparison regions carry no mining: they teach what ordinary growth looks like. The table
# ranks the units by their mining load over the last 12 fitted months and says whether the
# data or only the prior place it there.

# %%
loads = regional_mining(tree)
print(
    loads[["region", "load_gw_median", "load_gw_lower_90", "load_gw_upper_90", "said_by"]]
    .round(3)
    .to_string(index=False)
)
top = [r for r in loads["region"] if not r.endswith("-REST")][:6]
# consumption by region is rebuilt from the parameters the fit keeps (the model's equations)
grids = unit_electricity(post.to_dataset(), top)
total = interval_summary(grids["electricity_twh"], ("chain", "draw"))
base = interval_summary(grids["electricity_baseline_twh"], ("chain", "draw"))
fig, axes = plt.subplots(2, 3, figsize=(11, 5.5), sharex=True)
for ax, region in zip(axes.ravel(), top, strict=False):
    t, b = total.xs(region, level="region"), base.xs(region, level="region")
    ax.fill_between(t.index, t["lower_80"], t["upper_80"], alpha=0.25, label="consumption, 80%")
    ax.plot(t.index, t["median"], label="consumption, median")
    ax.plot(b.index, b["median"], "k--", lw=0.8, label="baseline without mining")
    ax.set_title(region, fontsize=9)
    ax.set_ylabel("TWh per month")
axes.ravel()[0].legend(fontsize=7)
fig.suptitle("Electricity by region: the six largest mining loads (real data)")
fig.tight_layout()
by_data = loads.loc[loads["said_by"] == "the data", "region"].tolist()
print("units whose mining load the data place:", ", ".join(by_data) or "none")

# %% [markdown]
# ## Identification: what the data say and what only the prior says
# *Narrowing* is 1 - posterior variance / prior variance: near 0 the evidence said nothing
# and the number is the prior's. *Power-scaling sensitivity* asks how much the posterior
# moves when the prior, or one kind of evidence, is made stronger or weaker: a quantity
# sensitive to the prior and to no evidence is one the data do not inform.

# %%
names = [
    "hidden_inflow_usd",
    "hashrate_share",
    "mining_power_gw",
    "psi_before",
    "psi_after",
    "ruble_gamma",
    "electricity_price_rub_per_kwh",
]
names = [n for n in names if n in post]
narrow = narrowing(tree, names).set_index("variable")["narrowing"]
print(narrow.round(2).to_string())
sens = sensitivity(add_log_densities(tree), names).set_index("variable")
print(sens.round(3).to_string())

# %% [markdown]
# ## Evidence ablation
# Refit without one kind of evidence and compare the annual inflow's 90% interval with the
# full fit's (`width_vs_all` > 1: that evidence narrows the interval). Quick mode leaves out
# one kind; full mode leaves out each kind in turn (`nowcast identify` does the same).

# %%
variants = ["no_hashrate_share"] if mode.quick else None
abl = ablation(tree["panel"].to_dataset(), variants, sampler=mode.sampler(load_spec()), full=tree)
print(abl.round(2).to_string(index=False))

# %%
weak = narrow[narrow < 0.2].index.tolist()
print("quantities the evidence barely informs (narrowing below 0.2):", ", ".join(weak) or "none")
wider = abl[abl["width_vs_all"] > 1.0]["evidence"].unique().tolist()
print("evidence whose removal widens an annual interval:", ", ".join(wider) or "none")

# %% [markdown]
# ## What we learned
# - The inflow's posterior and its 90% interval are printed and charted above, month by
#   month and by year; the interval is wide because the evidence is thin.
# - The electricity bill, which miners must convert, is most of the inflow (its share is
#   printed above); the converted margin rests on psi, which nothing public measures. The
#   cell above lists the quantities the evidence barely informs: for them the number is the
#   prior's, and the report says so.
# - Where the mining is: the ranked table of mining loads by region says which units the data
#   place load in and which only the prior does; the panels show each large load as the gap
#   between a region's consumption and the baseline its neighbours' growth implies.
# - The sensitivity table names, for each quantity, which kinds of evidence move it; the
#   ablation says how much wider the annual interval gets without one of them.
# - Next: notebook 4 carries the posterior forward into forecasts and scenarios.
