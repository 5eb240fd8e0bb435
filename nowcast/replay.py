"""Replaying the bundled real data as it landed: the data cut at a date, then each later
month's figures as a release of its own.

Every figure these functions write is a REAL published figure from the bundled data
(``data/``, provenance in ``data/SOURCES.md``), unchanged; only *when* it reaches the store is
replayed. ``initial_data(folder, until)`` writes a data folder (with its manifest) holding
every bundled file cut at ``until``: rows dated after it are left out (by the file's own date
column; for release tables, by their publication date). ``write_slice(name, folder, start,
end)`` writes the rows of one bundled file dated from ``start`` to ``end`` as a new file: the
release of that month, as ``nowcast update`` would receive it. ``source_of(name)`` names the
source that parses a bundled file.

The tests (``tests/test_update.py``), the benchmarks and ``notebooks/05_updates.py`` replay
monthly releases with these functions.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from nowcast.datasets import bundled_data_dir, read_manifest

DATA_DIR = bundled_data_dir()

# bundled file -> the column that dates a row for slicing
DATE_COLUMN = {
    "coinmetrics_btc_daily.csv": "time",
    "usd_rub_cbr_daily.csv": "date",
    "cbr_key_rate_daily.csv": "date",
    "brent_daily_eia.csv": "Date",
    "brent_monthly_eia.csv": "Date",
    "bop_cbr_releases_2019_2025.csv": "published",
    "electricity_published_points.csv": "period_end",
    "published_estimates.csv": "published",
    "electricity_regional_points.csv": "period_end",
}


def _rows(name: str) -> tuple[list[str], list[list[str]]]:
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    records = list(csv.reader(io.StringIO(text, newline="")))
    return records[0], [r for r in records[1:] if r]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _dated(name: str, start: str | None, end: str) -> tuple[list[str], list[list[str]]]:
    header, rows = _rows(name)
    col = header.index(DATE_COLUMN[name])
    lo = pd.Timestamp(start) if start is not None else pd.Timestamp.min
    hi = pd.Timestamp(end)
    keep = [r for r in rows if r[col] and lo <= pd.Timestamp(r[col][:10]) <= hi]
    return header, keep


def initial_data(folder: Path, until: str, cutoffs: dict[str, str] | None = None) -> Path:
    """A data folder with every bundled file cut at ``until`` (inclusive), or at its own date
    in ``cutoffs`` (file name -> last date kept: figures held back for a later release).
    The figures are the REAL bundled ones; files without a date column are copied whole."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(DATA_DIR)
    lines = ["[files]"]
    cutoffs = cutoffs or {}
    for name, source in manifest.items():
        if name in DATE_COLUMN:
            header, rows = _dated(name, None, cutoffs.get(name, until))
            _write(folder / name, header, rows)
        else:
            (folder / name).write_bytes((DATA_DIR / name).read_bytes())
        lines.append(f'"{name}" = "{source}"')
    (folder / "MANIFEST.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def write_slice(
    name: str, folder: Path, start: str, end: str, *, as_name: str | None = None
) -> Path:
    """The rows of bundled file ``name`` dated ``start`` to ``end`` (inclusive) as a new file in
    ``folder`` (``<stem>_<YYYY-MM>.csv``, or ``as_name``): one release of REAL figures, replayed
    as it landed. ``ValueError`` when no row falls in the range."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    header, rows = _dated(name, start, end)
    if not rows:
        raise ValueError(f"{name}: no rows dated {start} to {end}")
    stem = Path(name).stem
    target = folder / (as_name or f"{stem}_{start[:7]}.csv")
    return _write(target, header, rows)


def source_of(name: str) -> str:
    """The source that parses bundled file ``name`` (from the bundled ``MANIFEST.toml``)."""
    return read_manifest(DATA_DIR)[name]


__all__ = ["DATA_DIR", "DATE_COLUMN", "initial_data", "source_of", "write_slice"]
