"""The report's machine-readable files: ``summary.csv``, ``summary.json`` and one
``forecast_<scenario>.csv`` per scenario, each written atomically."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from nowcast.files import write_csv, write_text
from nowcast.report.summaries import forecast_frame

UNITS = {"hidden_inflow_usd": "USD per month", "usd_rub": "RUB per USD"}


def _json_default(o: Any) -> Any:
    if isinstance(o, pd.Timestamp | datetime):
        return o.isoformat()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def write_summary(
    summary: pd.DataFrame,
    out_dir: Path,
    *,
    metadata: dict[str, Any],
    headline: dict[str, Any],
    ragged_edge_start: pd.Timestamp | None,
) -> tuple[Path, Path]:
    """``summary.csv`` (the rows of ``summary``, months as YYYY-MM-DD) and ``summary.json``
    (the same rows with the run's metadata, the headline, the ragged edge and the units)."""
    out = summary.assign(month=summary["month"].dt.strftime("%Y-%m-%d"))
    csv_path = write_csv(out, out_dir / "summary.csv")
    payload = {
        "metadata": metadata,
        "headline": headline,
        "ragged_edge_start": (
            f"{ragged_edge_start:%Y-%m}" if ragged_edge_start is not None else None
        ),
        "units": UNITS,
        "rows": json.loads(out.to_json(orient="records", double_precision=15)),
    }
    text = json.dumps(payload, indent=1, default=_json_default, allow_nan=False)
    return csv_path, write_text(text, out_dir / "summary.json")


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "scenario"


def write_forecasts(forecasts: dict[str, xr.Dataset], out_dir: Path) -> dict[str, Path]:
    """``forecast_<scenario>.csv`` per scenario (names made safe for a file system, and
    numbered when two become equal); scenario name -> path."""
    paths: dict[str, Path] = {}
    for name, ds in forecasts.items():
        stem, k = f"forecast_{_safe_name(name)}", 1
        while out_dir / f"{stem}.csv" in paths.values():
            stem, k = f"forecast_{_safe_name(name)}_{k}", k + 1
        paths[name] = write_csv(forecast_frame(ds), out_dir / f"{stem}.csv")
    return paths
