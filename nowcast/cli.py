"""Command line: a thin layer over the Python API (``nowcast --help``).

``app`` is made in ``nowcast.cli_common`` (the console script is ``main``, which runs it);
each group of commands lives in a module of its own and registers its commands on ``app`` when
imported:
``nowcast.cli_data`` (sources, ingest, data, ingest-dir, simulate), ``nowcast.cli_pipeline``
(fit, identify, report, run), ``nowcast.cli_history`` (history), ``nowcast.cli_update``
(update) and ``nowcast.cli_cluster`` (backtest, calibrate).
"""

from __future__ import annotations

import sys

from nowcast.cli_common import (
    AsOfOpt,
    DataOpt,
    SchedulerOpt,
    StoreOpt,
    WorkersOpt,
    app,
    console,
)

# `nowcast --help` lists the commands in the order they are registered: the order of these
# imports, which sorting them would change.
# isort: off
from nowcast.cli_data import data, ingest, ingest_dir_cmd, simulate, sources
from nowcast.cli_pipeline import (
    ChainsOpt,
    DrawsOpt,
    HorizonOpt,
    RunOpt,
    SamplerOpt,
    ScenarioOpt,
    SeedOpt,
    TuneOpt,
    fit,
    identify,
    report,
    run,
)
from nowcast.cli_history import history
from nowcast.cli_update import update
from nowcast.cli_cluster import backtest, calibrate

# isort: on


def main() -> None:
    """The ``nowcast`` command: the CLI, then an exit that skips the interpreter's teardown.

    Freeing a run's objects one by one at exit (the model's graphs, compiled functions, draws)
    took 1.5 s after the work was done (measured after ``nowcast run``). Files, the store and
    the sidecar are closed by the commands themselves; exit handlers still run, and the
    standard streams are flushed."""
    import atexit
    import os

    try:
        app()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # what ``sys.exit("message")`` would print
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


__all__ = [
    "AsOfOpt",
    "ChainsOpt",
    "DataOpt",
    "DrawsOpt",
    "HorizonOpt",
    "RunOpt",
    "SamplerOpt",
    "ScenarioOpt",
    "SchedulerOpt",
    "SeedOpt",
    "StoreOpt",
    "TuneOpt",
    "WorkersOpt",
    "app",
    "backtest",
    "calibrate",
    "console",
    "data",
    "fit",
    "history",
    "identify",
    "ingest",
    "ingest_dir_cmd",
    "main",
    "report",
    "run",
    "simulate",
    "sources",
    "update",
]
