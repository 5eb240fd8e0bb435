"""A generic long CSV for any other figure: one row per published figure.

Format (header line required, UTF-8, comma-separated; quote a cell that holds a comma):

============  =======  ======================================================================
column        needed   meaning
============  =======  ======================================================================
series        yes      lower-case name with its unit, matching ``^[a-z][a-z0-9_]*$``
                       (``mining_load_mw``)
period_start  yes      first day the figure covers (YYYY-MM-DD)
period_end    yes      last day it covers, inclusive (YYYY-MM-DD)
value         yes      the figure, a number
unit          yes      the unit as text (``MW``)
region        no       region code from ``nowcast.regions`` (``RU``, ``RU-IRK``, ...) or an area
                       of ``data/geography.csv`` (``OES-SIBERIA``, ``RU-MOW+RU-MOS``); absent or
                       empty means ``RU``
published     no       the day the figure became public (YYYY-MM-DD); without the column
                       every row takes ``--published DATE`` from the command line
observer      no       who states the figure; absent or empty means ``unspecified``
note          no       free text
============  =======  ======================================================================

Without a ``published`` column (or with an empty cell) and without ``--published``, loading
fails with "no published column: pass --published DATE".

Dates: a figure published after the ingest day (by its cell or by ``--published``), or for a
period that begins after it, is refused; a period may still be running when the figure
appears. A last line without a newline is accepted only when ``note`` is the last column (a
cut there changes no figure); otherwise the file looks cut off and is refused.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

import nowcast.regions_ru  # noqa: F401  (registers every federal subject)
from nowcast.constants import RUSSIA
from nowcast.errors import SourceError
from nowcast.regions import region_code
from nowcast.sources.base import (
    LINE,
    Source,
    check_period_order,
    check_unique,
    csv_recogniser,
    fail_first_row,
    observation_columns,
    read_table,
    to_date,
    to_number,
    validate,
)

REQUIRED = ["series", "period_start", "period_end", "value", "unit"]
OPTIONAL = ["region", "published", "observer", "note"]
SERIES_PATTERN = r"^[a-z][a-z0-9_]*$"
DEFAULT_OBSERVER = "unspecified"
NO_PUBLISHED = "no published column: pass --published DATE"

TIDY = pa.DataFrameSchema(
    {
        "series": pa.Column(str, pa.Check.str_matches(SERIES_PATTERN)),
        "region": pa.Column(str, pa.Check.str_length(min_value=1)),
        "period_start": pa.Column("datetime64[ns]"),
        "period_end": pa.Column("datetime64[ns]"),
        "value": pa.Column(float),
        "unit": pa.Column(str, pa.Check.str_length(min_value=1)),
        "published": pa.Column("datetime64[ns]", nullable=True),
        "observer": pa.Column(str),
        "note": pa.Column(str),
    },
    strict=False,
)


def parse(path: Path) -> pd.DataFrame:
    """The rows as a tidy long table; ``published`` is NaT where the file gives none."""
    raw = read_table(path, REQUIRED, free_text=["note"])
    for col in OPTIONAL:
        if col not in raw.columns:
            raw[col] = ""
    raw = raw.assign(**{c: raw[c].astype(str).str.strip() for c in REQUIRED + OPTIONAL})
    fail_first_row(
        path,
        raw,
        ~raw["series"].str.fullmatch(SERIES_PATTERN),
        "series",
        "series {value!r} is not a valid name: expected lower-case letters, digits and"
        f" underscores, starting with a letter ({SERIES_PATTERN})",
    )
    fail_first_row(
        path, raw, raw["unit"].eq(""), "unit", "unit is empty: expected the unit as text"
    )
    region = raw["region"].where(raw["region"].ne(""), RUSSIA)
    codes = region.map(_area_code)
    fail_first_row(
        path,
        raw.assign(region=region),
        codes.isna(),
        "region",
        "unknown region code {value!r}: expected a code from nowcast.regions (RU, RU-IRK, ...)"
        " or an area of data/geography.csv (OES-SIBERIA, RU-MOW+RU-MOS, ...)",
    )
    has_published = raw["published"].ne("")
    published = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if has_published.any():
        published[has_published] = to_date(path, raw[has_published], "published")
    observer = raw["observer"].where(raw["observer"].ne(""), DEFAULT_OBSERVER)
    tidy = pd.DataFrame(
        {
            "series": raw["series"],
            "region": codes.astype(str),
            "period_start": to_date(path, raw, "period_start"),
            "period_end": to_date(path, raw, "period_end"),
            "value": to_number(path, raw, "value"),
            "unit": raw["unit"],
            "published": published,
            "observer": observer,
            "note": raw["note"],
            LINE: raw[LINE],
        }
    )
    check_period_order(path, tidy)
    keys = ["series", "region", "period_start", "period_end", "observer", "published"]
    check_unique(path, tidy.assign(published=tidy["published"].astype(str)), keys, "figure")
    return validate(path, tidy, TIDY)


def observe(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per row; rows without a publication date keep NaT, to be set by
    ``--published`` (``Source.load(path, published=...)``)."""
    return tidy[observation_columns(tidy)].reset_index(drop=True)


def check_published(path: Path, tidy: pd.DataFrame) -> None:
    """Refuse rows without a publication date (when ``--published`` is not given)."""
    missing = tidy["published"].isna()
    if missing.all():
        raise SourceError(path, NO_PUBLISHED, line=1, field="published")
    if missing.any():
        row = tidy[missing].iloc[0]
        raise SourceError(
            path,
            "the published cell is empty: give the date or pass --published DATE",
            line=int(row[LINE]),
            field="published",
        )


@dataclass(frozen=True)
class GenericSource(Source):
    """``Source`` whose ``load`` refuses missing publication dates with a clear message
    instead of a schema failure on NaT."""

    def load(
        self,
        path: str | Path,
        published: pd.Timestamp | None = None,
        *,
        today: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Parse ``path`` into validated canonical observations; without ``published`` every
        row must state its publication date."""
        path = Path(path)
        tidy = self.parse(path)
        if published is None:
            check_published(path, tidy)
        return self.finish(path, tidy, self.observe(tidy), published, today)


SOURCE = GenericSource(
    name="generic",
    publisher="any (observer column, one per row)",
    title="Generic long CSV of dated figures",
    file_format=(
        "CSV: series,period_start,period_end,value,unit required;"
        " region,published,observer,note optional (see the module docstring)"
    ),
    units="per row (unit column)",
    licence="as for each row's observer",
    published_rule="from the published column, or --published DATE for every row",
    parse=parse,
    observe=observe,
    period_fields=("period_start", "period_end"),
    # Only its own columns: published_estimates has all of REQUIRED too, plus publisher
    # and url, and a file with columns generic would ignore is not plainly generic.
    recognise=csv_recogniser(REQUIRED, only=REQUIRED + OPTIONAL),
    published_in_file=True,
    # any figure: a point-in-time one may cover a period still running when it appears
    partial_periods=True,
)


def _area_code(name: str) -> str | None:
    """A region's code (``nowcast.regions``), or an area code of the geography table (an
    energy system, a joint area) as written; ``None`` when it is neither."""
    code = region_code(name)
    if code is not None:
        return code
    name = name.strip()
    return name if name in _geography_areas() else None


@functools.cache
def _geography_areas() -> frozenset[str]:
    """The area codes of the bundled geography table, read once (not once per row)."""
    from nowcast.geography import load_geography

    return frozenset(load_geography().areas)
