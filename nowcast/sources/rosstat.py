"""Rosstat monthly electricity **production** by federal subject (indicator
``ELECTR_VOL_MLN_KWT``, million kWh), in the wide layout of ``epogrebnyak/data-rosstat-806-
regional``: ``date,varname,`` then one column per area, headed by its Russian name.

This is production (generation), not consumption: regions that import or export power differ
a lot between the two (Irkutsk 2015-02: production 4,167, consumption 4,640). The file covers
2010-01 to 2016-01, before the mining boom: use it for seasonal shapes and cross-checks only.

Headers: federal subjects map to ISO 3166-2:RU codes (``nowcast.regions_ru``) and
``Российская Федерация`` to ``RU``. Aggregates are skipped: federal districts
(``... федеральный округ``) and the composites ``Архангельская область без авт. округа`` and
``Тюменская область без авт. округов``. Note that Rosstat's Arkhangelsk and Tyumen oblasts
include their autonomous okrugs, which also have their own columns. A header that is neither
a known subject nor an aggregate is an error. Empty cells are not observations.

Publication: Rosstat's monthly regional industrial data appear about five to six weeks after
the month; rule: month end + 40 days. A month that ended less than 40 days before the ingest
day is refused (no partial months).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

import nowcast.regions_ru  # noqa: F401  (registers every federal subject)
from nowcast.errors import SourceError
from nowcast.regions import region_code
from nowcast.sources.base import (
    LINE,
    Source,
    check_unique,
    column_cells,
    csv_recogniser,
    lag,
    month_end,
    observation_columns,
    read_table,
    to_date,
    to_number,
    validate,
)

SERIES = "electricity_production_mln_kwh"
UNIT = "million kWh"
VARNAME = "ELECTR_VOL_MLN_KWT"
PUBLICATION_LAG_DAYS = 40
OBSERVER = "Rosstat"

_DISTRICT = re.compile(r"федеральный округ$", re.IGNORECASE)
_WITHOUT = re.compile(r"\sбез\s", re.IGNORECASE)  # "... без авт. округа/округов"

TIDY = pa.DataFrameSchema(
    {
        "period_start": pa.Column("datetime64[ns]"),
        "period_end": pa.Column("datetime64[ns]"),
        "region": pa.Column(str, pa.Check.str_length(min_value=1)),
        "area": pa.Column(str),
        SERIES: pa.Column(float, pa.Check.ge(0)),
    },
    unique=["period_start", "region"],
    strict=False,
)


def is_aggregate(header: str) -> bool:
    """A federal district or an oblast-without-its-okrugs composite: not a region here."""
    return bool(_DISTRICT.search(header) or _WITHOUT.search(f" {header} "))


def area_codes(path: Path, headers: list[str]) -> dict[str, str]:
    """Map each area header to its region code, skipping aggregates; an unknown header or
    two headers for one region are errors naming the field (``read_table`` refuses a header
    given twice)."""
    codes: dict[str, str] = {}
    seen: dict[str, str] = {}
    for header in headers:
        if is_aggregate(header):
            continue
        code = region_code(header)
        if code is None:
            raise SourceError(
                path,
                "unknown area: expected a federal subject (add it to nowcast/regions_ru.py),"
                " a federal district or Российская Федерация",
                line=1,
                field=header,
            )
        if code in seen:
            raise SourceError(
                path,
                f"same region {code} as column {seen[code]!r}: expected one column per region",
                line=1,
                field=header,
            )
        seen[code] = header
        codes[header] = code
    return codes


def _only_this_indicator(header: list[str], rows: list[list[str]]) -> bool:
    """The layout ``date,varname,...`` holds many Rosstat indicators: this source reads one."""
    cells = column_cells(header, rows, "varname")
    return bool(cells) and all(c == VARNAME for c in cells)


def parse(path: Path) -> pd.DataFrame:
    """Long tidy table: one row per month and region with a value (empty cells dropped)."""
    raw = read_table(path, ["date", "varname"])
    areas = [c for c in raw.columns if c not in ("date", "varname", LINE)]
    if not areas:
        raise SourceError(path, "no area columns after date,varname", line=1)
    codes = area_codes(path, areas)
    varname = raw["varname"].astype(str).str.strip()
    wrong = varname.ne(VARNAME)
    if wrong.any():
        i = wrong.to_numpy().nonzero()[0][0]
        raise SourceError(
            path,
            f"expected varname {VARNAME} (electricity production, million kWh),"
            f" got {varname.iloc[i]!r}",
            line=int(raw[LINE].iloc[i]),
            field="varname",
        )
    day = to_date(path, raw, "date")
    start = (day.dt.to_period("M").dt.start_time).astype("datetime64[ns]")
    off = start.ne(day)
    if off.any():
        i = off.to_numpy().nonzero()[0][0]
        raise SourceError(
            path,
            f"expected the first day of a month, got {raw['date'].iloc[i]!r}",
            line=int(raw[LINE].iloc[i]),
            field="date",
        )
    check_unique(path, raw.assign(date=day), ["date"], "month")
    parts = []
    for header, code in codes.items():
        value = to_number(path, raw, header, allow_missing=True)
        negative = value < 0
        if negative.any():
            i = negative.to_numpy().nonzero()[0][0]
            raise SourceError(
                path,
                f"expected a production volume >= 0, got {raw[header].iloc[i]!r}",
                line=int(raw[LINE].iloc[i]),
                field=header,
            )
        part = pd.DataFrame(
            {
                "period_start": start,
                "period_end": month_end(start),
                "region": code,
                "area": header,
                SERIES: value,
                LINE: raw[LINE],
            }
        )
        parts.append(part[value.notna()])
    tidy = pd.concat(parts, ignore_index=True)
    return validate(path, tidy, TIDY, fields={"period_start": "date"})


def observe(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per month and region; published month end + 40 days."""
    obs = tidy.assign(
        series=SERIES,
        value=tidy[SERIES].astype(float),
        unit=UNIT,
        published=lag(tidy["period_end"], PUBLICATION_LAG_DAYS),
        observer=OBSERVER,
        note="production (generation), not consumption",
    )
    return obs[observation_columns(obs)].reset_index(drop=True)


SOURCE = Source(
    name="rosstat_regional_production",
    publisher="Rosstat (Federal State Statistics Service)",
    title=(
        "Monthly electricity production by federal subject (ELECTR_VOL_MLN_KWT): production,"
        " not consumption; useful for seasonal shapes only"
    ),
    file_format=(
        "CSV: date,varname, then one column per area headed by its Russian name"
        " (federal subjects and federal districts; empty cells allowed)"
    ),
    units="million kWh per month",
    licence="Rosstat official statistics; reuse with a reference to the source",
    published_rule="month end + 40 days",
    parse=parse,
    observe=observe,
    period_fields=("date", "date"),
    recognise=csv_recogniser(["date", "varname"], check=_only_this_indicator),
    url="https://github.com/epogrebnyak/data-rosstat-806-regional",
)
