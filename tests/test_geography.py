"""The geography table (``data/geography.csv``) and ``nowcast.geography``: memberships of Russia's
united energy systems, joint areas, roles, aggregation matrices over modelled units, and
malformed tables refused naming the file, line and field."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from nowcast.constants import REST_OF_RUSSIA, RUSSIA, RUSSIA_UES, WORLD
from nowcast.errors import NowcastError, SourceError
from nowcast.geography import Geography, load_geography, rest_unit
from nowcast.regions import REGIONS
from tests.conftest import write_variant

TABLE = "geography.csv"
REGIONAL = "electricity_regional_points.csv"


@pytest.fixture(scope="module")
def geo() -> Geography:
    return load_geography()


def test_bundled_table_loads(geo, data_dir):
    assert geo.path == data_dir / TABLE
    kinds = {a.kind for a in geo.areas.values()}
    assert kinds == {"region", "joint", "energy_system", "country", "unscoped"}
    assert geo.energy_systems() == [
        "OES-CENTRE",
        "OES-NORTHWEST",
        "OES-SOUTH",
        "OES-MIDDLE-VOLGA",
        "OES-URALS",
        "OES-SIBERIA",
        "OES-EAST",
    ]


def test_every_area_of_the_regional_file_is_in_the_table(geo, data_dir):
    with open(data_dir / REGIONAL, encoding="utf-8", newline="") as f:
        areas = {row["area"] for row in csv.DictReader(f)}
    assert len(areas) == 35
    assert areas <= set(geo.areas)


def test_regions_the_model_knows_are_in_the_table(geo):
    """nowcast.regions' federal subjects, with the same mining flag as the table's role."""
    subjects = [r for r in REGIONS if r.code not in (WORLD, RUSSIA, RUSSIA_UES, REST_OF_RUSSIA)]
    assert {r.code for r in subjects} <= set(geo.regions())
    for r in subjects:
        assert (geo.area(r.code).role == "mining") == r.mining, r.code
    assert "RU-UES" in geo and geo.kind("RU-UES") == "country"


@pytest.mark.parametrize(
    ("system", "regions"),
    [
        ("OES-NORTHWEST", ["RU-KR", "RU-LEN", "RU-SPE"]),
        ("OES-SOUTH", ["RU-DA", "RU-IN", "RU-KB", "RU-CE", "RU-ROS"]),
        ("OES-URALS", ["RU-SVE"]),
        ("OES-CENTRE", ["RU-TUL", "RU-VOR", "RU-TAM", "RU-MOW", "RU-MOS", "RU-TVE"]),
        ("OES-EAST", ["RU-AMU"]),
        ("OES-MIDDLE-VOLGA", ["RU-ME"]),
        (
            "OES-SIBERIA",
            [
                "RU-OMS",
                "RU-NVS",
                "RU-TOM",
                "RU-KEM",
                "RU-KYA",
                "RU-KK",
                "RU-BU",
                "RU-IRK",
                "RU-ZAB",
                "RU-ALT",
                "RU-AL",
            ],
        ),
    ],
)
def test_energy_system_membership(geo, system, regions):
    assert sorted(geo.members(system)) == sorted(regions)
    assert all(geo.energy_system(r) == system for r in regions)


def test_roles(geo):
    assert set(geo.regions("comparison")) == {
        "RU-OMS",
        "RU-NVS",
        "RU-TOM",
        "RU-SVE",
        "RU-TUL",
        "RU-VOR",
        "RU-TAM",
    }
    named = {"RU-IRK", "RU-BU", "RU-KYA", "RU-KK", "RU-AMU", "RU-KEM", "RU-DA", "RU-IN"}
    named |= {"RU-KB", "RU-CE", "RU-KR", "RU-LEN", "RU-MOS"}
    # Tver and Zabaykalsky: mining regions in nowcast.regions too
    assert set(geo.regions("mining")) == named | {"RU-TVE", "RU-ZAB"}
    with pytest.raises(NowcastError, match="unknown role 'miner'"):
        geo.regions("miner")


def test_joint_areas_resolve(geo):
    assert geo.members("RU-SPE+RU-LEN") == ["RU-SPE", "RU-LEN"]
    assert geo.members("RU-MOW+RU-MOS") == ["RU-MOW", "RU-MOS"]
    assert geo.members("RU-IRK+RU-BU+RU-ZAB") == ["RU-IRK", "RU-BU", "RU-ZAB"]
    assert geo.members("RU-ALT+RU-AL") == ["RU-ALT", "RU-AL"]
    for code, area in geo.areas.items():
        if area.kind == "joint":
            assert set(area.members) == set(code.split("+"))
            assert {geo.energy_system(m) for m in area.members} == {area.energy_system}
    assert geo.members("RU-IRK") == ["RU-IRK"]
    assert geo.members("UES-RU") == geo.members("RU") == geo.regions()


def test_energy_systems_partition_the_named_regions(geo):
    seen: list[str] = []
    for system in geo.energy_systems():
        seen += geo.members(system)
    assert sorted(seen) == sorted(geo.regions())  # every region once, in one system


def test_unscoped_siberia_is_refused_unless_approximated(geo):
    assert geo.kind("SIBERIA") == "unscoped"
    with pytest.raises(NowcastError, match="line 44: area 'SIBERIA' is unscoped"):
        geo.members("SIBERIA")
    assert geo.members("SIBERIA", approximate=True) == geo.members("OES-SIBERIA")
    regions = ["RU-IRK"]
    with pytest.raises(NowcastError, match="unscoped"):
        geo.aggregation(["SIBERIA"], regions)
    near = geo.aggregation(["SIBERIA", "OES-SIBERIA"], regions, approximate=True)
    np.testing.assert_array_equal(near[0], near[1])


def test_aggregation_of_the_country_sums_every_unit_once(geo):
    regions = geo.regions("mining")
    units = geo.units(regions)
    assert units[: len(regions)] == regions
    assert units[len(regions) :] == [rest_unit(s) for s in geo.energy_systems()]
    matrix = geo.aggregation(["UES-RU", "RU", "RU-UES"], regions)
    assert matrix.shape == (3, len(units))
    np.testing.assert_array_equal(matrix, np.ones_like(matrix))
    # the energy systems split the country: each unit in exactly one of them
    systems = geo.aggregation(geo.energy_systems(), regions)
    np.testing.assert_array_equal(systems.sum(axis=0), np.ones(len(units)))
    assert set(np.unique(systems)) == {0.0, 1.0}


def test_aggregation_rows(geo):
    regions = ["RU-IRK", "RU-BU", "RU-ZAB", "RU-OMS", "RU-SPE", "RU-LEN"]
    units = geo.units(regions)
    areas = ["RU-IRK", "RU-IRK+RU-BU+RU-ZAB", "RU-SPE+RU-LEN", "OES-SIBERIA", "OES-EAST"]
    matrix = geo.aggregation(areas, regions)

    def marked(i: int) -> list[str]:
        return [u for u, x in zip(units, matrix[i], strict=True) if x == 1.0]

    assert marked(0) == ["RU-IRK"]
    assert marked(1) == ["RU-IRK", "RU-BU", "RU-ZAB"]
    assert marked(2) == ["RU-SPE", "RU-LEN"]
    # a system: its modelled regions and its rest, where Krasnoyarsk and the others lie
    assert marked(3) == ["RU-IRK", "RU-BU", "RU-ZAB", "RU-OMS", "OES-SIBERIA-REST"]
    assert marked(4) == ["OES-EAST-REST"]


def test_aggregation_refuses_what_is_no_sum_over_units(geo):
    with pytest.raises(NowcastError, match=r"'RU-KYA' is no sum.*\['RU-KYA'\] not modelled"):
        geo.aggregation(["RU-KYA"], ["RU-IRK"])
    with pytest.raises(NowcastError, match=r"\['RU-MOW'\] not modelled"):
        geo.aggregation(["RU-MOW+RU-MOS"], ["RU-MOS"])
    with pytest.raises(NowcastError, match="not regions of the table"):
        geo.aggregation(["UES-RU"], ["OES-SIBERIA"])
    with pytest.raises(NowcastError, match="regions named twice"):
        geo.units(["RU-IRK", "RU-IRK"])
    with pytest.raises(NowcastError, match="unknown area 'RU-XXX'"):
        geo.aggregation(["RU-XXX"], ["RU-IRK"])
    with pytest.raises(NowcastError, match="is a joint, not a region"):
        geo.energy_system("RU-SPE+RU-LEN")


# ----------------------------------------------------------------------------- malformed tables


def _rows(data_dir) -> list[list[str]]:
    return list(csv.reader(io.StringIO((data_dir / TABLE).read_text(encoding="utf-8"))))


def _text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _line_of(rows: list[list[str]], area: str) -> int:
    """File line of ``area``'s row (header: line 1)."""
    return next(i for i, r in enumerate(rows) if r[0] == area) + 1


