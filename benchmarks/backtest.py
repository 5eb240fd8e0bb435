"""Wall time of one backtest with 1 and with 2 workers, per-origin costs and peak memory.

    python benchmarks/backtest.py prepare ROOT            # once: the bundled data in ROOT/store
    python benchmarks/backtest.py run ROOT --workers N    # a fresh copy of the store, the
                                                          # backtest below, figures printed
    python benchmarks/backtest.py run ROOT --compile each # every origin compiles its own
                                                          # model (default: once per worker)

Every ``run`` starts from a copy of the prepared store, so nothing is reused from an earlier
run's results; the compile caches on disk (PyTensor's numba code, the sampler's callbacks) are
the machine's, so the first ``run`` after a change pays cold compiles and later ones load them:
run it once before timing. Time whole processes with farm-bench, pairing 1 and 2 workers:

    farm-bench --pair "python benchmarks/backtest.py run ROOT --workers 1" \\
                      "python benchmarks/backtest.py run ROOT --workers 2"

The backtest: origins 2025-01 to 2025-04 (four fits; ``--end`` for more), horizons 1 and 3,
2 chains x 300 draws after 300 tuning steps (fewer than the default, so a paired benchmark
fits in minutes; the speed-up is about parallel fits, not about one fit).

Printed: wall seconds of the whole backtest, each origin's seconds with its compile and
sampling parts (from the fit's own timers) and whether it reused its worker's compiled model,
each worker's peak resident memory, and the mean cost of an origin that compiled against one
that reused.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

START, END = "2025-01", "2025-04"
HORIZONS = (1, 3)


def prepare(root: Path) -> None:
    from nowcast.datasets import bundled_data_dir, ingest_dir
    from nowcast.store import Store

    store = root / "store"
    if store.exists():
        shutil.rmtree(store)
    with Store(store) as st:
        ingest_dir(st, bundled_data_dir())
    print(f"prepared {store}")


def run(root: Path, workers: int, end: str = END, compile_once: bool = True) -> None:
    import pandas as pd

    from nowcast.backtest import BacktestPlan, run_backtest
    from nowcast.model.spec import Sampler

    with tempfile.TemporaryDirectory(prefix="nowcast-bt-bench-", dir=root) as tmp:
        store = Path(tmp) / "store"
        shutil.copytree(root / "store", store)
        plan = BacktestPlan(
            str(store),
            pd.Timestamp(f"{START}-01"),
            pd.Timestamp(f"{end}-01"),
            HORIZONS,
            sampler=Sampler(draws=300, tune=300, chains=2),
            prior_draws=20,
            compile_once=compile_once,
        )
        t0 = time.perf_counter()
        result = run_backtest(plan, workers=workers)
        wall = time.perf_counter() - t0
    o = result.origins
    mode = "once per worker" if compile_once else "each origin"
    print(f"workers {workers}, compile {mode}: {len(result.ran)} origins in {wall:.1f} s wall")
    for row in o.itertuples():
        how = "reused" if row.compile_reused else "compiled"
        print(
            f"  {row.origin:%Y-%m}: {row.seconds:6.1f} s (compile {row.compile_s:5.1f} s {how},"
            f" sampling {row.sampling_s:5.1f} s) on {row.worker}, peak {row.peak_rss_mb:,.0f} MiB"
        )
    per_worker = o.groupby("worker")["peak_rss_mb"].max()
    print(f"  peak memory per worker: {', '.join(f'{v:,.0f} MiB' for v in per_worker)}")
    print(
        f"  per origin: mean {o['seconds'].mean():.1f} s, compile {o['compile_s'].mean():.1f} s,"
        f" sampling {o['sampling_s'].mean():.1f} s"
    )
    for reused, rows in o.groupby("compile_reused"):
        print(
            f"  origins that {'reused the compiled model' if reused else 'compiled'}:"
            f" {len(rows)}, mean {rows['seconds'].mean():.1f} s (compile"
            f" {rows['compile_s'].mean():.1f} s, sampling {rows['sampling_s'].mean():.1f} s)"
        )
    if result.failed:
        print(f"  failed: {result.failed}")
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["prepare", "run"])
    ap.add_argument("root", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--end", default=END, help=f"last origin month (default {END})")
    ap.add_argument(
        "--compile",
        choices=["once", "each"],
        default="once",
        help="compile once per worker (fixed shapes) or once per origin",
    )
    args = ap.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    if args.what == "prepare":
        prepare(args.root)
    else:
        run(args.root, args.workers, args.end, args.compile == "once")


if __name__ == "__main__":
    main()
