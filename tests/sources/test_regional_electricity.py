"""``regional_electricity_points``: the bundled file of published regional figures, its series,
units, lower bounds, observers and publication dates (file or lag rule), and malformed variants
refused naming the line and field."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.geography import load_geography
from nowcast.model.evidence import REGISTRY, PanelView
from nowcast.sources import SOURCES, recognise_source
from nowcast.sources import regional_electricity as regional
from nowcast.sources.base import TODAY_ENV
from tests.conftest import write_variant
from tests.samples import TODAY

FILE = "electricity_regional_points.csv"
SOURCE = regional.SOURCE


@pytest.fixture(autouse=True)
def ingest_day(monkeypatch):
    monkeypatch.setenv(TODAY_ENV, TODAY)


@pytest.fixture(scope="module")
def obs(data_dir) -> pd.DataFrame:
    return SOURCE.load(data_dir / FILE, today=pd.Timestamp(TODAY))


@pytest.fixture(scope="module")
def raw(data_dir) -> pd.DataFrame:
    return pd.read_csv(data_dir / FILE, dtype=str, keep_default_na=False)


def _one(obs: pd.DataFrame, **where) -> pd.Series:
    hit = obs
    for k, v in where.items():
        hit = hit[hit[k] == v]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def test_registered_and_recognised(data_dir):
    assert SOURCES["regional_electricity_points"] is SOURCE
    assert recognise_source(data_dir / FILE) is SOURCE


def test_real_file_gives_170_figures(obs, raw):
    assert len(raw) == len(obs) == 170
    assert obs["region"].nunique() == 35
    # areas kept as written: joint areas and energy systems are not split
    assert {"RU-SPE+RU-LEN", "RU-IRK+RU-BU+RU-ZAB", "OES-SIBERIA", "UES-RU", "SIBERIA"} <= set(
        obs["region"]
    )
    assert set(obs["region"]) <= set(load_geography().areas)


def test_measures_map_to_their_series_and_units(obs, raw):
    expected = {
        "regional_consumption_mln_kwh": ("million kWh", 71),
        "regional_consumption_mln_kwh_lower_bound": ("million kWh", 3),
        "regional_consumption_yoy_pct": ("percent", 92),
        "regional_mining_load_mw": ("MW", 2),
        "regional_mining_consumption_mln_kwh": ("million kWh", 1),
        "regional_mining_consumption_mln_kwh_lower_bound": ("million kWh", 1),
    }
    counts = obs["series"].value_counts().to_dict()
    assert counts == {s: n for s, (_, n) in expected.items()}
    units = obs.groupby("series")["unit"].unique()
    assert {s: list(u) for s, u in units.items()} == {s: [u] for s, (u, _) in expected.items()}
    # values as the file writes them, row for row
    pd.testing.assert_series_equal(
        obs["value"], raw["value"].astype(float), check_names=False, check_index=False
    )
    irk = _one(obs, region="RU-IRK", series="regional_mining_load_mw")
    assert irk["value"] == 938.0
    ru = _one(obs, region="RU", series="regional_mining_load_mw")
    assert (ru["value"], ru["period_start"], ru["period_end"]) == (
        2700.0,
        pd.Timestamp("2024-07-01"),
        pd.Timestamp("2024-07-01"),
    )
    yoy = _one(obs, region="RU-IN", series="regional_consumption_yoy_pct")
    assert yoy["value"] == 40.8


def test_lower_bounds_are_kept_as_lower_bound_series(obs, raw):
    lower = obs[obs["series"].str.endswith("_lower_bound")]
    assert len(lower) == (raw["bound"] == "lower").sum() == 4
    assert sorted(lower["region"]) == ["RU-AMU", "RU-AMU", "RU-DA", "RU-KR"]
    amur = _one(
        lower,
        region="RU-AMU",
        period_end=pd.Timestamp("2014-08-31"),
        period_start=pd.Timestamp("2014-08-01"),
    )
    assert amur["series"] == "regional_consumption_mln_kwh_lower_bound"
    assert amur["value"] == 536.0
    # its change on a year earlier is exact and stays in the exact series
    change = obs[
        (obs["region"] == "RU-AMU")
        & (obs["period_start"] == "2014-08-01")
        & (obs["series"] == "regional_consumption_yoy_pct")
    ]
    assert change["value"].tolist() == [2.0]


def test_every_series_of_the_file_has_a_kind_of_evidence_that_reads_it(obs):
    """Each measure of the file reaches the model through one kind of evidence: levels,
    changes on a year earlier, lower bounds, mining loads and miners' consumption (whether a
    figure is used then depends on whether its area is a sum over the modelled units)."""
    geo = load_geography()
    view = PanelView(
        series=obs["series"].to_numpy(),
        region=obs["region"].to_numpy(),
        observer=obs["observer"].to_numpy(),
        regions=geo.regions(),
    )
    read = np.zeros(len(obs), dtype=bool)
    for kind in REGISTRY.values():
        read |= kind.candidates(view)
    assert read.all(), sorted(set(obs["series"][~read]))


def test_publication_dates_from_the_file(obs):
    stated = _one(
        obs,
        region="OES-CENTRE",
        period_start=pd.Timestamp("2016-01-01"),
        series="regional_consumption_mln_kwh",
    )
    assert stated["published"] == pd.Timestamp("2016-02-04")
    load = _one(obs, region="RU", series="regional_mining_load_mw")
    assert load["published"] == pd.Timestamp("2024-07-01")  # on its day: a point in time


def test_lag_rule_where_published_is_empty(obs, raw):
    empty = raw["published"].eq("").to_numpy()
    assert empty.sum() == 105
    ruled = obs[empty]
    days = (ruled["period_end"] - ruled["period_start"]).dt.days + 1
    lag = (ruled["published"] - ruled["period_end"]).dt.days
    assert (lag[days < 365] == 30).all() and (lag[days >= 365] == 120).all()
    assert (lag[days >= 365]).size == 17
    # year-to-date to 30 September 2025 (System Operator): + 30 days
    siberia = _one(
        obs,
        region="OES-SIBERIA",
        period_start=pd.Timestamp("2025-01-01"),
        series="regional_consumption_yoy_pct",
    )
    assert siberia["published"] == pd.Timestamp("2025-10-30")
    # ACRA's year 2024: + 120 days
    acra = _one(obs, region="SIBERIA")
    assert acra["published"] == pd.Timestamp("2025-04-30")
    # the stated dates are untouched
    assert (obs.loc[~empty, "published"] == pd.to_datetime(raw.loc[~empty, "published"])).all()


def test_observers_are_the_relaying_sites(obs):
    irk = obs[
        (obs["region"] == "RU-IRK")
        & (obs["series"] == "regional_consumption_mln_kwh")
        & (obs["period_start"] == "2022-01-01")
    ]
    # two official figures for one year: two observations, not a revision
    assert sorted(zip(irk["observer"], irk["value"], strict=True)) == [
        ("angarsk38.ru", 64400.0),
        ("news.mail.ru", 64300.0),
    ]
    assert not obs["observer"].str.startswith(("www", "m.")).any()
    interfax = obs[obs["observer"] == "interfax-russia.ru"]
    assert len(interfax) == 21  # www. and www3. pages alike
    assert obs["note"].str.contains("source: http").all()
    row = _one(obs, region="RU-TAM")
    assert row["observer"] == "68.rosstat.gov.ru"
    assert row["note"].endswith("; source: https://68.rosstat.gov.ru/folder/163829/document/191170")


def test_observer_of():
    assert regional.observer_of("https://www3.interfax-russia.ru/a") == "interfax-russia.ru"
    assert regional.observer_of("https://riadagestan.com:443/news") == "riadagestan.com"
    assert regional.observer_of("http://M.RU24.pro/pics/1") == "ru24.pro"
    assert regional.observer_of("not a url") == ""


# ----------------------------------------------------------------------------- malformed variants


def _rows(data_dir, n: int = 12) -> list[list[str]]:
    text = (data_dir / FILE).read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))[:n]


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


def _edits(*edits):
    def mutate(rows):
        for e in edits:
            rows = e(rows)
        return rows

    return mutate


# lines of the first rows: 2-3 OES Centre January 2016 (published 2016-02-04), 4 OES Centre
# Jan-Sep 2025 change (no published date), 5-8 OES East 2014, 9 OES East year 2022
CASES = {
    "missing-column": (
        _edit("bound", "bounds", 1),
        None,
        "line 1: missing column(s) ['bound']",
    ),
    "unknown-area": (
        _edit("area", "RU-ATLANTIS", 5),
        "area",
        "line 5, field 'area': unknown area 'RU-ATLANTIS': expected a code of",
    ),
    "area-by-name": (_edit("area", "Irkutsk oblast", 3), "area", "unknown area 'Irkutsk oblast'"),
    "empty-area-name": (_edit("area_name", "", 6), "area_name", "area_name is empty"),
    "unknown-measure": (
        _edit("measure", "consumption_twh", 2),
        "measure",
        "unknown measure 'consumption_twh'",
    ),
    "unknown-bound": (_edit("bound", "upper", 7), "bound", "unknown bound 'upper'"),
    "value-not-a-number": (_edit("value", "22,8", 2), "value", "expected a number, got '22,8'"),
    "value-empty": (_edit("value", "", 4), "value", "the cell is empty"),
    "value-percent-sign": (_edit("value", "2.2%", 3), "value", "expected a number"),
    "level-zero": (
        _edit("value", "0", 2),
        "value",
        "out of range for consumption_mln_kwh: expected more than 0",
    ),
    "level-negative": (_edit("value", "-2100", 7), "value", "expected more than 0"),
    "yoy-out-of-range": (
        _edit("value", "102.2", 3),
        "value",
        "out of range for consumption_yoy_pct: expected from -50 to 100 percent",
    ),
    "yoy-as-a-level": (_edit("value", "22800", 3), "value", "consumption_yoy_pct"),
    "date-not-iso": (
        _edit("period_start", "01.01.2016", 2),
        "period_start",
        "expected a date as %Y-%m-%d",
    ),
    "date-impossible": (_edit("period_end", "2016-01-32", 3), "period_end", "expected a date"),
    "published-not-iso": (_edit("published", "4 Feb 2016", 3), "published", "expected a date"),
    "end-before-start": (
        _edit("period_end", "2015-12-31", 2),
        "period_end",
        "period ends (2015-12-31) before it starts (2016-01-01)",
    ),
    "published-in-period": (
        _edit("published", "2016-01-20", 2),
        "published",
        "published 2016-01-20 is not after the period's end 2016-01-31",
    ),
    "load-before-its-period": (
        _edits(_edit("measure", "mining_load_mw", 9), _edit("published", "2021-12-31", 9)),
        "published",
        "before the period 2022-01-01",
    ),
    "url-missing": (_edit("source_url", "", 8), "source_url", "expected the page's address"),
    "url-not-http": (_edit("source_url", "energo-news.ru/archives/1", 4), "source_url", "http"),
    "duplicate": (
        lambda rs: [*rs, rs[4]],
        None,
        "line 13: duplicate figure (area=OES-EAST, period_start=2014-01-01, period_end=2014-08-31,"
        " measure=consumption_mln_kwh, bound=exact, observer=blag.mk.ru, published=2014-09-10),"
        " first seen on line 5",
    ),
    "published-after-ingest-day": (
        _edit("published", "2026-07-01", 9),
        "published",
        "published 2026-07-01 (as the file states), after the ingest day 2026-06-30",
    ),
    "rule-date-after-ingest-day": (
        _edits(_edit("period_start", "2026-06-01", 4), _edit("period_end", "2026-06-15", 4)),
        "period_end",
        "published 2026-07-15 (by the source's rule: from the file (published column); where it"
        " is empty: period end + 30 days",
    ),
    "period-after-ingest-day": (
        _edits(_edit("period_start", "2026-07-01", 4), _edit("period_end", "2026-07-01", 4)),
        "period_end",
        "is published 2026-07-31",
    ),
}


@pytest.mark.parametrize(("mutate", "field", "expect"), CASES.values(), ids=list(CASES))
def test_malformed_variants_are_refused(tmp_path, data_dir, mutate, field, expect):
    path = write_variant(tmp_path, FILE, _text(mutate(_rows(data_dir))))
    with pytest.raises(SourceError) as err:
        SOURCE.load(path)
    exc = err.value
    assert exc.path == path and str(path) in str(exc)
    assert expect in str(exc)
    assert exc.field == field, str(exc)
    if field is not None:
        assert f"field '{field}'" in str(exc)
    assert exc.line is not None


def test_the_first_bad_line_is_named_whether_dated_by_file_or_rule(tmp_path, data_dir):
    """Two rows after the ingest day, one dated by the rule (line 4) and one by the file (line
    9): the error names the first."""
    rows = _edits(
        _edit("period_start", "2026-06-01", 4),
        _edit("period_end", "2026-06-15", 4),
        _edit("published", "2026-07-01", 9),
    )(_rows(data_dir))
    path = write_variant(tmp_path, FILE, _text(rows))
    with pytest.raises(SourceError, match="line 4, field 'period_end'"):
        SOURCE.load(path)


def test_published_option_overrides_file_and_rule(tmp_path, data_dir):
    path = write_variant(tmp_path, FILE, _text(_rows(data_dir)))
    obs = SOURCE.load(path, published=pd.Timestamp("2026-01-15"))
    assert (obs["published"] == pd.Timestamp("2026-01-15")).all()
