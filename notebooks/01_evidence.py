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
# # 1. The evidence
#
# **Question: what does the public record say about Russian bitcoin mining, how far does each
# source reach, and where are the raw signs of mining before any model touches them?**
#
# Every number here is a **real** published figure bundled in `data/` (provenance in
# `data/SOURCES.md`). Nothing is simulated; a store holding simulated figures keeps them apart
# and labels them SIMULATED. Run it with `jupytext --to notebook notebooks/01_evidence.py`, as
# a script, or through `make notebooks`.

# %%
import matplotlib.pyplot as plt
import pandas as pd

from nowcast import pipeline
from nowcast.geography import load_geography
from nowcast.model.spec import load_spec
from nowcast.notebooks import ensure_data, notebook_mode
from nowcast.store import Store

mode = notebook_mode()
print(mode.banner())
ensure_data(mode)

# %% [markdown]
# ## Every source, what kind it is, and how recent
# One row per publisher: how many series, the end of the latest period any of them covers and
# when it last published. `kind` says whether a figure is real or SIMULATED; the nowcast never
# mixes the two.

# %%
sources = pipeline.store_overview(mode.store_dir)
print(sources.to_string(index=False))
assert set(sources["kind"]) == {"real"}, "this notebook reads the bundled real data only"
print(f"\n{len(sources)} sources, all real data")

# %% [markdown]
# ## The ragged edge
# Releases land at different times. The drivers (on-chain data, USD/RUB, Brent, the key rate)
# reach the last month; every other kind of evidence stops earlier, some of it years earlier.
# `months_behind` is how far short of the panel's last month each kind stops.

# %%
spec = load_spec()
panel = pipeline.load_panel(mode.store_dir, spec=spec)
edge = pipeline.evidence_edge(panel, spec)
print(
    "panel:",
    panel.attrs["data_kind"],
    "data, months",
    str(panel["month"].values[0])[:7],
    "to",
    str(panel["month"].values[-1])[:7],
)
print(edge.to_string(index=False))

fig, ax = plt.subplots(figsize=(8, 0.4 * len(edge) + 1))
ax.barh(edge["evidence"], edge["months_behind"], color="tab:blue")
ax.invert_yaxis()
ax.set_xlabel("months behind the panel's last month")
ax.set_title("Ragged edge of the real evidence: how far each kind stops short")
fig.tight_layout()

# %% [markdown]
# ## Vintages: figures are revised
# The store keeps every published version of a figure (a vintage) with its publication date,
# so any past nowcast can be rebuilt from what was known then. The balance-of-payments
# releases are revised; the table counts, per series, how many periods were ever revised.

# %%
with Store(mode.store_dir, read_only=True) as st:
    summary = st.summary()
revised = summary[summary["revised_periods"] > 0][
    ["source", "series", "periods", "revised_periods", "max_vintages"]
]
print(f"{len(revised)} series with revised periods, out of {len(summary)}")
print(revised.sort_values("revised_periods", ascending=False).head(10).to_string(index=False))

# %%
eo = "bop_net_errors_omissions_usd_bn"
with Store(mode.store_dir, read_only=True) as st:
    vintages = st.vintages(eo)
multi = vintages.groupby("period_start")["published"].nunique()
print(
    f"{eo}: {len(vintages)} published values for {len(multi)} periods,"
    f" {int((multi > 1).sum())} periods published more than once"
)

# %% [markdown]
# ## Raw sign 1: regional electricity, mining regions against comparison regions
# The regional file (section 9 of `SOURCES.md`) holds sparse figures from regional grid
# operators, governments and the System Operator: levels, year-to-date totals and
# year-on-year changes. The geography table (`data/geography.csv`, in data, not code) marks
# regions where mining is documented (`mining`) and similar regions with little mining
# (`comparison`). If mining drew power, consumption in mining regions should have grown faster.

# %%
geo = load_geography()
role = {code: geo.area(code).role or "other" for code in geo.regions()}
with Store(mode.store_dir, read_only=True) as st:
    figures = st.as_of(None)
yoy = figures[figures["series"] == "regional_consumption_yoy_pct"].copy()
yoy["role"] = yoy["region"].map(role).fillna("joint area or energy system")
yoy["year"] = pd.to_datetime(yoy["period_end"]).dt.year
by_role = yoy.groupby(["year", "role"])["value"].median().unstack("role")
print("median year-on-year change of consumption, % (real figures)")
print(by_role.round(1).to_string())

