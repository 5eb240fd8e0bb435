from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.sources import estimates
from tests.conftest import write_variant

FILE = "published_estimates.csv"


def test_real_file(data_dir):
    obs = estimates.SOURCE.load(data_dir / FILE)
    assert set(obs.series) == set(estimates.SERIES)
    for series, (unit, _, _) in estimates.SERIES.items():
        assert (obs[obs.series == series].unit == unit).all()

    load = obs[obs.series == "mining_load_mw"].set_index("period_start")
    assert (load.region == "RU-IRK").all()
    assert load.loc["2023-07-01", "value"] == 842
    assert load.loc["2023-07-01", "period_end"] == pd.Timestamp("2023-07-31")
    assert load.loc["2024-07-01", "value"] == 1107
    assert load.loc["2025-01-01", "value"] == 1066

    share = obs[(obs.series == "hashrate_share") & (obs.observer == "Kommersant")]
    assert share.value.tolist() == [pytest.approx(0.12)]
    assert share.published.tolist() == [pd.Timestamp("2023-12-31")]
    assert obs[obs.series == "hashrate_share"].value.between(0, 1).all()

    btc = obs[obs.series == "btc_mined_btc"].set_index("period_start")["value"]
    assert btc.loc["2023-01-01"] == 54500 and btc.loc["2024-01-01"] == 35000
    power22 = obs[(obs.series == "mining_power_gw") & (obs.period_start == "2022-01-01")]
    assert power22.value.tolist() == [1.5]
    assert "1.3-1.7" in power22.note.iloc[0]
    assert "source: https://" in power22.note.iloc[0]

    # CBECI monthly rows and Irkutsk total consumption come from their own files
    assert not obs.observer.str.contains("CBECI").any()
    assert not obs.series.str.contains("consumption").any()
    assert (obs.note != "").all()


def _rows(data_dir, n=8):
    text = (data_dir / FILE).read_text()
    return list(csv.reader(io.StringIO(text)))[:n]


def _text(rows) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _edit(field: str, value: str, line: int):
    def mutate(rows):
        rows = [list(r) for r in rows]
        rows[line - 1][rows[0].index(field)] = value
        return rows

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (_edit("publisher", "who", 1), "line 1: missing column(s) ['publisher']"),
        (_edit("published", "31.12.2023", 2), "line 2, field 'published'"),
        (_edit("value", "~12%", 2), "line 2, field 'value': expected a number"),
        (lambda rs: rs + [rs[2]], "line 9: duplicate figure"),
        (_edit("period_end", "2023-09-30", 2), "line 2, field 'period_end': period ends"),
        (_edit("series", "hashrate_pct", 3), "line 3, field 'series': unknown series"),
        (_edit("unit", "%", 2), "line 2, field 'unit': unit '%' does not match"),
        (_edit("unit", "MW", 4), "line 4, field 'unit'"),
        (
            _edit("value", "12", 2),
            "line 2, field 'value': value 12 is out of range for hashrate_share: expected 0 to 1",
        ),
        (_edit("value", "-1", 4), "line 4, field 'value'"),
        (_edit("region", "RU-XX", 5), "line 5, field 'region': unknown region 'RU-XX'"),
        (_edit("publisher", "", 6), "line 6, field 'publisher'"),
        (lambda rs: [], "file is empty"),
    ],
    ids=[
        "missing-column",
        "bad-date",
        "non-numeric",
        "duplicate",
        "end-before-start",
        "unknown-series",
        "wrong-unit",
        "unit-of-another-series",
        "share-above-one",
        "negative",
        "unknown-region",
        "no-publisher",
        "empty",
    ],
)
def test_malformed(tmp_path, data_dir, mutate, expect):
    path = write_variant(tmp_path, FILE, _text(mutate(_rows(data_dir))))
    with pytest.raises(SourceError) as err:
        estimates.SOURCE.load(path)
    assert FILE in str(err.value)
    assert expect in str(err.value)


def test_wrong_encoding(tmp_path, data_dir):
    path = write_variant(tmp_path, FILE, _text(_rows(data_dir)).encode("utf-16"))
    with pytest.raises(SourceError, match="not valid utf-8") as err:
        estimates.SOURCE.load(path)
    assert FILE in str(err.value)
