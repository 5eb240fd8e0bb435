"""Bank of Russia official USD/RUB rate: the XML of its daily-rates dynamic service
(``XML_dynamic.asp``, ``<ValCurs><Record Date="dd.mm.yyyy"><Nominal/><Value>92,5058</Value>``)
or a CSV export (``date,usd_rub_cbr``). The file type is detected from its first character.
An XML file is recognised by its root ``<ValCurs>`` holding ``<Record>`` elements (the daily
all-currency service's ``<Valute>`` is another product) and, when the root names its currency,
``ID="R01235"`` (USD).

Dates: a rate is set on the working day before it is in force, so a file may hold the rate
for the day after the ingest day (never later); a rate for a day that has begun is final.
"""

from __future__ import annotations

from pathlib import Path
from xml.parsers import expat

import pandas as pd
import pandera.pandas as pa

from nowcast.constants import RUSSIA
from nowcast.errors import SourceError
from nowcast.sources.base import (
    LINE,
    SNIFF_BYTES,
    Source,
    check_unique,
    csv_recogniser,
    lag,
    melt_wide,
    read_input,
    read_table,
    sniff,
    to_date,
    to_number,
    validate,
)

SERIES = "usd_rub_rub_per_usd"
USD = "R01235"  # the CBR's code of the US dollar

TIDY = pa.DataFrameSchema(
    {
        "period_start": pa.Column("datetime64[ns]", unique=True),
        "period_end": pa.Column("datetime64[ns]"),
        SERIES: pa.Column(float, pa.Check.in_range(1.0, 1000.0)),
    },
    strict=False,
)


def _read_xml(path: Path, data: bytes) -> pd.DataFrame:
    """XML records as a text table with the file line of each ``<Record>``, like
    ``read_table`` gives for CSV. expat (not ElementTree) so that lines are file lines; it
    honours the service's windows-1251 declaration."""
    rows: list[dict[str, object]] = []
    stack: list[str] = []
    text: list[str] = []
    parser = expat.ParserCreate()

    def start(name: str, attrs: dict[str, str]) -> None:
        if not stack and name != "ValCurs":
            raise SourceError(
                path,
                f"expected root element <ValCurs>, got <{name}>",
                line=parser.CurrentLineNumber,
            )
        stack.append(name)
        if name == "Record":
            rows.append(
                {
                    "Date": attrs.get("Date", ""),
                    "Value": None,
                    "Nominal": "1",
                    LINE: parser.CurrentLineNumber,
                }
            )
        text.clear()

    def end(name: str) -> None:
        stack.pop()
        if stack and stack[-1] == "Record" and name in ("Value", "Nominal"):
            rows[-1][name] = "".join(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text.append
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise SourceError(
            path, f"malformed XML: {expat.ErrorString(exc.code)}", line=exc.lineno
        ) from None
    if not rows:
        raise SourceError(path, "no <Record> elements: expected one per rate date")
    df = pd.DataFrame(rows)
    missing = df["Value"].isna()
    if missing.any():
        raise SourceError(
            path,
            "the <Record> has no <Value> element: expected the rate",
            line=int(df.loc[missing, LINE].iloc[0]),
            field="Value",
        )
    return df


def _is_xml(data: bytes) -> bool:
    return data[:64].lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<")


class _Seen(Exception):
    """Raised from an expat handler once the root and its first child are known."""


def _recognise_xml(data: bytes, complete: bool) -> bool:
    """Root ``<ValCurs>`` (of USD, when it says), whose first child, if any, is ``<Record>``;
    only the elements up to that child are parsed."""
    elements: list[tuple[str, dict[str, str]]] = []
    parser = expat.ParserCreate()

    def start(name: str, attrs: dict[str, str]) -> None:
        elements.append((name, attrs))
        if len(elements) == 2:
            raise _Seen

    parser.StartElementHandler = start
    try:
        parser.Parse(data, complete)
    except _Seen:
        pass
    except (expat.ExpatError, ValueError, LookupError):
        # malformed, or an encoding expat cannot read: not this file
        return False
    if not elements:
        return False
    (root, attrs), *child = elements
    return (
        root == "ValCurs"
        and attrs.get("ID", USD) == USD
        and all(name == "Record" for name, _ in child)
    )


_recognise_csv = csv_recogniser(["date", "usd_rub_cbr"])


def recognise(path: Path) -> bool:
    """The CBR's XML of USD rates, or the CSV export ``date,usd_rub_cbr``."""
    data = sniff(path)
    if not data:
        return False
    if _is_xml(data):
        return _recognise_xml(data, complete=len(data) < SNIFF_BYTES)
    return _recognise_csv(path)


def parse(path: Path) -> pd.DataFrame:
    """Daily tidy table of the official rate in RUB per 1 USD, by the date it is in force."""
    data = read_input(path)
    if _is_xml(data):
        raw = _read_xml(path, data)
        day = to_date(path, raw, "Date", "%d.%m.%Y")
        rate = to_number(path, raw, "Value", decimal_comma=True)
        nominal = to_number(path, raw, "Nominal")
        rate = rate / nominal
        fields = {"period_start": "Date", SERIES: "Value"}
    else:
        raw = read_table(path, ["date", "usd_rub_cbr"])
        day = to_date(path, raw, "date")
        rate = to_number(path, raw, "usd_rub_cbr")
        fields = {"period_start": "date", SERIES: "usd_rub_cbr"}
    tidy = pd.DataFrame({"period_start": day, "period_end": day, SERIES: rate, LINE: raw[LINE]})
    check_unique(path, tidy, ["period_start"], "date")
    tidy = validate(path, tidy, TIDY, fields=fields)
    tidy.attrs["period_fields"] = (fields["period_start"], fields["period_start"])
    return tidy


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
    period_fields=("date", "date"),
    recognise=recognise,
    # the rate in force on day D is set on the working day before: tomorrow's rate is known
    partial_periods=True,
    ahead_days=1,
    url="https://www.cbr.ru/scripts/XML_dynamic.asp?VAL_NM_RQ=R01235",
)
