"""Small real samples of every registered source and the hostile edits the tests make to them.

A source is sampled from its bundled file in ``data/`` (found through ``MANIFEST.toml``): the
header and the first rows, extended to whole periods (CBECI's shares of one month must sum to
100%). A source without a bundled file needs an entry in ``EXTRA_SAMPLES``; the tests that run
over the registry fail for a source that has neither, so a new source is covered from the day
it is registered.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from nowcast.datasets import read_manifest
from nowcast.sources import SOURCES
from nowcast.sources.base import Source

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
# The ingest day of these tests: after every bundled figure's publication date (the latest,
# Brent's December 2025 average, is published 2026-01-07 by its rule).
TODAY = "2026-06-30"
HEAD_ROWS = 20

EXTRA_SAMPLES: dict[str, tuple[str, str]] = {
    "generic": (
        "generic_figures.csv",
        "series,region,period_start,period_end,value,unit,published,observer,note\n"
        "mining_load_mw,RU-IRK,2023-01-01,2023-01-31,800,MW,2023-02-15,Irkutsk government,"
        '"January load, about 800 MW"\n'
        "mining_load_mw,RU-IRK,2023-02-01,2023-02-28,850,MW,2023-03-20,Irkutsk government,\n"
        "mining_load_mw,RU,2023-01-01,2023-12-31,2100.5,MW,2024-02-01,Ministry of Energy,"
        "yearly mean\n"
        "mining_power_gw,RU,2024-07-01,2024-07-31,2.5,GW,2024-07-15,press,point in time\n",
    ),
}

# Cells that hold a date or a period label: ISO day or month, quarter, year-to-date range,
# the CBR's dd.mm.yyyy. A bare year counts only in a source's period columns.
_DATE_CELL = re.compile(
    r"^(\d{4}-\d{2}(-\d{2})?|\d{4}Q[1-4]|\d{4}-\d{2}/\d{4}-\d{2}|\d{2}\.\d{2}\.\d{4})$"
)
_YEAR = re.compile(r"\d{4}")
_BARE_YEAR = re.compile(r"^\d{4}$")


def split_rows(text: str) -> list[list[str]]:
    """The records of a CSV text (quoted cells may hold commas)."""
    return list(csv.reader(io.StringIO(text, newline="")))


def join_rows(rows: list[list[str]]) -> str:
    """Records back to CSV text, every row ending with a newline."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@dataclass(frozen=True)
class Sample:
    """The first rows of a source's real file, as the publisher wrote them."""

    source: Source
    name: str
    text: str

    @property
    def rows(self) -> list[list[str]]:
        """Header first."""
        return split_rows(self.text)

    def date_columns(self) -> list[int]:
        """Indices of the columns that date a row (by their cells or the source's fields)."""
        header, *data = self.rows
        period = set(self.source.period_fields) | {"published"}
        cols = []
        for i, name in enumerate(header):
            cells = [r[i] for r in data if r[i]]

            def dated(cell: str, name: str = name) -> bool:
                return bool(_DATE_CELL.match(cell) or (name in period and _BARE_YEAR.match(cell)))

            if cells and all(dated(c) for c in cells):
                cols.append(i)
        return cols

    def shifted(self, rows: list[list[str]], years: int) -> list[list[str]]:
        """Copies of ``rows`` with every date cell moved by ``years``."""
        cols = self.date_columns()

        def move(cell: str) -> str:
            return _YEAR.sub(lambda m: str(int(m.group()) + years), cell)

        return [[move(c) if i in cols else c for i, c in enumerate(r)] for r in rows]

    def moved_to(self, rows: list[list[str]], year: int) -> list[list[str]]:
        """Copies of ``rows`` with their date cells moved so the first row's year is ``year``."""
        first = self.shifted(rows[:1], 0)[0][self.date_columns()[0]]
        return self.shifted(rows, year - int(first[:4]))

    def last_period_rows(self) -> list[list[str]]:
        """The rows of the last period (all of CBECI's countries of its last month)."""
        header, *data = self.rows
        cols = self.date_columns()
        key = [data[-1][i] for i in cols]
        return [r for r in data if [r[i] for i in cols] == key]


def _head(source: Source, text: str) -> str:
    """Header and the first ``HEAD_ROWS`` rows, extended to the end of the last period."""
    header, *data = split_rows(text)
    field = source.period_fields[0]
    col = header.index(field) if field in header else 0
    n = min(HEAD_ROWS, len(data))
    while n < len(data) and data[n][col] == data[n - 1][col]:
        n += 1
    return join_rows([header, *data[:n]])


@cache
def samples() -> dict[str, Sample]:
    """Every registered source's sample; a source with no sample is missing from the dict."""
    by_source = {src: name for name, src in read_manifest(DATA_DIR).items()}
    out = {}
    for name, source in SOURCES.items():
        if name in by_source:
            file = by_source[name]
            text = (DATA_DIR / file).read_text(encoding="utf-8")
            out[name] = Sample(source, file, _head(source, text))
        elif name in EXTRA_SAMPLES:
            file, text = EXTRA_SAMPLES[name]
            out[name] = Sample(source, file, text)
    return out


def figures(obs: pd.DataFrame) -> pd.DataFrame:
    """The figures of observations, in one order, without free-text notes."""
    cols = ["series", "region", "period_start", "period_end", "observer", "published", "value"]
    return obs[[*cols, "unit"]].sort_values(cols).reset_index(drop=True)
