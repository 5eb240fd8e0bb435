"""Published electricity figures for many Russian regions, joint energy systems and the united
energy systems, 2011-2025: ``data/electricity_regional_points.csv``, hand-compiled from news
pages that relay the System Operator's regional dispatch offices (RDU, ODU), regional
governments, ACRA and Rosseti. One row per published figure, each with its page.

Columns (header required, UTF-8, comma-separated; quote a cell that holds a comma):

============  ==========================================================================
column        meaning
============  ==========================================================================
area          the area's code in ``data/geography.csv`` (``nowcast.geography``): a region
              (``RU-IRK``), a joint energy system (``RU-SPE+RU-LEN``), a united energy system
              (``OES-SIBERIA``), the country (``UES-RU``, ``RU``), or ``SIBERIA`` (scope not
              stated); kept as written, never split
area_name     the area's name as the compiler wrote it (not read further)
period_start  first day the figure covers (YYYY-MM-DD)
period_end    last day it covers, inclusive; a point-in-time load covers one day or its month
measure       one of ``MEASURES`` below
value         the figure, in the measure's unit
bound         ``exact``, or ``lower`` where the page says "more than" / "exceeded"
published     the page's date (YYYY-MM-DD), or empty where the page does not show it
source_url    the page the figure was read on (http or https)
note          free text: the figure as stated, conversions, caveats
============  ==========================================================================

Measures, stored series and units (the series are distinct from those the model reads, such as
``electricity_consumption_mln_kwh`` and ``mining_load_mw``, so these figures reach the model
only through evidence that names them):

- ``consumption_mln_kwh`` -> ``regional_consumption_mln_kwh``, ``million kWh`` over the period
  (a month, a quarter, a year-to-date window, a season, a year); more than 0
- ``consumption_yoy_pct`` -> ``regional_consumption_yoy_pct``, ``percent``: the change on the
  same period a year earlier (a ratio of two period sums), from -50 to +100 (the largest in the
  file is Ingushetia's +40.8% in 2024; a level or a ratio such as 1.036 typed into the wrong
  measure falls outside or is told by its note)
- ``mining_load_mw`` -> ``regional_mining_load_mw``, ``MW``, a published mining load; more
  than 0
- ``mining_consumption_mln_kwh`` -> ``regional_mining_consumption_mln_kwh``, ``million kWh``
  taken by miners over the period; more than 0

The store has no bound column, so a lower bound is kept as what it is under its own series,
the measure's series with ``_lower_bound`` appended (``regional_consumption_mln_kwh_lower_bound``):
never mistaken for an exact level.

Observer: the file names no attribution column, and who stated a figure is free text in the
note; the page is named by every row. The observer is therefore the relaying site, the host of
``source_url`` without ``www.`` or a mobile ``m.`` (``interfax-russia.ru``, ``so-ups.ru``); the
URL is kept in the note. Two sites relaying figures for one area and period are two
observations, not a revision (Irkutsk 2022: 64,400 and 64,300 million kWh).

Publication dates: the ``published`` cell where the page shows it. Where it is empty, the rule
(conservative: a figure should not be seen in an as-of query before its release):

- periods shorter than a year (months, quarters, year-to-date windows, seasons, point-in-time
  loads): **period end + 30 days**. The System Operator's regional dispatch offices issue the
  month's consumption release, with the year-to-date total and both changes, within days to
  three weeks of the month's end: the dated monthly and year-to-date rows in this file appeared
  4 to 26 days after their period, and pages dated only by their month (taken as its last day)
  30 days after. So 30 days is at or after every dated release of this kind in the file.
- a year or longer: **period end + 120 days** (about the end of April). Annual totals come
  later and from more voices: the System Operator's own within a few weeks (OES East 2022: 13
  days), a regional statistics office or ACRA's review in spring (Khakassia 2011: 72 days),
  ministers quoting a year at later press conferences and forums (139 to 504 days in the
  file). 120 days is after the dispatch offices' and most reviews' releases; a year first
  stated later (a minister's speech, a Rosstat office's annual table) is dated too early by the
  rule, and its ``published`` cell should then be filled.

Dates: a published cell (or a rule date) after the ingest day is refused, and so is a period
beginning after it. A published cell must follow the period's end, except for a mining load,
which is stated for a moment and may appear on its period's last day (a load "at 1 July 2024"
published that day). The file is kept by hand: its last line may lack a newline (``note`` is
last).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pandas as pd
import pandera.pandas as pa

from nowcast import geography
from nowcast.errors import SourceError
from nowcast.sources.base import (
    LINE,
    Source,
    check_dates,
    check_period_order,
    check_unique,
    csv_recogniser,
    fail_first_row,
    ingest_day,
    observation_columns,
    read_table,
    to_date,
    to_number,
    validate,
    validate_observations,
)

COLUMNS = [
    "area",
    "area_name",
    "period_start",
    "period_end",
    "measure",
    "value",
    "bound",
    "published",
    "source_url",
    "note",
]


class Measure(NamedTuple):
    """How one measure is stored: series, unit and the allowed values (``low`` exclusive when
    ``positive``)."""

    series: str
    unit: str
    low: float
    high: float
    positive: bool


MEASURES: dict[str, Measure] = {
    "consumption_mln_kwh": Measure("regional_consumption_mln_kwh", "million kWh", 0, 2e6, True),
    "consumption_yoy_pct": Measure("regional_consumption_yoy_pct", "percent", -50, 100, False),
    "mining_load_mw": Measure("regional_mining_load_mw", "MW", 0, 1e5, True),
    "mining_consumption_mln_kwh": Measure(
        "regional_mining_consumption_mln_kwh", "million kWh", 0, 2e6, True
    ),
}
BOUNDS = ("exact", "lower")
LOWER_BOUND_SUFFIX = "_lower_bound"
# Figures stated for a moment: their page may appear on the period's last day, or within it.
POINT_MEASURES = ("mining_load_mw",)

YEAR_DAYS = 365  # a period this long or longer is dated by the annual lag
SHORT_LAG_DAYS = 30
YEAR_LAG_DAYS = 120

_HOST_PREFIX = re.compile(r"^(www\d*|m)\.")

TIDY = pa.DataFrameSchema(
    {
        "area": pa.Column(str, pa.Check.str_length(min_value=1)),
        "period_start": pa.Column("datetime64[ns]"),
        "period_end": pa.Column("datetime64[ns]"),
        "measure": pa.Column(str, pa.Check.isin(list(MEASURES))),
        "value": pa.Column(float),
        "bound": pa.Column(str, pa.Check.isin(list(BOUNDS))),
        "published": pa.Column("datetime64[ns]", nullable=True),
        "observer": pa.Column(str, pa.Check.str_length(min_value=1)),
        "url": pa.Column(str, pa.Check.str_length(min_value=1)),
        "note": pa.Column(str),
    },
    strict=False,
)


def series_name(measure: str, bound: str) -> str:
    """The stored series of a measure: its own, or its lower-bound series."""
    series = MEASURES[measure].series
    return series + LOWER_BOUND_SUFFIX if bound == "lower" else series


def observer_of(url: str) -> str:
    """The relaying site of a page: the URL's host, lower case, without ``www.`` or ``m.``
    (``https://www3.interfax-russia.ru/...`` -> ``interfax-russia.ru``); empty when the URL has
    no host."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return _HOST_PREFIX.sub("", host.lower())


def rule_published(start: pd.Series, end: pd.Series) -> pd.Series:
    """The lag rule: period end + 30 days, or + 120 days for a period of a year or longer."""
    days = (end - start).dt.days + 1
    lag = days.ge(YEAR_DAYS).map({True: YEAR_LAG_DAYS, False: SHORT_LAG_DAYS})
    return (end + pd.to_timedelta(lag.astype(int), unit="D")).astype("datetime64[ns]")


def _check_values(path: Path, raw: pd.DataFrame, measure: pd.Series, value: pd.Series) -> None:
    """Levels more than 0; every value inside its measure's range."""
    spec = measure.map(MEASURES)
    low = spec.map(lambda m: m.low)
    high = spec.map(lambda m: m.high)
    positive = spec.map(lambda m: m.positive).astype(bool)
    out = (value > high) | (value < low) | (positive & value.le(0))
    if out.any():
        i = out.to_numpy().nonzero()[0][0]
        m = MEASURES[measure.iloc[i]]
        above = f"more than {m.low:,.0f}" if m.positive else f"from {m.low:,.0f}"
        raise SourceError(
            path,
            f"value {raw['value'].iloc[i]} is out of range for {measure.iloc[i]}: expected"
            f" {above} to {m.high:,.0f} {m.unit}",
            line=int(raw[LINE].iloc[i]),
            field="value",
        )


def parse(path: Path) -> pd.DataFrame:
    """One row per figure, checked: known area (``data/geography.csv``), measure and bound,
    a number in the measure's range, ISO dates in order, a publication date after the period
    (where the file states one), an http(s) page. ``published`` is NaT where the cell is empty
    (``observe`` applies the lag rule) and ``by_rule`` says so."""
    raw = read_table(path, COLUMNS, free_text=["note"])
    raw = raw.assign(**{c: raw[c].astype(str).str.strip() for c in COLUMNS})
    areas = geography.load_geography()
    fail_first_row(
        path,
        raw,
        ~raw["area"].isin(list(areas.areas)),
        "area",
        "unknown area {value!r}: expected a code of "
        + str(areas.path).replace("{", "{{").replace("}", "}}")
        + " (RU-IRK, RU-SPE+RU-LEN, OES-SIBERIA, UES-RU, ...; a new area goes there first,"
        " with its kind and energy system)",
    )
    fail_first_row(path, raw, raw["area_name"].eq(""), "area_name", "area_name is empty")
    fail_first_row(
        path,
        raw,
        ~raw["measure"].isin(list(MEASURES)),
        "measure",
        f"unknown measure {{value!r}}: expected one of {list(MEASURES)}",
    )
    fail_first_row(
        path,
        raw,
        ~raw["bound"].isin(list(BOUNDS)),
        "bound",
        f"unknown bound {{value!r}}: expected one of {list(BOUNDS)}",
    )
    value = to_number(path, raw, "value")
    _check_values(path, raw, raw["measure"], value)
    start = to_date(path, raw, "period_start")
    end = to_date(path, raw, "period_end")
    stated = raw["published"].ne("")
    published = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if stated.any():
        published[stated] = to_date(path, raw[stated], "published")
    observer = raw["source_url"].map(observer_of)
    fail_first_row(
        path,
        raw,
        ~raw["source_url"].str.match(r"^https?://") | observer.eq(""),
        "source_url",
        "expected the page's address as http(s)://host/..., got {value!r}",
    )
    tidy = pd.DataFrame(
        {
            "area": raw["area"],
            "period_start": start,
            "period_end": end,
            "measure": raw["measure"],
            "value": value,
            "bound": raw["bound"],
            "published": published,
            "by_rule": ~stated,
            "observer": observer,
            "url": raw["source_url"],
            "note": raw["note"],
            LINE: raw[LINE],
        }
    )
    check_period_order(path, tidy)
    point = tidy["measure"].isin(POINT_MEASURES)
    fail_first_row(
        path,
        tidy,
        stated & ~point & (published <= end),
        "published",
        "published {published:%Y-%m-%d} is not after the period's end {period_end:%Y-%m-%d}:"
        " expected a figure over a period to appear after it (a mining load may appear on its"
        " period's last day)",
    )
    fail_first_row(
        path,
        tidy,
        stated & point & (published < start),
        "published",
        "published {published:%Y-%m-%d} is before the period {period_start:%Y-%m-%d}:"
        " expected a load to be published once its period has begun",
    )
    check_unique(
        path,
        tidy.assign(
            **{c: tidy[c].dt.strftime("%Y-%m-%d") for c in ("period_start", "period_end")},
            published=tidy["published"].dt.strftime("%Y-%m-%d").fillna(""),
        ),
        ["area", "period_start", "period_end", "measure", "bound", "observer", "published"],
        "figure",
    )
    return validate(path, tidy, TIDY, fields={"url": "source_url"})


def observe(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per row: the measure's series (``_lower_bound`` for a lower bound), the
    area code as the region, the relaying site as observer, the page in the note, and the
    file's publication date or the lag rule's."""
    published = tidy["published"].where(
        ~tidy["by_rule"], rule_published(tidy["period_start"], tidy["period_end"])
    )
    source = "source: " + tidy["url"]
    note = (tidy["note"] + "; " + source).where(tidy["note"].ne(""), source)
    obs = tidy.assign(
        series=[series_name(m, b) for m, b in zip(tidy["measure"], tidy["bound"], strict=True)],
        region=tidy["area"],
        unit=tidy["measure"].map(lambda m: MEASURES[m].unit),
        published=published.astype("datetime64[ns]"),
        note=note,
    )
    return obs[observation_columns(obs)].reset_index(drop=True)


@dataclass(frozen=True)
class RegionalPointsSource(Source):
    """``Source`` whose rows are dated partly by the file and partly by the rule: a date after
    the ingest day is refused naming ``published`` where the file states it, and the period's
    end (with the rule) where it does not."""

    def finish(
        self,
        path: Path,
        tidy: pd.DataFrame,
        obs: pd.DataFrame,
        published: pd.Timestamp | None,
        today: pd.Timestamp | None,
    ) -> pd.DataFrame:
        """Check dates row by row as the file or the rule dates them, then validate."""
        if published is not None or "by_rule" not in tidy.columns:
            return super().finish(path, tidy, obs, published, today)
        day = ingest_day() if today is None else pd.Timestamp(today).normalize()
        by_rule = obs[LINE].isin(set(tidy.loc[tidy["by_rule"], LINE]))
        errors = []
        for part, src in (
            (obs[~by_rule], self),
            (obs[by_rule], dataclasses.replace(self, published_in_file=False)),
        ):
            try:
                check_dates(path, part, src, today=day, fields=self.period_fields)
            except SourceError as exc:
                errors.append(exc)
        if errors:
            raise min(errors, key=lambda e: e.line or 0)
        return validate_observations(obs, path)


SOURCE = RegionalPointsSource(
    name="regional_electricity_points",
    publisher=(
        "System Operator of the UES (regional and united dispatch offices), regional"
        " governments, ACRA, Rosseti; as relayed by news pages (one per row)"
    ),
    title="Published electricity figures across Russia's regions and energy systems",
    file_format=(
        "CSV: area,area_name,period_start,period_end,measure,value,bound,published,source_url,"
        "note (measure consumption_mln_kwh, consumption_yoy_pct, mining_load_mw or"
        " mining_consumption_mln_kwh; bound exact or lower; area a code of data/geography.csv)"
    ),
    units="million kWh over the period, percent change on a year earlier, MW",
    licence="official figures quoted by the press; cite each row's page",
    published_rule=(
        "from the file (published column); where it is empty: period end + 30 days for periods"
        " shorter than a year (the regional dispatch offices' monthly releases, with their"
        " year-to-date totals, appear within days to three weeks), period end + 120 days for a"
        " year or longer (annual totals come from more voices, into the spring)"
    ),
    parse=parse,
    observe=observe,
    period_fields=("period_start", "period_end"),
    recognise=csv_recogniser(COLUMNS),
    url="https://www.so-ups.ru",
    published_in_file=True,
    # a point-in-time load may be published on its period's last day; parse checks that every
    # other figure's stated date follows its period, and the rule dates follow it by design
    partial_periods=True,
)
