"""Russia's power geography as data: which region lies in which united energy system, which
joint areas are sums of which regions, and which regions mine.

The table is ``data/geography.csv`` (provenance in ``data/SOURCES.md``), one row per area code:

=============  ================================================================================
column         meaning
=============  ================================================================================
area           the code figures use: ISO 3166-2:RU (``RU-IRK``), a joint area spelled as its
               members (``RU-SPE+RU-LEN``), a united energy system (``OES-SIBERIA``), the
               country (``RU``, ``UES-RU``)
name           English name
kind           ``region``, ``joint``, ``energy_system``, ``country`` or ``unscoped`` (a grouping
               whose scope the publisher did not state: ACRA's ``SIBERIA``)
energy_system  a region's united energy system (required); a joint area's, when all its members
               share one; an unscoped area's nearest energy system; empty otherwise
members        a joint area's regions, ``+``-separated; empty otherwise
role           ``mining`` or ``comparison`` (regions only; empty for other regions)
note           free text
=============  ================================================================================

Only the regions that some figure names (or the model knows) are rows; every other federal
subject is part of the "rest" of its energy system. ``Geography.aggregation`` turns a list of
areas into a matrix over *modelled units*: the regions modelled on their own plus one rest per
energy system (``OES-SIBERIA-REST``), so each area's figure is a sum over units. A region not
modelled on its own falls in the rest of its system, so it can be summed into its energy system
or the country, but a figure for that region alone (or a joint area holding it) is not a sum
over units and is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nowcast.errors import NowcastError, SourceError

GEOGRAPHY_FILE = "geography.csv"
COLUMNS = ["area", "name", "kind", "energy_system", "members", "role", "note"]
KINDS = ("region", "joint", "energy_system", "country", "unscoped")
ROLES = ("mining", "comparison")
REST_SUFFIX = "-REST"

_CODE = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$")


def default_path() -> Path:
    """The bundled table, ``data/geography.csv`` (as ``datasets.bundled_data_dir`` finds it)."""
    here = Path(__file__).resolve().parents[1] / "data"
    return (here if here.exists() else Path.cwd() / "data") / GEOGRAPHY_FILE


def rest_unit(energy_system: str) -> str:
    """The unit holding every region of ``energy_system`` not modelled on its own."""
    return energy_system + REST_SUFFIX


@dataclass(frozen=True)
class Area:
    """One row of the table (``line``: its file line, the header being line 1)."""

    code: str
    name: str
    kind: str
    energy_system: str
    members: tuple[str, ...]
    role: str
    note: str
    line: int


@dataclass(frozen=True)
class Geography:
    """The validated table: look-ups by code, memberships and aggregation matrices."""

    path: Path
    areas: Mapping[str, Area]

    def __contains__(self, code: object) -> bool:
        return code in self.areas

    def area(self, code: str) -> Area:
        """The row of ``code``; an unknown code is a ``NowcastError`` naming the table."""
        try:
            return self.areas[code]
        except KeyError:
            raise NowcastError(
                f"{self.path}: unknown area {code!r}: expected a code of the table"
                f" ({', '.join(self.areas)})"
            ) from None

    def kind(self, code: str) -> str:
        """``region``, ``joint``, ``energy_system``, ``country`` or ``unscoped``."""
        return self.area(code).kind

    def regions(self, role: str | None = None) -> list[str]:
        """The regions in table order; with ``role``, only those of that role."""
        if role is not None and role not in ROLES:
            raise NowcastError(f"unknown role {role!r}: expected one of {list(ROLES)}")
        return [
            a.code
            for a in self.areas.values()
            if a.kind == "region" and (role is None or a.role == role)
        ]

    def energy_systems(self) -> list[str]:
        """The united energy systems in table order."""
        return [a.code for a in self.areas.values() if a.kind == "energy_system"]

    def energy_system(self, region: str) -> str:
        """The united energy system ``region`` belongs to."""
        row = self.area(region)
        if row.kind != "region":
            raise NowcastError(f"{region!r} is a {row.kind}, not a region: expected a region")
        return row.energy_system

    def members(self, code: str, *, approximate: bool = False) -> list[str]:
        """The regions of the table that make up ``code``: a region is itself, a joint area its
        members, an energy system its regions, the country (``RU``, ``UES-RU``) every region.

        An ``unscoped`` area (``SIBERIA``) has no stated members and is refused, unless
        ``approximate`` is set: then it stands for its nearest energy system.
        """
        row = self.area(code)
        if row.kind == "region":
            return [code]
        if row.kind == "joint":
            return list(row.members)
        if row.kind == "energy_system":
            return [r for r in self.regions() if self.areas[r].energy_system == code]
        if row.kind == "country":
            return self.regions()
        if approximate and row.energy_system:
            return self.members(row.energy_system)
        raise NowcastError(
            f"{self.path}: line {row.line}: area {code!r} is unscoped ({row.name}): its members"
            " are not stated; expected an area with known members (or approximate=True, which"
            f" takes {row.energy_system or 'no energy system'})"
        )

    def units(self, regions: Iterable[str]) -> list[str]:
        """The modelled units: ``regions`` (modelled on their own), then the rest of each
        energy system (``OES-SIBERIA-REST``, ...)."""
        regions = list(regions)
        known = set(self.regions())
        odd = [r for r in regions if r not in known]
        if odd:
            raise NowcastError(
                f"{self.path}: {odd} are not regions of the table: expected modelled regions"
                f" among {self.regions()}"
            )
        twice = sorted({r for r in regions if regions.count(r) > 1})
        if twice:
            raise NowcastError(f"regions named twice: {twice}: expected each modelled region once")
        return [*regions, *(rest_unit(s) for s in self.energy_systems())]

    def aggregation(
        self, areas: Iterable[str], regions: Iterable[str], *, approximate: bool = False
    ) -> np.ndarray:
        """An areas x units matrix of zeros and ones (float), units as ``units(regions)``: the
        figure of each area is the sum of the units its row marks.

        An energy system takes its modelled regions and its rest; the country takes every unit
        (``RU`` as ``UES-RU``: the isolated systems are no unit). A region, or a joint area,
        must be modelled region by region: a region not in ``regions`` lies inside the rest of
        its system, and a figure for it alone is no sum over units (``NowcastError``).
        ``approximate`` lets an unscoped area stand for its nearest energy system.
        """
        regions = list(regions)
        units = self.units(regions)
        column = {u: i for i, u in enumerate(units)}
        modelled = set(regions)
        areas = list(areas)
        matrix = np.zeros((len(areas), len(units)))
        for i, code in enumerate(areas):
            row = self.area(code)
            if row.kind == "unscoped":
                self.members(code, approximate=approximate)  # refused unless approximate
                row = self.area(row.energy_system)
            if row.kind == "country":
                matrix[i, :] = 1.0
                continue
            members = self.members(row.code)
            if row.kind == "energy_system":
                cols = [column[r] for r in members if r in modelled]
                matrix[i, [*cols, column[rest_unit(row.code)]]] = 1.0
                continue
            missing = [r for r in members if r not in modelled]
            if missing:
                raise NowcastError(
                    f"area {code!r} is no sum over the modelled units: {missing} not modelled on"
                    " their own (each lies in the rest of its energy system); expected every"
                    f" member of {code!r} among the modelled regions {regions}"
                )
            matrix[i, [column[r] for r in members]] = 1.0
        return matrix


def load_geography(path: str | Path | None = None) -> Geography:
    """Read and check a geography table (default: the bundled ``data/geography.csv``).

    Refused, naming the file, line and field: a missing column, an empty or malformed code, a
    code listed twice, an unknown kind or role, a region without an energy system or with one
    the table does not list as an energy system, a joint area with fewer than two members or a
    member that is not a region of the table (or lies in another energy system than the row
    says), members, roles or energy systems on rows whose kind has none.
    """
    from nowcast.sources.base import LINE, read_table  # sources import this module

    path = Path(path) if path is not None else default_path()
    raw = read_table(path, COLUMNS, free_text=["note"])
    cells = {c: raw[c].astype(str).str.strip() for c in COLUMNS}
    lines = raw[LINE].astype(int).tolist()
    rows = [{c: cells[c].iloc[i] for c in COLUMNS} for i in range(len(raw))]

    def fail(i: int, field: str, message: str) -> None:
        raise SourceError(path, message, line=lines[i], field=field)

    first: dict[str, int] = {}
    for i, r in enumerate(rows):
        code, kind = r["area"], r["kind"]
        if kind not in KINDS:
            fail(i, "kind", f"unknown kind {kind!r}: expected one of {list(KINDS)}")
        parts = code.split("+") if kind == "joint" else [code]
        if not code or not all(_CODE.match(p) for p in parts):
            fail(
                i,
                "area",
                f"malformed code {code!r}: expected upper-case letters, digits and hyphens"
                " (RU-IRK, OES-SIBERIA), joint areas as codes joined by '+'",
            )
        if code in first:
            fail(
                i,
                "area",
                f"area {code!r} is listed twice (first on line {lines[first[code]]}):"
                " expected each code once",
            )
        first[code] = i
        if not r["name"]:
            fail(i, "name", "the name is empty: expected the area's name")
        if r["role"] and r["role"] not in ROLES:
            fail(i, "role", f"unknown role {r['role']!r}: expected one of {list(ROLES)} or empty")
        if r["role"] and kind != "region":
            fail(i, "role", f"a {kind} has no role: expected an empty role (regions only)")
        if r["members"] and kind != "joint":
            fail(i, "members", f"a {kind} has no members: expected empty (joint areas only)")
        if r["energy_system"] and kind in ("energy_system", "country"):
            fail(i, "energy_system", f"a {kind} lies in no energy system: expected empty")

    systems = {r["area"] for r in rows if r["kind"] == "energy_system"}
    kinds = {r["area"]: r["kind"] for r in rows}
    for i, r in enumerate(rows):
        system, kind = r["energy_system"], r["kind"]
        if kind == "region" and not system:
            fail(i, "energy_system", "a region needs its united energy system: the cell is empty")
        if system and system not in systems:
            fail(
                i,
                "energy_system",
                f"unknown energy system {system!r}: expected one of {sorted(systems)}",
            )
        if kind != "joint":
            continue
        members = r["members"].split("+") if r["members"] else []
        if len(members) < 2:
            fail(i, "members", "a joint area needs two or more '+'-separated regions")
        for m in members:
            if kinds.get(m) != "region":
                what = f"of kind {kinds[m]}" if m in kinds else "not in the table"
                fail(i, "members", f"member {m!r} is {what}: expected a region of the table")
        if len(set(members)) < len(members):
            fail(i, "members", f"a member is named twice in {r['members']!r}")
        if system:
            other = [m for m in members if rows[first[m]]["energy_system"] != system]
            if other:
                fail(
                    i,
                    "energy_system",
                    f"members {other} lie outside {system}: expected every member in the joint"
                    " area's energy system (or an empty cell for an area across systems)",
                )

    areas = {
        r["area"]: Area(
            code=r["area"],
            name=r["name"],
            kind=r["kind"],
            energy_system=r["energy_system"],
            members=tuple(r["members"].split("+")) if r["members"] else (),
            role=r["role"],
            note=r["note"],
            line=lines[i],
        )
        for i, r in enumerate(rows)
    }
    return Geography(path, areas)
