"""Nowcast records for the history tests, in a module light enough for the child processes of
the concurrency test to import quickly (only the store, no charts or command line)."""

from __future__ import annotations

from datetime import datetime
from multiprocessing.synchronize import Barrier

import pandas as pd

from nowcast.history import NowcastRecord
from nowcast.store import Store


def estimates(fitted_through: str, level: float, horizon: int = 2) -> pd.DataFrame:
    """Hidden inflow estimates (USD) for the three months up to ``fitted_through`` (fitted)
    and ``horizon`` months after (forecast), and the quarter of ``fitted_through``."""
    last = pd.Period(fitted_through, "M")
    rows = []
    for k in range(-2, horizon + 1):
        month = last + k
        median = (level + 0.1 * k) * 1e9
        rows.append(
            {
                "target": str(month),
                "freq": "month",
                "period_start": month.start_time,
                "period_end": month.end_time.normalize(),
                "status": "fitted" if k <= 0 else "forecast",
                "quantity": "hidden_inflow_usd",
                "mean": median * 1.02,
                "median": median,
                "lower_80": median * 0.8,
                "upper_80": median * 1.25,
                "lower_95": median * 0.65,
                "upper_95": median * 1.5,
            }
        )
    quarter = last.asfreq("Q")
    rows.append(
        {
            "target": str(quarter),
            "freq": "quarter",
            "period_start": quarter.start_time,
            "period_end": quarter.end_time.normalize(),
            "status": "fitted",
            "quantity": "hidden_inflow_usd",
            "mean": 3 * level * 1e9,
            "median": 3 * level * 1e9,
            "lower_80": 2.5 * level * 1e9,
            "upper_80": 3.5 * level * 1e9,
            "lower_95": 2 * level * 1e9,
            "upper_95": 4 * level * 1e9,
        }
    )
    return pd.DataFrame(rows)


def record(
    fitted_through: str = "2025-06",
    level: float = 1.0,
    *,
    path: str = "run",
    ingest: int = 0,
    when: datetime | None = None,
    **fields: object,
) -> NowcastRecord:
    return NowcastRecord(
        run_path=f"store/runs/{fitted_through}-{path}",
        data_as_of="latest",
        last_ingest_id=ingest,
        fitted_through=f"{fitted_through}-01",
        spec_name="default",
        spec_hash="0123456789abcdef",
        data_kind="real",
        path=path,
        estimates=estimates(fitted_through, level),
        pareto_k=None if path == "run" else 0.4,
        ess=None if path == "run" else 812.5,
        recorded_at=when,
        **fields,  # type: ignore[arg-type]
    )


def record_in_process(directory: str, fitted_through: str, barrier: Barrier) -> None:
    """Record one nowcast into the store in ``directory`` once the other process is ready."""
    with Store(directory) as st:
        barrier.wait(timeout=60)
        st.record_nowcast(record(fitted_through))
