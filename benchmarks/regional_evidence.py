"""What the regional figures change: the default model with and without them, on the bundled
real data, and what the regional hierarchy costs to fit.

    .venv/bin/python benchmarks/regional_evidence.py [--draws 1500 --tune 1000 --chains 4]
        [--seed S] [--variants default,no_regional_electricity]

Each variant (``models/default.toml`` and its ablation ``no_regional_electricity``, which
switches off the regional figures file's kinds of evidence) is fitted to the same panel of the
bundled real data with the spec's sampler settings. For each the script prints the fit's time
(compile, sampling), its diagnostics (divergences, the largest R-hat, the smallest bulk ESS)
and a table of posterior medians with 90% intervals: the hidden inflow per year, Irkutsk's 2025
consumption and its January-September change on a year earlier (published: -6.4%), Russia's
mining power and each mining region's share at the last fitted month. The table is what
``docs/MODEL.md`` quotes; the script never fails on its figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.model.derived import unit_electricity

# mining regions whose share the table shows (then the energy systems' rests together)
SHARES = ["RU-IRK", "RU-KYA", "RU-AMU", "RU-BU", "RU-KK", "RU-DA"]


def _interval(draws: np.ndarray, scale: float = 1.0, fmt: str = "{:.2f}") -> str:
    lo, mid, hi = np.quantile(np.asarray(draws).ravel() * scale, [0.05, 0.5, 0.95])
    return f"{fmt.format(mid)} ({fmt.format(lo)} to {fmt.format(hi)})"


def summarise(post: xr.Dataset) -> dict[str, str]:
    """The quantities the MODEL.md table shows, as 'median (5% to 95%)'."""
    months = pd.DatetimeIndex(post["month"].values)
    inflow = post["hidden_inflow_usd"]
    out: dict[str, str] = {}
    for year in sorted(set(months.year))[-3:]:
        sel = inflow.sel(month=months[months.year == year]).sum("month")
        note = "" if (months.year == year).sum() == 12 else f" ({(months.year == year).sum()} m)"
        out[f"hidden inflow {year}{note}, USD bn"] = _interval(sel.values, 1e-9)
    twh = unit_electricity(post, ["RU-IRK"])["electricity_twh"].sel(region="RU-IRK")
    m25 = months[months.year == 2025]
    out[f"Irkutsk's consumption 2025 ({len(m25)} m), TWh"] = _interval(
        twh.sel(month=m25).sum("month").values, fmt="{:.1f}"
    )
    now = twh.sel(month=slice("2025-01", "2025-09")).sum("month")
    before = twh.sel(month=slice("2024-01", "2024-09")).sum("month")
    out["Irkutsk, Jan-Sep 2025 on a year earlier (published -6.4%), %"] = _interval(
        (now / before - 1.0).values, 100.0, "{:+.1f}"
    )
    last = months[-1]
    out[f"Russia's mining power {last:%Y-%m}, GW"] = _interval(
        post["mining_power_gw"].sel(month=last).values
    )
    share = post["region_share"].sel(month=last)
    for r in SHARES:
        out[f"share of mining power {last:%Y-%m}: {r}"] = _interval(share.sel(region=r).values)
    rests = [str(r) for r in share["region"].values if str(r).endswith("-REST")]
    out[f"share of mining power {last:%Y-%m}: the rests (elsewhere)"] = _interval(
        share.sel(region=rests).sum("region").values
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--tune", type=int, default=None)
    parser.add_argument("--chains", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--variants", default="default,no_regional_electricity")
    args = parser.parse_args()

    from nowcast.datasets import bundled_data_dir, ingest_dir
    from nowcast.fit import fit
    from nowcast.model.spec import load_spec
    from nowcast.panel import build_panel
    from nowcast.pipeline import sampler_settings
    from nowcast.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "store") as st:
            ingest_dir(st, bundled_data_dir())
            panel = build_panel(st, start=load_spec().start)
        columns: dict[str, dict[str, str]] = {}
        for name in args.variants.split(","):
            spec = load_spec(name)
            overrides = {
                k: v
                for k, v in {
                    "draws": args.draws,
                    "tune": args.tune,
                    "chains": args.chains,
                    "seed": args.seed,
                }.items()
                if v is not None
            }
            sampler = sampler_settings(spec, **overrides)
            t0 = time.perf_counter()
            res = fit(panel, spec, sampler=sampler, prior_draws=200)
            wall = time.perf_counter() - t0
            diag = res.diagnostics
            print(
                f"{name}: {len(res.data.regions)} units, {sampler.chains} chains x"
                f" {sampler.draws} draws (tune {sampler.tune}); fit {wall:.1f} s (compile"
                f" {res.timings['compile_s']:.1f} s, sampling {res.timings['sampling_s']:.1f} s);"
                f" divergences {diag.divergences}, max R-hat {diag.table['max_rhat'].max():.4f},"
                f" min bulk ESS {diag.table['min_ess_bulk'].min():.0f}"
                + (f"; problems: {diag.problems}" if diag.problems else "")
            )
            worst = diag.table.sort_values("max_rhat", ascending=False).head(3)
            print(
                "  largest R-hat:",
                ", ".join(f"{r.variable} {r.max_rhat:.4f}" for r in worst.itertuples()),
            )
            columns[name] = summarise(res.tree["posterior"].to_dataset())
        table = pd.DataFrame(columns)
        print()
        print("| |" + "|".join(table.columns) + "|")
        print("|---|" + "---|" * len(table.columns))
        for label, row in table.iterrows():
            print(f"| {label} | " + " | ".join(str(v) for v in row) + " |")


if __name__ == "__main__":
    main()
