"""Where a `nowcast run` on the bundled data spends its time, stage by stage.

Does in one process what ``nowcast run`` does (the same functions, in the same order: ingest
what the store lacks, the panel, the default fit, its diagnostics and saved run, the baseline
forecast, narrowing, log densities and power-scaling sensitivity, the HTML/PDF report) and
prints wall and CPU seconds per stage. CPU seconds count every thread of the process (nutpie
samples its chains in threads), so on a busy machine they are the steadier figure; wall seconds
are what a user waits.

"Warm" is what a second run on a machine sees: the store already holds the data and the
on-disk caches (PyTensor's C and numba code, the sampler callbacks) are filled. The first run
after a change of model graph or of package versions is slower (the first line says whether
the sampler's callbacks came from the disk cache). By default the store is a temporary one,
ingested before the timed stages; ``--store`` times a run on an existing store instead.

    python benchmarks/run_default.py            # a table
    python benchmarks/run_default.py --json     # and one JSON line with every figure
    python benchmarks/run_default.py --one-process   # no sidecar: each stage's whole cost

As ``nowcast run`` does, a sidecar process (``nowcast.sidecar``) is opened first: it draws
from the prior while the sampler compiles, checks the free parameters' convergence while the
derived quantities are evaluated, and draws the slowest charts while the forecast and
identification run, so those stages show only what this process waited for;
``--one-process`` does everything here (each stage's whole cost). Unlike ``nowcast run``, the
posterior is written in line (its own stage), not in the background.

Whole-process timings (start-up included) are taken from outside, e.g. with
``/usr/bin/time -v nowcast run``; docs/PERFORMANCE.md has both kinds of figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

T_START = time.perf_counter()
C_START = time.process_time()


class Stages:
    # Not nowcast.fit's stage timer: importing it would import pymc before the "import"
    # stage starts, and that stage is what measures the package's import time.
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    @contextmanager
    def __call__(self, name: str):
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.rows.append((name, time.perf_counter() - w, time.process_time() - c))

    def add(self, name: str, wall: float, cpu: float) -> None:
        self.rows.append((name, wall, cpu))


def _sidecar():
    """The second process `nowcast run` opens before its imports (none before it existed)."""
    try:
        from nowcast.sidecar import Sidecar
    except ImportError:
        return None
    return Sidecar()


def run(store: Path, stage: Stages, sidecar) -> dict[str, object]:
    with stage("import"):
        import pandas as pd  # noqa: F401

        from nowcast import identify as ident
        from nowcast.datasets import bundled_data_dir, ingest_dir
        from nowcast.fit import fit, save_run
        from nowcast.forecast import forecast
        from nowcast.model.spec import load_spec
        from nowcast.panel import build_panel, ragged_edge
        from nowcast.report import render_report
        from nowcast.store import Store

    with stage("ingest (what the store lacks)"):
        with Store(store) as st:
            added = sum(r.rows_added for r in ingest_dir(st, bundled_data_dir()))
    with stage("panel"):
        spec = load_spec("default")
        with Store(store, read_only=True) as st:
            st.summary()
            ragged_edge(build_panel(st))
            panel = build_panel(st, start=spec.start)
    w0, c0 = time.perf_counter(), time.process_time()
    try:  # as `nowcast run` fits: the log densities evaluated with the derived quantities
        result = fit(panel, spec, log_densities=True, sidecar=sidecar)
    except TypeError:  # releases before that
        result = fit(panel, spec)
    fit_wall, fit_cpu = time.perf_counter() - w0, time.process_time() - c0
    # releases before the stage split recorded compile, sampling and postprocess only
    wall = getattr(result, "wall", None) or {
        **result.timings,
        "deterministics_s": result.timings.get("postprocess_s", float("nan")),
    }
    cpu = getattr(result, "cpu", None) or {}
    for key, label in (
        ("build_s", "fit: prepare data, build model"),
        ("compile_s", "fit: compile (nutpie)"),
        ("sampling_s", "fit: sampling"),
        ("deterministics_s", "fit: derived quantities"),
        ("prior_predictive_s", "fit: prior and prior predictive draws"),
        ("diagnostics_s", "fit: diagnostics"),
    ):
        stage.add(label, wall.get(key, float("nan")), cpu.get(key, float("nan")))
    known_w = sum(w for n, w, _ in stage.rows if n.startswith("fit:") and w == w)
    known_c = sum(c for n, _, c in stage.rows if n.startswith("fit:") and c == c)
    stage.add("fit: other (not split)", fit_wall - known_w, fit_cpu - known_c)
    with stage("save posterior"):
        run_path = save_run(result, store)
    tree = result.tree
    drawn = None
    if sidecar is not None:  # the slowest charts started in the sidecar, as `nowcast run` does
        from nowcast.report.elsewhere import draw_elsewhere

        drawn = draw_elsewhere(tree, sidecar)
    with stage("forecast (baseline)"):
        forecasts = {"baseline": forecast(tree, 6, seed=int(tree.attrs.get("seed", 0)))}
    with stage("identification: narrowing"):
        narrow = ident.narrowing(tree)
    with stage("identification: log densities"):
        dens = ident.add_log_densities(tree, result.model, getattr(result, "values", None))
    with stage("identification: psense"):
        sens = ident.sensitivity(dens)
    with stage("report: HTML, PDF, charts"):
        render_report(
            tree,
            forecasts,
            run_path,
            diagnostics=result.diagnostics,
            narrowing_table=narrow,
            sensitivity_table=sens,
            **({"drawn": drawn} if drawn is not None else {}),
        )
    info = getattr(result, "compile_info", None)
    return {
        "rows_added_by_ingest": added,
        "draws": int(tree.attrs["draws"]),
        "chains": int(tree.attrs["chains"]),
        "compile_reused_in_process": bool(info and info.reused),
        "cached_callbacks": bool(info and info.cached_callbacks),
        "callbacks_from_disk_cache": int(info.callback_cache_hits) if info else 0,
        "divergences": int(result.diagnostics.divergences),
        "diagnostics_ok": bool(result.diagnostics.ok),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="an existing store (default: a temporary one)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line")
    ap.add_argument(
        "--one-process",
        action="store_true",
        help="no sidecar process: every stage in this one (its whole cost, stage by stage)",
    )
    args = ap.parse_args(argv)
    stage = Stages()
    with tempfile.TemporaryDirectory(prefix="nowcast-run-bench-") as tmp:
        store = args.store
        if store is None:
            from nowcast.datasets import bundled_data_dir, ingest_dir
            from nowcast.store import Store

            store = Path(tmp) / "store"
            w, c = time.perf_counter(), time.process_time()
            with Store(store) as st:
                ingest_dir(st, bundled_data_dir())
            print(
                f"(first ingest into a temporary store, not counted:"
                f" {time.perf_counter() - w:.1f} s wall, {time.process_time() - c:.1f} s CPU)",
                file=sys.stderr,
            )
            t0, c0 = time.perf_counter(), time.process_time()
        else:
            t0, c0 = T_START, C_START
        sidecar = _sidecar() if not args.one_process else None
        try:
            facts = run(store, stage, sidecar)
        finally:
            if sidecar is not None:
                sidecar.close()
        total_w, total_c = time.perf_counter() - t0, time.process_time() - c0
    width = max(len(n) for n, _, _ in stage.rows) + 2
    print(f"{'stage'.ljust(width)}{'wall s':>9}{'CPU s':>9}")
    for name, w, c in stage.rows:
        print(f"{name.ljust(width)}{w:9.1f}{c:9.1f}")
    print(f"{'total (this process)'.ljust(width)}{total_w:9.1f}{total_c:9.1f}")
    print(
        f"{facts['chains']} chains x {facts['draws']} draws; sampler callbacks"
        f" {'generated, ' if facts['cached_callbacks'] else 'by nutpie, '}"
        f"{facts['callbacks_from_disk_cache']} of 2 from the disk cache;"
        f" divergences {facts['divergences']}"
    )
    if args.json:
        print(
            "BENCHMARK_RESULT "
            + json.dumps(
                {
                    **facts,
                    "stages": [{"stage": n, "wall_s": w, "cpu_s": c} for n, w, c in stage.rows],
                    "total_wall_s": total_w,
                    "total_cpu_s": total_c,
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
