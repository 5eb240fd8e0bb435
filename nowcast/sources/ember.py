"""Ember yearly electricity data for Russia, as carried by Our World in Data's energy dataset
(``owid-energy-data.csv`` columns ``country,year,iso_code,electricity_demand,
electricity_generation,net_elec_imports,...``; TWh).

Only Russia's rows (``iso_code`` RUS) are read, so the full OWID file works too. In every row
demand = generation + net imports (checked to +-0.05 TWh). Ember's demand runs 3-4% above the
System Operator's UES figure (2022: 1,150.5 against about 1,110 TWh): use it for growth rates,
not for the UES level.

Publication: Ember's yearly data for a year appear in its spring review; rule: year end +
120 days; a year that ended less than 120 days before the ingest day is refused (no partial
years). Licence CC BY 4.0 (attribute Ember and the Energy Institute Statistical Review, via
OWID).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from nowcast.constants import RUSSIA
from nowcast.errors import SourceError
from nowcast.sources.base import (
    LINE,
    Source,
    check_unique,
    csv_recogniser,
    lag,
    melt_wide,
    read_table,
    to_date,
    to_number,
    validate,
)

ISO = "RUS"
COLUMNS = {
    "electricity_demand": "electricity_demand_twh",
    "electricity_generation": "electricity_generation_twh",
    "net_elec_imports": "net_electricity_imports_twh",
}
UNITS = {dst: "TWh" for dst in COLUMNS.values()}
PUBLICATION_LAG_DAYS = 120
BALANCE_TOLERANCE_TWH = 0.05


def _check_balance(path: Path, tidy: pd.DataFrame) -> None:
    """Demand = generation + net imports in every row with all three (+-0.05 TWh)."""
    gap = (
        tidy["electricity_demand_twh"]
        - tidy["electricity_generation_twh"]
        - tidy["net_electricity_imports_twh"]
    )
    bad = gap.abs() > BALANCE_TOLERANCE_TWH
    if bad.any():
        row = tidy[bad].iloc[0]
        raise SourceError(
            path,
            f"demand {row['electricity_demand_twh']} != generation"
            f" {row['electricity_generation_twh']} + net imports"
            f" {row['net_electricity_imports_twh']} (off by {gap[bad].iloc[0]:+.2f} TWh):"
            f" expected them to balance within {BALANCE_TOLERANCE_TWH} TWh",
            line=int(row[LINE]),
            field="electricity_demand",
        )


TIDY = pa.DataFrameSchema(
    {
        "period_start": pa.Column("datetime64[ns]", unique=True),
        "period_end": pa.Column("datetime64[ns]"),
        "electricity_demand_twh": pa.Column(float, pa.Check.gt(0), nullable=True),
        "electricity_generation_twh": pa.Column(float, pa.Check.gt(0), nullable=True),
        "net_electricity_imports_twh": pa.Column(float, nullable=True),
    },
    strict=False,
)


def parse(path: Path) -> pd.DataFrame:
    """Yearly tidy table for Russia: demand, generation and net imports in TWh."""
    raw = read_table(path, ["country", "year", "iso_code", *COLUMNS])
    raw = raw[raw["iso_code"].astype(str).str.strip().eq(ISO)]
    if raw.empty:
        raise SourceError(path, f"no rows with iso_code {ISO}: expected Russia's rows")
    year = to_date(path, raw, "year", "%Y")
    tidy = pd.DataFrame(
        {
            "period_start": year,
            "period_end": (year + pd.offsets.YearEnd(0)).astype("datetime64[ns]"),
            LINE: raw[LINE],
        }
    )
    for src, dst in COLUMNS.items():
        tidy[dst] = to_number(path, raw, src, allow_missing=True)
    check_unique(path, tidy, ["period_start"], "year")
    fields = {dst: src for src, dst in COLUMNS.items()} | {"period_start": "year"}
    tidy = validate(path, tidy.reset_index(drop=True), TIDY, fields=fields)
    _check_balance(path, tidy)
    return tidy


def observe(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per year and series; published year end + 120 days."""
    return melt_wide(
        tidy,
        UNITS,
        region=RUSSIA,
        observer="Ember",
        published=lag(tidy["period_end"], PUBLICATION_LAG_DAYS),
        note="via Our World in Data energy dataset",
    )


SOURCE = Source(
    name="ember_yearly",
    publisher="Ember (Yearly Electricity Data), via Our World in Data",
    title="Russia: yearly electricity demand, generation and net imports",
    file_format=(
        "CSV (OWID energy data): country,year,iso_code,electricity_demand,"
        "electricity_generation,net_elec_imports,... (rows with iso_code RUS are read)"
    ),
    units="TWh per year",
    licence="CC BY 4.0 (attribute Ember and OWID)",
    published_rule="year end + 120 days",
    parse=parse,
    observe=observe,
    period_fields=("year", "year"),
    recognise=csv_recogniser(["country", "year", "iso_code", *COLUMNS]),
    url="https://github.com/owid/energy-data",
)
