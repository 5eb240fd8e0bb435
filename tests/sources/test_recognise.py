"""Each source recognises its own files from their first few KB, so ``nowcast update FILE`` can
do without ``--source``: the bundled files and small files of every format are recognised as
exactly their source; junk, an empty file, a folder and a missing file are refused naming the
file; a file two sources accept lists both."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from nowcast.datasets import read_manifest
from nowcast.errors import SourceError
from nowcast.sources import SOURCES, recognise_source
from nowcast.sources.base import SNIFF_BYTES
from tests.samples import DATA_DIR, samples

MANIFEST = read_manifest(DATA_DIR)
NAMES = sorted(SOURCES)


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8", newline="")
    return path


def _refused(path: Path, match: str) -> SourceError:
    with pytest.raises(SourceError, match=match) as err:
        recognise_source(path)
    assert err.value.path == path and str(path) in str(err.value)
    return err.value


def test_every_source_can_recognise():
    assert [n for n in NAMES if SOURCES[n].recognise is None] == []


@pytest.mark.parametrize(("file", "source"), sorted(MANIFEST.items()))
def test_bundled_file_is_recognised_as_its_manifest_source(file, source):
    assert recognise_source(DATA_DIR / file).name == source


@pytest.mark.parametrize("name", NAMES)
def test_sample_file_is_recognised(name, tmp_path):
    """The first rows of each format (``tests/samples.py``), under another file name."""
    sample = samples()[name]
    path = _write(tmp_path, "dropped.csv", sample.text)
    assert recognise_source(path).name == name


def _cbr_xml(*dates: str, currency: str = "R01235", root: str = "ValCurs") -> bytes:
    records = "".join(
        f'<Record Date="{d}" Id="{currency}"><Nominal>1</Nominal><Value>78,2200</Value></Record>\n'
        for d in dates
    )
    text = (
        '<?xml version="1.0" encoding="windows-1251"?>\n'
        f'<{root} ID="{currency}" DateRange1="01.06.2026" DateRange2="30.06.2026"'
        ' name="Foreign Currency Market Dynamic (Динамика курса)">\n'
        f"{records}</{root}>\n"
    )
    return text.encode("windows-1251")


def test_cbr_fx_xml_is_recognised(tmp_path):
    path = _write(tmp_path, "XML_dynamic.asp", _cbr_xml("26.06.2026", "27.06.2026"))
    assert recognise_source(path).name == "cbr_usd_rub"


def test_cbr_fx_utf8_xml_with_bom_is_recognised(tmp_path):
    data = b'\xef\xbb\xbf<?xml version="1.0"?>\n<ValCurs><Record Date="26.06.2026"><Value>1'
    data += b"</Value></Record></ValCurs>\n"
    assert recognise_source(_write(tmp_path, "rates.xml", data)).name == "cbr_usd_rub"


def test_cbr_fx_long_xml_is_recognised_from_its_head(tmp_path):
    days = [f"{d:02d}.{m:02d}.2020" for m in range(1, 13) for d in range(1, 29)]
    data = _cbr_xml(*days)
    assert len(data) > SNIFF_BYTES
    assert recognise_source(_write(tmp_path, "rates.xml", data)).name == "cbr_usd_rub"


@pytest.mark.parametrize(
    "data",
    [
        _cbr_xml("26.06.2026", currency="R01239"),  # the euro's rates
        _cbr_xml("26.06.2026", root="Rates"),
        # the daily all-currency service: <Valute> elements, not <Record>
        b'<?xml version="1.0"?>\n<ValCurs Date="26.06.2026"><Valute ID="R01235">'
        b"<Value>78,22</Value></Valute></ValCurs>\n",
        b"<html><body>Service unavailable</body></html>\n",
        b"<ValCurs <<< not xml",
    ],
    ids=["euro", "other-root", "daily-valute", "html", "malformed"],
)
def test_other_xml_is_not_recognised(tmp_path, data):
    _refused(_write(tmp_path, "rates.xml", data), "not recognised as any source's format")


def test_brent_monthly_and_daily_told_apart_by_dates(tmp_path):
    monthly = _write(tmp_path, "m.csv", "Date,Price\n2024-01-15,80.1\n2024-02-15,81.0\n")
    daily = _write(tmp_path, "d.csv", "Date,Price\n2024-01-15,80.1\n2024-01-16,81.0\n")
    one_day = _write(tmp_path, "one.csv", "Date,Price\n2024-01-16,80.1\n")
    assert recognise_source(monthly).name == "eia_brent_monthly"
    assert recognise_source(daily).name == "eia_brent_daily"
    assert recognise_source(one_day).name == "eia_brent_daily"


def test_file_two_sources_accept_lists_both(tmp_path):
    """One Brent price dated on the 15th: a day, or a month's average? Not told apart."""
    path = _write(tmp_path, "brent.csv", "Date,Price\n2024-01-15,80.1\n")
    exc = _refused(path, "matches several sources")
    assert "['eia_brent_daily', 'eia_brent_monthly']; give --source NAME" in str(exc)


