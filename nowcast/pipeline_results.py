"""What the pipeline's steps hand back: the ``Step`` a run is starting and each step's result
(``IngestSummary``, ``DataOverview``, ``FitPlan``, ``FittedRun``, ``Identification``,
``RunResult``), as ``run`` passes them to its ``notify`` callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import xarray as xr

from nowcast.files import Pending
from nowcast.fit import Diagnostics, FitResult
from nowcast.model.spec import ModelSpec, Sampler

if TYPE_CHECKING:  # the report (matplotlib, arviz) is imported when a report is made
    from nowcast.report import ReportPaths


@dataclass(frozen=True)
class Step:
    """A step ``run`` is starting: ``name`` (ingest, panel, fit, forecast, identify, report)
    and a sentence saying what it does."""

    name: str
    message: str


@dataclass(frozen=True)
class IngestSummary:
    """What ``ingest`` did: files read from ``data_dir``, figures new to the store."""

    data_dir: Path
    store_path: Path
    files: int
    new_figures: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"Ingested {self.files} files from {self.data_dir} into {self.store_path}:"
            f" {self.new_figures} new figures ({self.seconds:.1f} s)"
        )


@dataclass(frozen=True)
class DataOverview:
    """What a run rests on: the store by source (``store_overview``) and how far each kind
    of evidence reaches in the panel (``evidence_edge``)."""

    data_kind: str
    as_of: str
    first_month: pd.Timestamp
    last_month: pd.Timestamp
    sources: pd.DataFrame
    evidence: pd.DataFrame


@dataclass(frozen=True)
class FitPlan:
    """The fit ``run`` is about to make."""

    spec: ModelSpec
    sampler: Sampler
    data_kind: str
    as_of: str
    months: int


@dataclass(frozen=True)
class FittedRun:
    """A fit and the folder it was saved in."""

    result: FitResult
    path: Path
    # the posterior still being written in the background (``fit_and_save(background=True)``)
    pending: tuple[Pending, ...] = ()

    @property
    def tree(self) -> xr.DataTree:
        """The saved posterior."""
        return self.result.tree

    def wait(self) -> None:
        """Return once the run folder's posterior is written (raise what the write raised)."""
        for write in self.pending:
            write.wait()

    @property
    def diagnostics(self) -> Diagnostics:
        """Convergence diagnostics against the spec's thresholds."""
        return self.result.diagnostics


@dataclass(frozen=True)
class Identification:
    """What the data identify: narrowing and sensitivity tables, ablation when asked for."""

    narrowing: pd.DataFrame
    sensitivity: pd.DataFrame
    ablation: pd.DataFrame | None = None
    # each observation's log likelihood at each draw (the ``log_likelihood`` group): saved
    # beside the posterior, so an update need not rebuild this run's model to reweight it
    log_likelihood: xr.Dataset | None = None


@dataclass(frozen=True)
class RunResult:
    """What ``run`` (or ``report_run``) produced."""

    run_path: Path
    report: ReportPaths
    headline: dict[str, Any]
    data_kind: str
    diagnostics: Diagnostics | None = None

    @property
    def simulated(self) -> bool:
        """True when the run rests on SIMULATED data."""
        return self.data_kind != "real"


Notify = Callable[[object], None]


def _ignore(_: object) -> None:
    """The default ``notify``: nobody is listening."""
