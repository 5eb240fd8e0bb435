"""What the notebooks in ``notebooks/`` share: full or quick mode, the store they use, and a
fitted run to read.

Quick mode (``NOWCAST_QUICK=1``, set by the test suite) fits a short window with few draws,
so every notebook runs top to bottom in seconds to a minute; its numbers show the mechanics,
not the nowcast. Full mode uses the spec's window and sampler settings. ``NOWCAST_STORE``
names the store (default: a fresh temporary folder, filled with the bundled real data).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from nowcast.errors import NowcastError
from nowcast.model.spec import ModelSpec, Sampler, load_spec

QUICK_ENV = "NOWCAST_QUICK"
STORE_ENV = "NOWCAST_STORE"
QUICK_START = "2023-01-01"  # quick mode's window: the months the CBECI map does not reach
QUICK_SAMPLER = {"draws": 200, "tune": 300, "chains": 2}
QUICK_PRIOR_DRAWS = 200
FULL_PRIOR_DRAWS = 500


@dataclass(frozen=True)
class NotebookMode:
    """How a notebook runs: ``quick`` (few draws, a short window) or full, and its store."""

    quick: bool
    store_dir: Path

    @property
    def start(self) -> str | None:
        """The first month fitted: the spec's in full mode, a short window in quick mode."""
        return QUICK_START if self.quick else None

    @property
    def prior_draws(self) -> int:
        """Draws from the prior kept beside the posterior (prior checks, identification)."""
        return QUICK_PRIOR_DRAWS if self.quick else FULL_PRIOR_DRAWS

    def sampler(self, spec: ModelSpec) -> Sampler:
        """The spec's sampler settings, cut to a few hundred draws in quick mode."""
        from nowcast.pipeline import sampler_settings

        return sampler_settings(spec, **(QUICK_SAMPLER if self.quick else {}))

    def banner(self) -> str:
        """One line a notebook prints first, so a reader knows which mode its numbers are."""
        if self.quick:
            return (
                f"QUICK mode ({QUICK_ENV}=1): window from {QUICK_START}, few draws; the numbers"
                " show the mechanics, not the nowcast. Store: "
                f"{self.store_dir}"
            )
        return f"Full mode: the spec's window and sampler settings. Store: {self.store_dir}"


def notebook_mode() -> NotebookMode:
    """The mode from the environment (``NOWCAST_QUICK``, ``NOWCAST_STORE``)."""
    quick = os.environ.get(QUICK_ENV, "") == "1"
    store = os.environ.get(STORE_ENV)
    store_dir = Path(store) if store else Path(tempfile.mkdtemp(prefix="nowcast-notebook-"))
    return NotebookMode(quick=quick, store_dir=store_dir)


def ensure_data(mode: NotebookMode) -> None:
    """Ingest the bundled real data into the notebook's store (files it already holds change
    nothing, so this is cheap when the store is ready)."""
    from nowcast.pipeline import ingest

    ingest(store_dir=mode.store_dir)


def current_run(mode: NotebookMode, spec: ModelSpec | None = None) -> tuple[Path, xr.DataTree]:
    """The store's current run (folder and posterior), fitting and saving one first when the
    store has none: a notebook that reads a posterior runs on its own, and reuses the fit of
    an earlier notebook (or of ``nowcast run``) on the same store."""
    from nowcast.pipeline import fit_and_save, load_panel, open_run

    try:
        return open_run(store_dir=mode.store_dir)
    except NowcastError:
        pass
    spec = spec or load_spec()
    ensure_data(mode)
    panel = load_panel(mode.store_dir, start=mode.start, spec=spec)
    fitted = fit_and_save(
        panel,
        spec,
        sampler=mode.sampler(spec),
        store_dir=mode.store_dir,
        prior_draws=mode.prior_draws,
    )
    return fitted.path, fitted.tree


# --------------------------------------------------------------------------- executing them

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"


def notebook_paths(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The notebooks (jupytext percent scripts), in reading order (their names are numbered)."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py"))


def execute_notebook(
    path: Path, out_dir: Path, *, quick: bool, store_dir: Path, timeout: int = 7200
) -> tuple[Path, Path]:
    """Run one notebook top to bottom in a fresh kernel (nbclient) and write the executed
    ``.ipynb`` and an HTML copy (nbconvert) to ``out_dir``. A cell that raises fails the run
    (``nbclient.exceptions.CellExecutionError``), after the partial notebook is written."""
    import jupytext
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(path)
    env = {QUICK_ENV: "1" if quick else "0", STORE_ENV: str(store_dir)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    ipynb = out_dir / f"{path.stem}.ipynb"
    html = out_dir / f"{path.stem}.html"
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(out_dir)}},
        )
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        jupytext.write(nb, ipynb)
        html.write_text(HTMLExporter().from_notebook_node(nb)[0], encoding="utf-8")
    return ipynb, html


def main(argv: list[str] | None = None) -> int:
    """``python -m nowcast.notebooks [--quick] [--out DIR] [NAME...]``: execute the notebooks
    (all, or those whose names contain a NAME) into DIR (default ``notebooks/executed``), all
    on one store there, so later notebooks read the run an earlier one fitted."""
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m nowcast.notebooks")
    parser.add_argument("names", nargs="*", help="run only notebooks whose file name has this")
    parser.add_argument("--quick", action="store_true", help="few draws, a short window")
    parser.add_argument("--out", type=Path, default=NOTEBOOK_DIR / "executed")
    args = parser.parse_args(argv)
    paths = [p for p in notebook_paths() if not args.names or any(n in p.stem for n in args.names)]
    if not paths:
        print(f"no notebook matches {args.names}: expected part of a name in {NOTEBOOK_DIR}")
        return 2
    store_dir = args.out / "store"
    for path in paths:
        t0 = time.perf_counter()
        ipynb, html = execute_notebook(path, args.out, quick=args.quick, store_dir=store_dir)
        print(f"{path.name}: {time.perf_counter() - t0:.0f} s -> {ipynb}, {html}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
