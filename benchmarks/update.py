"""Time ``nowcast update`` on the bundled real data, on both paths.

    python benchmarks/update.py prepare ROOT   # once: the bundled data cut at 2025-11, a
                                               # default `nowcast run` on it (recorded in the
                                               # history), December's releases beside it
    python benchmarks/update.py fast ROOT      # copy the prepared store, update with December's
                                               # releases on the fast path; print the stages
    python benchmarks/update.py refit ROOT     # the same update, refitted (--refit)

Each timed command starts from a fresh copy of the prepared store (about 0.1 s of the figures),
so it can be repeated: time the whole process from outside for the end-to-end figure; the
stages printed (ingest, panel, the fast path or the fit, the news, the report) give the update
itself. The releases are real figures (Coin Metrics, the Bank of Russia's USD/RUB and key
rate, EIA's Brent for December 2025); only when they landed is replayed.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

TODAY = "2026-06-30"  # after every bundled figure's publication date
CUT = "2025-11-30"
MONTH = "2025-12"
RELEASES = [
    "coinmetrics_btc_daily.csv",
    "usd_rub_cbr_daily.csv",
    "cbr_key_rate_daily.csv",
    "brent_monthly_eia.csv",
]


def prepare(root: Path) -> None:
    import replay

    from nowcast import pipeline

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    data = replay.initial_data(root / "data", CUT)
    t0 = time.perf_counter()
    result = pipeline.run(data, root / "base")
    print(f"prepared: nowcast run on data to {CUT} in {time.perf_counter() - t0:.1f} s")
    print(f"run: {result.run_path}")
    lines = ["[files]"]
    for name in RELEASES:
        path = replay.write_slice(name, root / "releases", f"{MONTH}-01", f"{MONTH}-31")
        lines.append(f'"{path.name}" = "{replay.source_of(name)}"')
    (root / "MANIFEST.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed_update(root: Path, refit: bool) -> None:
    import tomllib

    from nowcast.update import Incoming, update

    work = root / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(root / "base", work)
    manifest = tomllib.loads((root / "MANIFEST.toml").read_text(encoding="utf-8"))["files"]
    files = [Incoming(root / "releases" / name, source) for name, source in manifest.items()]
    t0 = time.perf_counter()
    try:  # as `nowcast update` does: the sidecar opened when the command starts
        result = update(files, store_dir=work, refit=refit, sidecar=SIDECAR)
    except TypeError:  # releases before the sidecar
        result = update(files, store_dir=work, refit=refit)
    total = time.perf_counter() - t0
    stages = result.seconds
    itself = sum(v for k, v in stages.items() if k != "report_s")
    print(
        f"path: {result.path}"
        + (
            f", Pareto k {result.pareto_k:.3f}, ESS {result.ess:.0f}"
            if result.path == "fast"
            else ""
        )
    )
    print("stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    print(f"the update itself (all but the report): {itself:.2f} s; in-process total {total:.2f} s")


SIDECAR = None


def main() -> None:
    global SIDECAR
    if len(sys.argv) != 3 or sys.argv[1] not in ("prepare", "fast", "refit"):
        sys.exit(__doc__)
    os.environ["NOWCAST_TODAY"] = TODAY
    root = Path(sys.argv[2])
    if sys.argv[1] == "prepare":
        prepare(root)
        return
    try:  # opened before the imports, as the command line does
        from nowcast.sidecar import Sidecar

        SIDECAR = Sidecar()
    except ImportError:  # releases before the sidecar
        SIDECAR = None
    try:
        timed_update(root, refit=sys.argv[1] == "refit")
    finally:
        if SIDECAR is not None:
            SIDECAR.close()


if __name__ == "__main__":
    main()
