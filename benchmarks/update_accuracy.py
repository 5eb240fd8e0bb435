"""What the fast path costs in accuracy: a replay of real monthly releases, each absorbed by
``nowcast update`` on the fast path (draws carried forward and reweighted, update after
update), set against a full refit on exactly the same data.

    python benchmarks/update_accuracy.py ROOT [--draws N] [--start YYYY-MM-DD]

From a run on the bundled data cut at 2025-06, the months July to December 2025 land one by
one (Coin Metrics, the Bank of Russia's USD/RUB and key rate, EIA's Brent). After each update
the same panel is refitted from scratch with the same sampler settings, and for every month of
the window and for the headline month the script prints the difference of the medians and of
the 80% interval's bounds, each as a share of the refit's 80% interval width. Two refits with
different seeds give the yardstick: the Monte Carlo difference between two exact fits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

TODAY = "2026-06-30"
MONTHS = ["2025-07", "2025-08", "2025-09", "2025-10", "2025-11", "2025-12"]
RELEASES = [
    "coinmetrics_btc_daily.csv",
    "usd_rub_cbr_daily.csv",
    "cbr_key_rate_daily.csv",
    "brent_monthly_eia.csv",
]


def _summary(tree) -> pd.DataFrame:
    from nowcast.fit import inflow_summary

    return inflow_summary(tree)


def _gap(fast: pd.DataFrame, exact: pd.DataFrame) -> pd.DataFrame:
    """Differences of median and 80% bounds, as shares of the exact 80% width, by month."""
    width = exact["upper_80"] - exact["lower_80"]
    return pd.DataFrame(
        {
            "median": (fast["median"] - exact["median"]) / width,
            "lower_80": (fast["lower_80"] - exact["lower_80"]) / width,
            "upper_80": (fast["upper_80"] - exact["upper_80"]) / width,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--start", default="2023-01-01")
    args = parser.parse_args()
    os.environ["NOWCAST_TODAY"] = TODAY

    import replay

    from nowcast import pipeline
    from nowcast.fit import fit
    from nowcast.model.spec import Sampler, load_spec
    from nowcast.update import Incoming, update

    spec = load_spec()
    sampler = Sampler(**{**spec.sampler.model_dump(), "draws": args.draws, "tune": args.tune})
    other_seed = Sampler(**{**sampler.model_dump(), "seed": sampler.seed + 1})
    root = args.root
    shutil.rmtree(root, ignore_errors=True)
    data = replay.initial_data(root / "data", "2025-06-30")
    store = root / "store"
    pipeline.run(data, store, start=args.start, sampler=sampler)
    rows = []
    for month in MONTHS:
        end = (pd.Timestamp(f"{month}-01") + pd.offsets.MonthEnd(0)).strftime("%Y-%m-%d")
        files = [
            Incoming(
                replay.write_slice(name, root / "releases", f"{month}-01", end),
                replay.source_of(name),
            )
            for name in RELEASES
        ]
        t0 = time.perf_counter()
        result = update(files, store_dir=store)
        t_update = time.perf_counter() - t0
        _, tree = pipeline.open_run(result.run_path)
        panel = tree["panel"].to_dataset()
        t0 = time.perf_counter()
        exact = fit(panel, spec, sampler=sampler).tree
        t_fit = time.perf_counter() - t0
        twin = fit(panel, spec, sampler=other_seed).tree
        fast_s, exact_s, twin_s = _summary(tree), _summary(exact), _summary(twin)
        gap, noise = _gap(fast_s, exact_s), _gap(twin_s, exact_s)
        last = exact_s.index[-1]
        rows.append(
            {
                "month": month,
                "path": result.path,
                "pareto_k": result.pareto_k,
                "ess": result.ess,
                "update_s": round(t_update, 1),
                "refit_s": round(t_fit, 1),
                "latest_median": gap.loc[last, "median"],
                "latest_lower": gap.loc[last, "lower_80"],
                "latest_upper": gap.loc[last, "upper_80"],
                "all_months_max_abs": float(gap.abs().max().max()),
                "all_months_mean_abs": float(gap.abs().mean().mean()),
                "two_refits_max_abs": float(noise.abs().max().max()),
                "two_refits_mean_abs": float(noise.abs().mean().mean()),
            }
        )
        print(pd.DataFrame(rows).round(3).to_string(index=False), flush=True)
    out = pd.DataFrame(rows)
    print("\nmean over the replay:")
    print(out.drop(columns=["month", "path"]).mean(numeric_only=True).round(3).to_string())
    np.save(root / "accuracy.npy", out.to_records(index=False))


if __name__ == "__main__":
    main()
