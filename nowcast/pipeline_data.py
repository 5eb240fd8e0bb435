"""The pipeline's data steps: ingesting a data folder, the store by source, the as-of panel
(real or SIMULATED) and how far each kind of evidence reaches in it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import xarray as xr

from nowcast.model.spec import ModelSpec, load_spec
from nowcast.pipeline_results import DataOverview, IngestSummary
from nowcast.store import Store, parse_day


def ingest(
    data_dir: str | Path | None = None, store_dir: str | Path | None = None
) -> IngestSummary:
    """Ingest every file a data folder's manifest lists (default: the bundled real data);
    files the store already holds change nothing."""
    from nowcast.datasets import bundled_data_dir, ingest_dir, read_manifest

    data_dir = Path(data_dir) if data_dir is not None else bundled_data_dir()
    read_manifest(data_dir)  # a folder without a readable manifest leaves no store behind
    t0 = time.perf_counter()
    with Store(store_dir) as st:
        results = ingest_dir(st, data_dir)
        path = st.path
    return IngestSummary(
        data_dir=data_dir,
        store_path=path,
        files=len(results),
        new_figures=sum(r.rows_added for r in results),
        seconds=time.perf_counter() - t0,
    )


def store_overview(store_dir: str | Path | None = None) -> pd.DataFrame:
    """The store in one row per source and kind (real or SIMULATED): how many series
    (per region), the end of the latest period any of them covers, and when it last published.
    The full table, a row per series, is ``Store.summary`` (``nowcast data``)."""
    with Store(store_dir, read_only=True) as st:
        summary = st.summary()
    if summary.empty:
        return pd.DataFrame(columns=["source", "kind", "series", "last_period", "last_published"])
    out = (
        summary.groupby(["source", "kind"], sort=True)
        .agg(
            series=("series", "size"),
            last_period=("last_period", "max"),
            last_published=("last_published", "max"),
        )
        .reset_index()
    )
    for col in ("last_period", "last_published"):
        out[col] = pd.to_datetime(out[col])
    return out


def _use_simulated(store: Store, as_of: str | None) -> bool:
    """True when the panel must be built from simulated figures: the store holds none that
    are real by ``as_of`` but some simulated ones (the two never mix in one panel)."""
    if len(store.as_of(as_of)):
        return False
    return bool(len(store.as_of(as_of, simulated=True)))


def load_panel(
    store_dir: str | Path | None = None,
    as_of: str | None = None,
    *,
    start: str | pd.Timestamp | None = None,
    spec: ModelSpec | None = None,
) -> xr.Dataset:
    """The panel of what the store knew on ``as_of`` (default: everything stored), from
    ``start`` (default: the spec's start). Real figures when the store has any by then, else
    SIMULATED ones; ``panel.attrs["data_kind"]`` says which. The window ends at the last
    month every driver reaches; ``panel.attrs["waiting_for"]`` names the drivers later months
    wait for."""
    from nowcast.model.data import trim_to_drivers
    from nowcast.panel import build_panel

    spec = spec or load_spec()
    first = parse_day(start, "start") if start is not None else spec.start
    with Store(store_dir, read_only=True) as st:
        simulated = _use_simulated(st, as_of)
        panel = build_panel(st, as_of=as_of, start=first, simulated=simulated)
    # the window ends where every driver does; ``attrs["waiting_for"]`` names what is missing
    return trim_to_drivers(panel)[0]


def evidence_edge(panel: xr.Dataset, spec: ModelSpec | None = None) -> pd.DataFrame:
    """How far each kind of evidence the spec uses reaches: one row per kind with figures in
    the panel's window (how many, the last month any of them covers, and how many months
    short of the panel's last month that is), plus the drivers, which the model treats as
    known and which therefore reach the last month."""
    from nowcast.model.data import prepare
    from nowcast.model.evidence import REGISTRY

    spec = spec or load_spec()
    data = prepare(panel, spec)
    end = data.months[-1]
    rows = [
        {
            "evidence": "drivers (on-chain, USD/RUB, Brent, key rate)",
            "figures": data.n_months,
            "last_month": end,
        }
    ]
    for name, block in data.blocks.items():
        if not block.n:
            continue
        last = pd.Timestamp(block.labels["period_end"].max()).to_period("M").to_timestamp()
        rows.append({"evidence": REGISTRY[name].label, "figures": block.n, "last_month": last})
    out = pd.DataFrame(rows)
    months = pd.PeriodIndex(out["last_month"], freq="M")
    out["months_behind"] = [max((end.to_period("M") - m).n, 0) for m in months]
    return out


def overview(
    panel: xr.Dataset, store_dir: str | Path | None = None, spec: ModelSpec | None = None
) -> DataOverview:
    """The store by source and the panel's ragged edge by kind of evidence."""
    months = pd.DatetimeIndex(panel["month"].values)
    return DataOverview(
        data_kind=str(panel.attrs.get("data_kind", "real")),
        as_of=str(panel.attrs.get("as_of", "")),
        first_month=months[0],
        last_month=months[-1],
        sources=store_overview(store_dir),
        evidence=evidence_edge(panel, spec),
    )
