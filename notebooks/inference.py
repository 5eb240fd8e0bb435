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
# # Nowcasting the hidden mining inflow: an inference notebook
#
# From the bundled **real** published data to a posterior of Russia's monthly hidden mining
# inflow (USD), what the evidence identifies, and forecasts six months ahead. Open it with
# `jupytext --to notebook notebooks/inference.py` or run it as a script. `NOWCAST_QUICK=1`
# (set by the tests) fits a short window with few draws; unset, it fits the default window
# with the spec's sampler settings (about a minute on 2 cores).

# %%
import os
import tempfile
from pathlib import Path

import arviz as az
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from nowcast import pipeline  # noqa: E402
from nowcast.fit import inflow_summary  # noqa: E402
from nowcast.forecast import summarise  # noqa: E402
from nowcast.identify import narrowing  # noqa: E402
from nowcast.model.spec import load_spec  # noqa: E402

QUICK = os.environ.get("NOWCAST_QUICK") == "1"
store_dir = Path(os.environ.get("NOWCAST_STORE", tempfile.mkdtemp(prefix="nowcast-")))

# %% [markdown]
# ## 1. Ingest the real data and build the as-of panel
# The steps are those of `nowcast run`, from `nowcast.pipeline`. Every figure keeps its
# publication date; the panel is what was known on the as-of date (here: everything stored).
# The table shows how far each kind of evidence reaches: the ragged edge.

# %%
spec = load_spec("default")
print(pipeline.ingest(store_dir=store_dir))  # the bundled real data
panel = pipeline.load_panel(store_dir, start="2023-01-01" if QUICK else None, spec=spec)
print(panel.attrs["data_kind"], "data, as of", panel.attrs["as_of"])
pipeline.evidence_edge(panel, spec)

# %% [markdown]
# ## 2. Fit the default model
# The run is saved in the store (`runs/<time>_<spec>_<hash>/posterior.nc`).

# %%
sampler = pipeline.sampler_settings(
    spec, **({"draws": 200, "tune": 300, "chains": 2} if QUICK else {})
)
fitted = pipeline.fit_and_save(panel, spec, sampler=sampler, store_dir=store_dir, prior_draws=200)
print("diagnostics ok:", fitted.diagnostics.ok, fitted.diagnostics.problems)
tree = fitted.tree

# %% [markdown]
# ## 3. The hidden inflow, USD million per month, with 90% intervals

# %%
q = inflow_summary(tree) / 1e6
print(q[["mean", "lower_90", "median", "upper_90"]].tail(6).round(1))
fig, ax = plt.subplots(figsize=(9, 3.5))
ax.fill_between(q.index, q["lower_90"], q["upper_90"], alpha=0.3, label="90% interval")
ax.plot(q.index, q["median"], label="median")
ax.set_ylabel("USD million per month")
ax.legend()
plt.close(fig)

# %% [markdown]
# ## 4. What the evidence identifies
# Narrowing is 1 - posterior variance / prior variance: near 0, the data said nothing.

# %%
table = narrowing(tree).set_index("variable")["narrowing"].round(2)
print(table.loc[["psi_before", "psi_after", "ruble_gamma", "hashrate_share", "hidden_inflow_usd"]])
print(az.summary(tree, var_names=["psi_after", "share_logit_mean"]))

# %% [markdown]
# ## 5. Forecast six months ahead

# %%
forecasts = pipeline.make_forecasts(tree, horizon=6)  # the baseline; pass a Scenario for more
fc = forecasts["baseline"]
print((summarise(fc, "hidden_inflow_usd") / 1e6).round(1)[["median", "lower_80", "upper_80"]])
print(summarise(fc, "usd_rub").round(1)[["median", "lower_80", "upper_80"]])

# %% [markdown]
# ## 6. The report
# The same HTML page, PDF and summaries `nowcast run` writes, into the run's folder (add
# `identification=pipeline.identify(tree)` for the sensitivity tables; it takes a minute).

# %%
paths = pipeline.write_report(tree, fitted.path, forecasts, diagnostics=fitted.diagnostics)
print(paths.html.name, paths.pdf.name, paths.summary_csv.name)

# %% [markdown]
# ## Versions this notebook ran with

# %%
import importlib.metadata as md  # noqa: E402

for pkg in ("nowcast", "pymc", "pytensor", "arviz", "nutpie", "xarray", "pandas", "numpy"):
    print(f"{pkg} {md.version(pkg)}")
