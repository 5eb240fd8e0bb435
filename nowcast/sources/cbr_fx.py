"""Bank of Russia official USD/RUB rate: the XML of its daily-rates dynamic service
(``XML_dynamic.asp``, ``<ValCurs><Record Date="dd.mm.yyyy"><Nominal/><Value>92,5058</Value>``)
or a CSV export (``date,usd_rub_cbr``). The file type is detected from its first character.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from nowcast.constants import RUSSIA
from nowcast.errors import SourceError
from nowcast.sources.base import (
    LINE,
    Source,
    check_unique,
    lag,
    melt_wide,
    read_table,
    to_date,
    to_number,
    validate,
)

SERIES = "usd_rub_rub_per_usd"

TIDY = pa.DataFrameSchema(
    {
        "period_start": pa.Column("datetime64[ns]", unique=True),
        "period_end": pa.Column("datetime64[ns]"),
        SERIES: pa.Column(float, pa.Check.in_range(1.0, 1000.0)),
    },
    strict=False,
)


def _read_xml(path: Path) -> pd.DataFrame:
    """XML records as a text table with file lines, like ``read_table`` gives for CSV."""
    text = path.read_bytes()
    try:
        # The service declares windows-1251; ElementTree honours the declaration.
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SourceError(path, f"malformed XML: {exc}", line=exc.position[0]) from None
    if root.tag != "ValCurs":
        raise SourceError(path, f"expected root element <ValCurs>, got <{root.tag}>", line=1)
    rows = []
    for n, rec in enumerate(root.iter("Record"), start=1):
        value = rec.findtext("Value")
        nominal = rec.findtext("Nominal") or "1"
        if value is None:
            raise SourceError(path, "expected a <Value> element", field=f"Record #{n}")
        rows.append({"date": rec.get("Date", ""), "value": value, "nominal": nominal, LINE: n})
    if not rows:
        raise SourceError(path, "no <Record> elements: expected one per rate date")
    return pd.DataFrame(rows)


def parse(path: Path) -> pd.DataFrame:
    """Daily tidy table of the official rate in RUB per 1 USD, by the date it is in force."""
    if not path.exists():
        raise SourceError(path, "file not found")
    head = path.read_bytes()[:64].lstrip(b"\xef\xbb\xbf \r\n\t")
    if head.startswith(b"<"):
        raw = _read_xml(path)
        day = to_date(path, raw, "date", "%d.%m.%Y")
        rate = to_number(path, raw, "value", decimal_comma=True)
        nominal = to_number(path, raw, "nominal")
        rate = rate / nominal
    else:
        raw = read_table(path, ["date", "usd_rub_cbr"])
        day = to_date(path, raw, "date")
        rate = to_number(path, raw, "usd_rub_cbr")
    tidy = pd.DataFrame({"period_start": day, "period_end": day, SERIES: rate, LINE: raw[LINE]})
    check_unique(path, tidy, ["period_start"], "date")
    return validate(path, tidy, TIDY)


def observe(tidy: pd.DataFrame) -> pd.DataFrame:
    """The rate in force on day D is set and published on the working day before; weekends
    carry the last rate forward, so D - 1 day never dates a figure before it was known."""
    return melt_wide(
        tidy,
        {SERIES: "RUB per USD"},
        region=RUSSIA,
        observer="Bank of Russia",
        published=lag(tidy["period_start"], -1),
    )


SOURCE = Source(
    name="cbr_usd_rub",
    publisher="Bank of Russia",
    title="Official USD/RUB exchange rate (daily)",
    file_format="XML from XML_dynamic.asp (ValCurs/Record) or CSV date,usd_rub_cbr",
    units="RUB per 1 USD",
    licence="Bank of Russia data; reuse with a reference to the source",
    published_rule="a rate in force from day D is set the working day before: published D - 1",
    parse=parse,
    observe=observe,
    url="https://www.cbr.ru/scripts/XML_dynamic.asp?VAL_NM_RQ=R01235",
)
