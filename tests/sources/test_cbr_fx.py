"""The Bank of Russia's USD/RUB rate as its XML service writes it (windows-1251, one
``<Record>`` per rate date): errors name the file line, not the record's number."""

from __future__ import annotations

import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.sources import cbr_fx
from tests.conftest import write_variant

TODAY = pd.Timestamp("2026-06-30")


def _record(date: str, value: str = "78,2200", nominal: str = "1") -> str:
    return (
        f'<Record Date="{date}" Id="R01235">\n'
        f"  <Nominal>{nominal}</Nominal>\n"
        f"  <Value>{value}</Value>\n"
        "</Record>"
    )


def _xml(*records: str, root: str = "ValCurs") -> bytes:
    text = "\n".join(
        [
            '<?xml version="1.0" encoding="windows-1251"?>',
            f'<{root} ID="R01235" DateRange1="01.06.2026" DateRange2="30.06.2026"'
            ' name="Foreign Currency Market Dynamic (Динамика курса)">',
            *records,
            f"</{root}>",
        ]
    )
    return (text + "\n").encode("windows-1251")


def _load(tmp_path, data: bytes):
    return cbr_fx.SOURCE.load(write_variant(tmp_path, "rates.xml", data), today=TODAY)


def test_xml_rates(tmp_path):
    obs = _load(tmp_path, _xml(_record("26.06.2026"), _record("27.06.2026", "7822,00", "100")))
    assert obs["value"].tolist() == [78.22, 78.22]
    assert obs["published"].tolist() == [pd.Timestamp("2026-06-25"), pd.Timestamp("2026-06-26")]


@pytest.mark.parametrize(
    ("records", "expect"),
    [
        # records start on lines 3, 7, 11: the third record's <Value> is bad
        (
            [_record("26.06.2026"), _record("27.06.2026"), _record("28.06.2026", "n/a")],
            r"line 11, field 'Value': expected a number, got 'n/a'",
        ),
        (
            [_record("26.06.2026"), _record("31.06.2026")],
            r"line 7, field 'Date': expected a date as %d\.%m\.%Y",
        ),
        (
            [_record("26.06.2026"), _record("27.06.2026", "-1,0")],
            r"line 7, field 'Value': expected a value from 1\.0 to 1000\.0, got -1\.0",
        ),
        (
            [_record("26.06.2026"), _record("02.07.2026")],
            r"line 7, field 'Date': the figure for 2026-07-02 is published 2026-07-01",
        ),
        (
            [_record("26.06.2026"), '<Record Date="27.06.2026"><Nominal>1</Nominal></Record>'],
            r"line 7, field 'Value': the <Record> has no <Value> element",
        ),
    ],
    ids=["bad-value", "bad-date", "out-of-range", "future", "no-value"],
)
def test_xml_errors_name_the_file_line(tmp_path, records, expect):
    with pytest.raises(SourceError, match=expect) as err:
        _load(tmp_path, _xml(*records))
    assert "rates.xml" in str(err.value)


def test_truncated_xml_is_refused(tmp_path):
    data = _xml(_record("26.06.2026"), _record("27.06.2026"))
    cut = data[: data.rindex(b"<Value>") + 9]  # an interrupted download: inside the last value
    with pytest.raises(SourceError, match=r"rates\.xml, line 9: malformed XML"):
        _load(tmp_path, cut)


def test_wrong_root_is_refused(tmp_path):
    with pytest.raises(SourceError, match=r"line 2: expected root element <ValCurs>, got <Rates>"):
        _load(tmp_path, _xml(_record("26.06.2026"), root="Rates"))


def test_tomorrows_rate_is_accepted(tmp_path):
    obs = _load(tmp_path, _xml(_record("30.06.2026"), _record("01.07.2026")))
    assert obs["period_start"].max() == pd.Timestamp("2026-07-01")
