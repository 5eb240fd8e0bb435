"""Dated published figures on Russian Bitcoin mining (officials, industry bodies, the press):
``data/published_estimates.csv``, a plain CSV that users extend when a new figure appears.

Format, one row per published figure (header line required, UTF-8, comma-separated; quote a
cell that holds a comma):

============  ==========================================================================
column        meaning
============  ==========================================================================
series        what the figure measures, one of ``SERIES`` below
region        region code (``RU``, ``RU-IRK``, ...; see ``nowcast.regions``)
period_start  first day the figure covers (YYYY-MM-DD)
period_end    last day it covers, inclusive; a point-in-time figure (a load in July 2023)
              covers its month, 2023-07-01..2023-07-31
value         the figure in ``unit``; for a range (1.3-1.7 GW) the midpoint, with the range
              in ``note``
unit          must be the series' unit (below)
publisher     who states the figure (becomes the observation's ``observer``)
published     the day the figure became public (YYYY-MM-DD); when only the month or year is
              known, the last day of it, and say so in ``note``
url           the page it was read on (may be empty)
note          free text: the figure as stated, conversions, how the dates were chosen
============  ==========================================================================

Series and units:

- ``hashrate_share``: Russia's share of the global hash rate (or mining capacity), unit
  ``fraction``, 0..1
- ``mining_power_gw``: mining power draw or capacity, ``GW``
- ``btc_mined_btc``: BTC mined over the period, ``BTC``
- ``mining_load_mw``: a region's mining load, ``MW``
- ``mining_electricity_twh``: electricity used by mining over the period, ``TWh``
- ``mining_revenue_usd_bn``: mining revenue over the period, ``USD bn`` (figures stated in
  RUB are converted at the period's mean Bank of Russia rate, said in ``note``)

The file does not hold the CBECI monthly shares (source ``cbeci_mining_map``) nor regional
total consumption (source ``so_ups_points``). Figures disagree and mix capacity with load and
legal with grey mining: treat each as a noisy observation.

Dates: a figure published after the ingest day, or for a period that begins after it, is
refused. A period may still be running when the figure appears (a point-in-time figure covers
its month). The file is kept by hand: its last line may lack a newline, as ``note`` is last.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

import nowcast.regions_ru  # noqa: F401  (registers every federal subject)
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

COLUMNS = [
    "series",
    "region",
    "period_start",
    "period_end",
    "value",
    "unit",
    "publisher",
    "published",
    "url",
    "note",
]

# series -> (unit, lowest allowed value, highest allowed value)
SERIES: dict[str, tuple[str, float, float]] = {
    "hashrate_share": ("fraction", 0.0, 1.0),
    "mining_power_gw": ("GW", 0.0, 100.0),
    "btc_mined_btc": ("BTC", 0.0, 1_000_000.0),
    "mining_load_mw": ("MW", 0.0, 100_000.0),
    "mining_electricity_twh": ("TWh", 0.0, 1_000.0),
    "mining_revenue_usd_bn": ("USD bn", 0.0, 1_000.0),
}

TIDY = pa.DataFrameSchema(
    {
        "series": pa.Column(str, pa.Check.isin(list(SERIES))),
        "region": pa.Column(str, pa.Check.str_length(min_value=1)),
        "period_start": pa.Column("datetime64[ns]"),
        "period_end": pa.Column("datetime64[ns]"),
        "value": pa.Column(float),
        "unit": pa.Column(str),
        "publisher": pa.Column(str, pa.Check.str_length(min_value=1)),
        "published": pa.Column("datetime64[ns]"),
        "url": pa.Column(str),
        "note": pa.Column(str),
    },
    strict=False,
)


def parse(path: Path) -> pd.DataFrame:
    """One row per published figure, checked: known series, its unit, value in range, known
    region, period order, a publisher and a publication date."""
    raw = read_table(path, COLUMNS, free_text=["note"])
    text = {c: raw[c].astype(str).str.strip() for c in COLUMNS}
    raw = raw.assign(**text)
    series = text["series"]
    fail_first_row(
        path,
        raw,
        ~series.isin(list(SERIES)),
        "series",
        f"unknown series {{value!r}}: expected one of {sorted(SERIES)}",
    )
    expected_unit = series.map({k: v[0] for k, v in SERIES.items()})
    fail_first_row(
        path,
        raw.assign(expected=expected_unit),
        text["unit"].ne(expected_unit),
        "unit",
        "unit {value!r} does not match the series: expected "
        + ", ".join(f"{u!r} for {s}" for s, (u, _, _) in SERIES.items()),
    )
    codes = text["region"].map(region_code)
    fail_first_row(
        path,
        raw,
        codes.isna(),
        "region",
        "unknown region {value!r}: expected a code from nowcast.regions (RU, RU-IRK, ...)",
    )
    fail_first_row(path, raw, text["publisher"].eq(""), "publisher", "publisher is empty")
    value = to_number(path, raw, "value")
    low = series.map({k: v[1] for k, v in SERIES.items()})
    high = series.map({k: v[2] for k, v in SERIES.items()})
    out = (value < low) | (value > high)
    if out.any():
        i = out.to_numpy().nonzero()[0][0]
        name = series.iloc[i]
        unit, lo, hi = SERIES[name]
        raise SourceError(
            path,
            f"value {raw['value'].iloc[i]} is out of range for {name}:"
            f" expected {lo:g} to {hi:g} {unit}",
            line=int(raw[LINE].iloc[i]),
            field="value",
        )
    tidy = pd.DataFrame(
        {
            "series": series,
            "region": codes.astype(str),
            "period_start": to_date(path, raw, "period_start"),
            "period_end": to_date(path, raw, "period_end"),
            "value": value,
            "unit": text["unit"],
            "publisher": text["publisher"],
            "published": to_date(path, raw, "published"),
            "url": text["url"],
            "note": text["note"],
            LINE: raw[LINE],
        }
    )
    check_period_order(path, tidy)
    check_unique(
        path,
        tidy,
        ["series", "region", "period_start", "period_end", "publisher", "published"],
        "figure",
    )
    return validate(path, tidy, TIDY)


def observe(tidy: pd.DataFrame) -> pd.DataFrame:
    """One observation per row; observer = publisher, published from the file; the url is
    kept in the note."""
    url = tidy["url"]
    source = ("source: " + url).where(url.ne(""), "")
    note = (tidy["note"] + "; " + source).where(
        tidy["note"].ne("") & source.ne(""), tidy["note"] + source
    )
    obs = tidy.assign(observer=tidy["publisher"], note=note)
    return obs[observation_columns(obs)].reset_index(drop=True)


SOURCE = Source(
    name="published_estimates",
    publisher="various (officials, industry bodies, press), one per row",
    title="Dated published figures on Russian Bitcoin mining (share, power, BTC, revenue, load)",
    file_format=(
        "CSV: series,region,period_start,period_end,value,unit,publisher,published,url,note"
        " (see the module docstring)"
    ),
    units="per series: fraction, GW, BTC, MW, TWh, USD bn",
    licence="facts quoted from public reports; cite each row's publisher and url",
    published_rule="from the file (published column)",
    parse=parse,
    observe=observe,
    period_fields=("period_start", "period_end"),
    recognise=csv_recogniser(COLUMNS),
    url="",
    published_in_file=True,
    # a point-in-time figure covers its month, which may still be running when it appears
    partial_periods=True,
)
