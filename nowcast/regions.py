"""Fixed list of region codes (ISO 3166-2:RU for federal subjects) and the names publishers use.

Every source maps its area names through ``region_code``; an unknown name is an error, so a new
spelling is added here once rather than silently becoming a new region.
"""

from __future__ import annotations

from dataclasses import dataclass

from nowcast.constants import REST_OF_RUSSIA, RUSSIA, RUSSIA_UES, WORLD


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    mining: bool  # a known mining region (FACTS.md), as opposed to a comparison region
    aliases: tuple[str, ...] = ()


REGIONS: tuple[Region, ...] = (
    Region(WORLD, "World (Bitcoin network)", False, ("world", "global")),
    Region(RUSSIA, "Russia", False, ("Russia total", "Russian Federation", "Российская Федерация")),
    Region(RUSSIA_UES, "UES of Russia", False, ("UES of Russia", "ЕЭС России")),
    Region(REST_OF_RUSSIA, "Rest of Russia", False, ("rest of Russia",)),
    Region(
        "RU-IRK",
        "Irkutsk oblast",
        True,
        ("Irkutsk oblast energy system", "Irkutsk oblast", "Иркутская область"),
    ),
    Region("RU-KYA", "Krasnoyarsk krai", True, ("Krasnoyarsk krai", "Красноярский край")),
    Region("RU-BU", "Republic of Buryatia", True, ("Republic of Buryatia", "Республика Бурятия")),
    Region("RU-KK", "Republic of Khakassia", True, ("Republic of Khakassia", "Республика Хакасия")),
    Region("RU-KEM", "Kemerovo oblast", True, ("Kemerovo oblast", "Кемеровская область")),
    Region("RU-ZAB", "Zabaykalsky krai", True, ("Zabaykalsky krai", "Забайкальский край")),
    Region("RU-AMU", "Amur oblast", True, ("Amur oblast", "Амурская область")),
    Region("RU-TVE", "Tver oblast", True, ("Tver oblast", "Тверская область")),
    Region("RU-KR", "Republic of Karelia", True, ("Republic of Karelia", "Республика Карелия")),
)

_BY_CODE = {r.code: r for r in REGIONS}
_BY_NAME = {a.casefold(): r.code for r in REGIONS for a in (r.code, r.name, *r.aliases)}


def region_code(name: str) -> str | None:
    """The region code for a publisher's area name, or ``None`` when the name is unknown."""
    return _BY_NAME.get(name.strip().casefold())


def region(code: str) -> Region:
    """The region with ``code``; ``KeyError`` names the known codes when it is not one."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise KeyError(f"unknown region code {code!r}; known: {sorted(_BY_CODE)}") from None


def register(new: Region) -> None:
    """Add a region (used by sources that carry every federal subject, such as Rosstat)."""
    _BY_CODE.setdefault(new.code, new)
    for alias in (new.code, new.name, *new.aliases):
        _BY_NAME.setdefault(alias.casefold(), new.code)
