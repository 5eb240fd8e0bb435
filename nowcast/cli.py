"""Command line: a thin layer over the Python API (``nowcast --help``).

``app`` (``nowcast.cli:app``, the console script) is made in ``nowcast.cli_common``; each group
of commands lives in a module of its own and registers its commands on ``app`` when imported:
``nowcast.cli_data`` (sources, ingest, data, ingest-dir, simulate), ``nowcast.cli_pipeline``
(fit, identify, report, run), ``nowcast.cli_history`` (history), ``nowcast.cli_update``
(update) and ``nowcast.cli_cluster`` (backtest, calibrate).
"""

from __future__ import annotations

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


def main() -> None:  # pragma: no cover - console entry point
    app()


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
