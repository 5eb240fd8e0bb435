from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.sources import electricity
from tests.conftest import write_variant

FILE = "electricity_published_points.csv"


def test_real_file(data_dir):
    obs = electricity.SOURCE.load(data_dir / FILE)
    assert set(obs.region) == {"RU-IRK", "RU-UES", "RU"}
    assert (obs.series == "electricity_consumption_mln_kwh").all()
    assert (obs.unit == "million kWh").all()

    irk = obs[obs.region == "RU-IRK"]
    y2024 = irk[(irk.period_start == "2024-01-01") & (irk.period_end == "2024-12-31")]
    assert sorted(y2024.value) == [71800.0, 72600.0]
    assert y2024.observer.nunique() == 2  # two official figures: two observations
    assert (y2024.published == pd.Timestamp("2025-01-30")).all()  # year end + 30 days

    feb15 = irk[(irk.period_start == "2015-02-01") & (irk.period_end == "2015-02-28")]
    assert feb15.value.tolist() == [4639.6]
    assert feb15.published.tolist() == [pd.Timestamp("2015-03-20")]  # month end + 20 days
    ytd = irk[(irk.period_start == "2022-01-01") & (irk.period_end == "2022-06-30")]
    assert ytd.value.tolist() == [32578.0]
    assert ytd.published.tolist() == [pd.Timestamp("2022-07-20")]
    assert "relayed by https://energo-news.ru" in ytd.note.iloc[0]
    assert ytd.note.iloc[0].startswith("H1, +8.9% y/y")

    ues22 = obs[(obs.region == "RU-UES") & (obs.period_start == "2022-01-01")]
    assert 1110000.0 in ues22.value.tolist()


def _rows(data_dir, n=8):
    text = (data_dir / FILE).read_text()
    return [row for row in csv.reader(io.StringIO(text))][:n]


def _text(rows) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _edit(field: str, value: str, line: int):
    """Set ``field`` on file line ``line`` (the header is line 1)."""

    def mutate(rows):
        rows = [list(r) for r in rows]
        rows[line - 1][rows[0].index(field)] = value
        return rows

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (_edit("attributed_to", "source", 1), "line 1: missing column(s) ['attributed_to']"),
        (_edit("period_start", "2012-02-30", 3), "line 3, field 'period_start'"),
        (_edit("consumption_mln_kwh", "54,706", 2), "line 2, field 'consumption_mln_kwh'"),
        (_edit("consumption_mln_kwh", "", 4), "line 4, field 'consumption_mln_kwh'"),
        (lambda rs: rs + [rs[3]], "line 9: duplicate figure"),
        (_edit("period_end", "2011-12-31", 2), "line 2, field 'period_end': period ends"),
        (_edit("area", "Atlantis", 5), "line 5, field 'area': unknown area 'Atlantis'"),
        (_edit("period_type", "quarter", 4), "line 4, field 'period_type'"),
        (_edit("period_end", "2012-06-30", 4), "line 4, field 'period_type': period_type 'month'"),
        (_edit("period_start", "2012-02-01", 5), "line 5, field 'period_type': period_type 'ytd'"),
        (_edit("period_end", "2012-11-30", 2), "line 2, field 'period_type': period_type 'year'"),
        (_edit("attributed_to", "", 6), "line 6, field 'attributed_to'"),
        (lambda rs: [], "file is empty"),
    ],
    ids=[
        "missing-column",
        "bad-date",
        "non-numeric",
        "empty-value",
        "duplicate",
        "end-before-start",
        "unknown-area",
        "bad-period-type",
        "month-spans-two-months",
        "ytd-not-from-january",
        "year-not-calendar",
        "no-observer",
        "empty",
    ],
)
def test_malformed(tmp_path, data_dir, mutate, expect):
    path = write_variant(tmp_path, FILE, _text(mutate(_rows(data_dir))))
    with pytest.raises(SourceError) as err:
        electricity.SOURCE.load(path)
    assert FILE in str(err.value)
    assert expect in str(err.value)


def test_wrong_encoding(tmp_path, data_dir):
    path = write_variant(tmp_path, FILE, _text(_rows(data_dir)).encode("utf-16"))
    with pytest.raises(SourceError, match="not valid utf-8") as err:
        electricity.SOURCE.load(path)
    assert FILE in str(err.value)