def test_ambiguity_with_a_registered_copy(tmp_path, monkeypatch):
    copy = dataclasses.replace(SOURCES["cbr_key_rate"], name="cbr_key_rate_copy")
    monkeypatch.setitem(SOURCES, "cbr_key_rate_copy", copy)
    path = _write(tmp_path, "rate.csv", samples()["cbr_key_rate"].text)
    exc = _refused(path, "matches several sources")
    assert "['cbr_key_rate', 'cbr_key_rate_copy']" in str(exc)


def test_generic_recognises_only_its_own_columns(tmp_path):
    text = samples()["generic"].text
    minimal = "series,period_start,period_end,value,unit\nx_mw,2024-01-01,2024-01-31,1,MW\n"
    assert recognise_source(_write(tmp_path, "a.csv", minimal)).name == "generic"
    header, rest = text.split("\n", 1)
    extra = _write(tmp_path, "b.csv", f"{header},source_url\n")
    _refused(extra, "not recognised")
    # published_estimates has every generic column and more: it is not generic
    estimates = (DATA_DIR / "published_estimates.csv").read_text(encoding="utf-8")
    est = _write(tmp_path, "c.csv", estimates)
    assert recognise_source(est).name == "published_estimates"


def test_rosstat_other_indicator_is_not_recognised(tmp_path):
    text = samples()["rosstat_regional_production"].text.replace("ELECTR_VOL_MLN_KWT", "OTHER")
    _refused(_write(tmp_path, "r.csv", text), "not recognised")


def test_ember_full_owid_header_is_recognised(tmp_path):
    """The whole OWID energy file has many more columns, some of them before Russia's."""
    extra = ",".join(f"col_{i}" for i in range(150))
    text = (
        f"country,year,iso_code,{extra},electricity_demand,electricity_generation,"
        "net_elec_imports\nRussia,2020,RUS," + ",".join("1" for _ in range(150)) + ",1,1,0\n"
    )
    assert recognise_source(_write(tmp_path, "owid-energy-data.csv", text)).name == "ember_yearly"


def test_only_the_head_is_read(tmp_path):
    """Junk far into the file does not stop recognition: the parser refuses it later."""
    text = samples()["coinmetrics"].text
    data = text.encode() + b"\xff\x00junk" * 100_000
    assert recognise_source(_write(tmp_path, "btc.csv", data)).name == "coinmetrics"


def test_utf8_bom_and_blank_lines_are_allowed(tmp_path):
    text = "\ufeff" + samples()["cbr_key_rate"].text.replace("\n", "\n\n", 1)
    assert recognise_source(_write(tmp_path, "k.csv", text)).name == "cbr_key_rate"


JUNK: dict[str, bytes] = {
    "unknown.csv": b"a,b,c\n1,2,3\n",
    "binary.bin": bytes(range(256)) * 64,
    "latin1.csv": "date,key_rate_pct\n2024-01-01,16\n# Zürich\n".encode("latin-1") * 2000,
    "utf16.csv": "date,key_rate_pct\n2024-01-01,16\n".encode("utf-16"),
    "semicolons.csv": b"date;key_rate_pct\n2024-01-01;16\n",
    "one-long-line.csv": b"date,key_rate_pct" + b",x" * SNIFF_BYTES,
    "unclosed-quote.csv": b'date,"key_rate_pct\n2024-01-01,16\n',
    "brent-unclosed-quote.csv": b'Date,Price\n"2024-01-15,80\n',
    "brent-bad-dates.csv": b"Date,Price\n15.01.2024,80\n",
}


@pytest.mark.parametrize("name", sorted(JUNK))
def test_junk_is_not_recognised(name, tmp_path):
    path = _write(tmp_path, name, JUNK[name])
    found = [n for n in NAMES if SOURCES[n].recognise(path)]
    # Brent with unreadable dates fits both Brent files (the parser says what is wrong)
    expected = ["eia_brent_daily", "eia_brent_monthly"] if name.startswith("brent") else []
    assert found == expected
    with pytest.raises(SourceError, match="not recognised|matches several") as err:
        recognise_source(path)
    assert str(path) in str(err.value)


def test_empty_file_is_refused(tmp_path):
    _refused(_write(tmp_path, "empty.csv", b""), r"file is empty: not recognised.*--source NAME")


def test_unknown_csv_lists_known_sources(tmp_path):
    exc = _refused(_write(tmp_path, "x.csv", "a,b\n1,2\n"), "give --source NAME")
    assert f"(known sources: {NAMES})" in str(exc)


def test_folder_is_refused(tmp_path):
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    _refused(folder, "is a folder")
    assert not any(SOURCES[n].recognise(folder) for n in NAMES)


def test_missing_file_is_refused(tmp_path):
    path = tmp_path / "nowhere.csv"
    _refused(path, "file not found")
    assert not any(SOURCES[n].recognise(path) for n in NAMES)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path):
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    assert not any(SOURCES[n].recognise(pipe) for n in NAMES)
    _refused(pipe, "not a regular file")


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root reads all")
def test_unreadable_file_is_refused(tmp_path):
    path = _write(tmp_path, "locked.csv", samples()["cbr_key_rate"].text)
    path.chmod(0)
    try:
        assert not any(SOURCES[n].recognise(path) for n in NAMES)
        _refused(path, "cannot read the file")
    finally:
        path.chmod(0o600)