fig, ax = plt.subplots(figsize=(9, 4))
for name, colour in (("mining", "tab:red"), ("comparison", "tab:blue")):
    pts = yoy[yoy["role"] == name]
    ax.scatter(
        pd.to_datetime(pts["period_end"]),
        pts["value"],
        s=18,
        color=colour,
        label=f"{name} regions ({pts['region'].nunique()})",
    )
ax.axhline(0, color="grey", lw=0.8)
ax.set_ylabel("consumption, % change on a year earlier")
ax.set_xlabel("end of the period the figure covers")
ax.set_title("Regional electricity consumption growth: mining against comparison regions")
ax.legend()
fig.tight_layout()

gap = (by_role["mining"] - by_role["comparison"]).dropna()
print("mining minus comparison regions, percentage points, by year:")
print(gap.round(1).to_string())
print(
    f"mining regions grew faster in {int((gap > 0).sum())} of the {len(gap)} years with"
    " figures for both"
)
latest = by_role["mining"].dropna()
print(
    f"latest year with mining-region figures: {latest.index[-1]},"
    f" median change {latest.iloc[-1]:+.1f}% (the year before: {latest.iloc[-2]:+.1f}%)"
)

# %% [markdown]
# ## Raw sign 2: Russia's share of the world's hashrate
# The Cambridge mining map (CBECI) published Russia's share of the hashrate month by month
# from September 2019 to January 2022; since then only occasional estimates exist. The model
# carries the share through the gap as a latent AR(1).

# %%
share = figures[(figures["series"] == "hashrate_share") & (figures["region"] == "RU")]
share = share.sort_values("period_start")
print(
    f"{len(share)} published share figures for Russia,"
    f" {share['period_start'].min():%Y-%m} to {share['period_end'].max():%Y-%m};"
    f" sources: {', '.join(sorted(share['source'].unique()))}"
)
fig, ax = plt.subplots(figsize=(9, 3.5))
for src, pts in share.groupby("source"):
    ax.plot(pd.to_datetime(pts["period_start"]), 100 * pts["value"], "o", ms=3, label=src)
ax.set_ylabel("% of world hashrate")
ax.set_xlabel("month")
ax.set_title("Russia's share of the bitcoin hashrate, published figures (real)")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## Raw sign 3: hashprice, what a unit of hashrate earns
# Miners' revenue (block rewards and fees, USD) divided by the network's hashrate: USD per
# TH/s per day. It moves how much Russian mining earns, and so the hidden inflow, for a given
# share of the hashrate. The halvings (May 2020, April 2024) cut it by half overnight.

# %%
onchain = figures[figures["series"].isin(["btc_miner_revenue_usd", "btc_hashrate_th_s"])]
daily = onchain.pivot_table(index="period_start", columns="series", values="value")
hashprice = (daily["btc_miner_revenue_usd"] / daily["btc_hashrate_th_s"]).resample("MS").mean()
hashprice = hashprice[hashprice.index >= "2016-01-01"]
print("hashprice, USD per TH/s per day, last 6 months:")
print(hashprice.tail(6).round(4).to_string())
fig, ax = plt.subplots(figsize=(9, 3.5))
ax.semilogy(hashprice.index, hashprice.values)
ax.set_ylabel("USD per TH/s per day (log scale)")
ax.set_xlabel("month")
ax.set_title("Hashprice: miner revenue per unit of hashrate (Coin Metrics, real)")
fig.tight_layout()

# %% [markdown]
# ## What we learned
# The cells above print the facts; the reading is:
# - The evidence is real and thin. Drivers reach the last month; the direct observations of
#   mining (the hashrate share, regional electricity, published estimates) stop months or
#   years earlier, which is why the model treats the inflow as a latent variable and carries
#   it through the gaps with honest uncertainty.
# - Figures are revised, and the store keeps every vintage, so a nowcast can always be
#   rebuilt as of the day it was made.
# - The raw signs need no model: the printed gap between mining and comparison regions says
#   in how many years mining regions grew faster, and the latest year shows the 2025 turn
#   (bans in Siberia and the North Caucasus) where its figures exist. They are sparse and
#   uneven, which is why the model pools regions rather than reading each on its own.
# - Russia's published hashrate share and the hashprice set the scale of what mining could
#   earn; the share is observed month by month only until January 2022.
# - Next: notebook 2 fits the model to these figures and checks the fit.
