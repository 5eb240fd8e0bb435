"""Cambridge Bitcoin Electricity Consumption Index (CBECI) "Mining Map": each country's monthly
share of the Bitcoin network hash rate, ``mining_countries`` CSV export
(``date,country,monthly_hashrate_%,monthly_absolute_hashrate_EH/S``).

File quirks: the share is text ending in ``%`` (``"5.93%"``); ``"Iran, Islamic Rep."`` is quoted
because it holds a comma; ``Germany *`` and ``Ireland *`` carry CCAF's asterisk, its flag that
those figures are likely artefacts of VPN or proxy use (kept, with a note); ``Other`` is the
rest of the world. The shares of one month sum to 100% within rounding (checked to +-0.1).

Regions: Russia is ``RU``; other countries get their ISO 3166-1 alpha-2 code (``CN`` for
"Mainland China", ``US``, ``KZ``, ...), and ``OTHER`` for the rest. They are registered in
``nowcast.regions`` when this module is imported.

Publication: the map was updated in batches a few months after the fact (the October 2021
update covered data to the end of August 2021; the one covering September 2021 to January 2022
came in 2022, and it was the last). The rule here is a fixed lag of month end + 90 days; the
first months of a batch appeared later than that. A month that ended less than 90 days before
the ingest day is refused (no partial months).

Licence: none stated; CCAF asks for attribution ("Cambridge Centre for Alternative Finance").
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from nowcast.errors import SourceError
from nowcast.regions import Region, region_code, register
from nowcast.sources.base import (
    LINE,
    Source,
    check_unique,
    csv_recogniser,
    fail_first_row,
    lag,
    month_end,
    observation_columns,
    read_table,
    to_date,
    to_number,
    validate,
)

DATE, COUNTRY, SHARE, ABSOLUTE = (
    "date",
    "country",
    "monthly_hashrate_%",
    "monthly_absolute_hashrate_EH/S",
)
OBSERVER = "Cambridge Centre for Alternative Finance (CBECI)"
PUBLICATION_LAG_DAYS = 90
SHARE_TOLERANCE_PCT = 0.1
UNITS = {"hashrate_share": "fraction", "hashrate_eh_s": "EH/s"}
FLAGGED_NOTE = "CCAF flags this country's figure (*) as likely distorted by VPN or proxy use"

# Countries on the map other than Russia (already in nowcast.regions): ISO 3166-1 alpha-2.
COUNTRIES: tuple[Region, ...] = (
    Region("CN", "China", False, ("Mainland China",)),
    Region("US", "United States", False, ("United States",)),
    Region("KZ", "Kazakhstan", False, ("Kazakhstan",)),
    Region("MY", "Malaysia", False, ("Malaysia",)),
    Region("CA", "Canada", False, ("Canada",)),
    Region("DE", "Germany", False, ("Germany *",)),
    Region("IE", "Ireland", False, ("Ireland *",)),
    Region("IR", "Iran", False, ("Iran, Islamic Rep.",)),
    Region("OTHER", "Other countries (CBECI)", False, ("Other",)),
)
for _country in COUNTRIES:
    register(_country)

TIDY = pa.DataFrameSchema(
    {
        "period_start": pa.Column("datetime64[ns]"),
        "period_end": pa.Column("datetime64[ns]"),
        "country": pa.Column(str),
        "region": pa.Column(str),
        "hashrate_share": pa.Column(float, pa.Check.in_range(0.0, 1.0)),
        "hashrate_eh_s": pa.Column(float, pa.Check.ge(0.0)),
    },
    unique=["period_start", "region"],
    strict=False,
)


def _check_month_sums(path: Path, tidy: pd.DataFrame, pct: pd.Series) -> None:
    sums = pct.groupby(tidy["period_start"]).sum()
    bad = (sums - 100.0).abs() > SHARE_TOLERANCE_PCT
    if bad.any():
        month = sums.index[bad.to_numpy()][0]
        first = tidy.loc[tidy["period_start"] == month, LINE].min()
        raise SourceError(
            path,
            f"shares for month {month:%Y-%m} sum to {sums[month]:.2f}%:"
            f" expected 100% +- {SHARE_TOLERANCE_PCT}",
            line=int(first),
            field=SHARE,
        )


def parse(path: Path) -> pd.DataFrame:
    """Monthly tidy table, one row per month and country: ``hashrate_share`` (fraction of the
    network, the publisher's percent / 100) and ``hashrate_eh_s`` (EH/s)."""
    raw = read_table(path, [DATE, COUNTRY, SHARE, ABSOLUTE])
    day = to_date(path, raw, DATE)
    not_first = day.dt.day != 1
    if not_first.any():
        i = not_first.to_numpy().nonzero()[0][0]
        raise SourceError(
            path,
            f"expected the first day of a month, got {raw[DATE].iloc[i]!r}",
            line=int(raw[LINE].iloc[i]),
            field=DATE,
        )
    country = raw[COUNTRY].astype(str).str.strip()
    codes = country.map(region_code)
    unknown = codes.isna()
    if unknown.any():
        i = unknown.to_numpy().nonzero()[0][0]
        raise SourceError(
            path,
            f"unknown country {country.iloc[i]!r}: add it to COUNTRIES in nowcast/sources/cbeci.py",
            line=int(raw[LINE].iloc[i]),
            field=COUNTRY,
        )
    pct = to_number(path, raw, SHARE, strip="%")
    # checked in percent, as the file states it, before conversion to a fraction
    fail_first_row(
        path, raw, (pct < 0) | (pct > 100), SHARE, "expected a share from 0% to 100%, got {value!r}"
    )
    tidy = pd.DataFrame(
        {
            "period_start": day,
            "period_end": month_end(day),
            "country": country,
            "region": codes.astype(str),
            "hashrate_share": pct / 100.0,
            "hashrate_eh_s": to_number(path, raw, ABSOLUTE),
            LINE: raw[LINE],
        }
    )
    check_unique(path, tidy, ["period_start", "region"], "month and country")
    fields = {"period_start": DATE, "hashrate_share": SHARE, "hashrate_eh_s": ABSOLUTE}
    tidy = validate(path, tidy, TIDY, fields=fields)
    _check_month_sums(path, tidy, pct)
    return tidy


def observe(tidy: pd.DataFrame) -> pd.DataFrame:
    """Two observations per month and country (share and EH/s), published month end + 90
    days."""
    flagged = tidy["country"].str.endswith("*")
    parts = []
    for series, unit in UNITS.items():
        parts.append(
            pd.DataFrame(
                {
                    "series": series,
                    "region": tidy["region"].to_numpy(),
                    "period_start": tidy["period_start"].to_numpy(),
                    "period_end": tidy["period_end"].to_numpy(),
                    "value": tidy[series].to_numpy(dtype=float),
                    "unit": unit,
                    "published": lag(tidy["period_end"], PUBLICATION_LAG_DAYS).to_numpy(),
                    "observer": OBSERVER,
                    "note": flagged.map({True: FLAGGED_NOTE, False: ""}).to_numpy(),
                    LINE: tidy[LINE].to_numpy(),
                }
            )
        )
    obs = pd.concat(parts, ignore_index=True)
    return obs[observation_columns(obs)]


SOURCE = Source(
    name="cbeci_mining_map",
    publisher="Cambridge Centre for Alternative Finance (CCAF)",
    title="CBECI Mining Map: monthly share of Bitcoin hash rate by country",
    file_format=(
        "CSV: date,country,monthly_hashrate_%,monthly_absolute_hashrate_EH/S"
        " (one row per month and country; share as text ending in %)"
    ),
    units="share as a fraction of the network hash rate; absolute hash rate in EH/s",
    licence="none stated; CCAF asks for attribution",
    published_rule=(
        "month end + 90 days (the map was updated in batches a few months after the fact;"
        " the first months of a batch appeared later than this)"
    ),
    parse=parse,
    observe=observe,
    period_fields=(DATE, DATE),
    recognise=csv_recogniser([DATE, COUNTRY, SHARE, ABSOLUTE]),
    url="https://ccaf.io/cbnsi/cbeci/mining_map",
)