def _edit(area: str, field: str, value: str):
    def mutate(rows):
        rows = [list(r) for r in rows]
        line = _line_of(rows, area)
        rows[line - 1][rows[0].index(field)] = value
        return rows, line

    return mutate


def _duplicate(rows):
    copy = next(r for r in rows if r[0] == "RU-OMS")
    return [*rows, list(copy)], len(rows) + 1


def _missing_region(rows):
    """Tomsk removed from the table, but still a member of a (new) joint area."""
    rows = [r for r in rows if r[0] != "RU-TOM"]
    joint = ["RU-TOM+RU-NVS", "Tomsk and Novosibirsk", "joint", "", "RU-TOM+RU-NVS", "", ""]
    return [*rows, joint], len(rows) + 1


@pytest.mark.parametrize(
    ("mutate", "field", "expect"),
    [
        (_edit("RU-IRK", "energy_system", "OES-BAIKAL"), "energy_system", "unknown energy system"),
        (_edit("RU-IRK", "energy_system", ""), "energy_system", "needs its united energy system"),
        (
            _edit("RU-SPE+RU-LEN", "members", "RU-SPE+OES-NORTHWEST"),
            "members",
            "is of kind energy_system",
        ),
        (_missing_region, "members", "member 'RU-TOM' is not in the table"),
        (_edit("RU-SPE+RU-LEN", "members", "RU-SPE"), "members", "two or more"),
        (_edit("RU-SPE+RU-LEN", "members", "RU-SPE+RU-SPE"), "members", "named twice"),
        (_edit("RU-MOW+RU-MOS", "energy_system", "OES-SOUTH"), "energy_system", "lie outside"),
        (_duplicate, "area", "listed twice (first on line"),
        (_edit("RU-OMS", "kind", "oblast"), "kind", "unknown kind 'oblast'"),
        (_edit("RU-OMS", "area", "ru-oms"), "area", "malformed code"),
        (_edit("RU-OMS", "role", "control"), "role", "unknown role 'control'"),
        (_edit("OES-URALS", "role", "mining"), "role", "has no role"),
        (_edit("OES-URALS", "energy_system", "OES-SIBERIA"), "energy_system", "lies in no"),
        (_edit("RU-OMS", "members", "RU-OMS+RU-TOM"), "members", "has no members"),
        (_edit("RU-OMS", "name", ""), "name", "name is empty"),
    ],
    ids=[
        "unknown-energy-system",
        "region-without-energy-system",
        "joint-member-not-a-region",
        "joint-member-not-in-table",
        "joint-of-one",
        "joint-member-twice",
        "joint-across-systems",
        "duplicate-code",
        "unknown-kind",
        "malformed-code",
        "unknown-role",
        "role-on-energy-system",
        "energy-system-in-energy-system",
        "members-on-region",
        "empty-name",
    ],
)
def test_malformed_table_is_refused_naming_line_and_field(
    tmp_path, data_dir, mutate, field, expect
):
    rows, line = mutate(_rows(data_dir))
    path = write_variant(tmp_path, TABLE, _text(rows))
    with pytest.raises(SourceError) as err:
        load_geography(path)
    exc = err.value
    assert isinstance(exc, NowcastError)
    assert exc.path == path and str(path) in str(exc)
    assert (exc.line, exc.field) == (line, field), str(exc)
    assert f"line {line}, field '{field}'" in str(exc)
    assert expect in str(exc)


def test_table_without_a_column_is_refused(tmp_path, data_dir):
    rows = [r[:-2] + r[-1:] for r in _rows(data_dir)]  # no role column
    path = write_variant(tmp_path, TABLE, _text(rows))
    with pytest.raises(SourceError, match=r"line 1: missing column\(s\) \['role'\]"):
        load_geography(path)
