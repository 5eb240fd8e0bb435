"""What a backtest is made of: its plan (``BacktestPlan``), its origins and horizons, the
job one origin's fit is (``OriginJob``) and what it gives back (``OriginResult``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import pandas as pd

from nowcast.errors import NowcastError
from nowcast.model.frame import Frame
from nowcast.model.spec import ModelSpec, Sampler, load_spec
from nowcast.store import parse_day

MODEL = "nowcast"
RANDOM_WALK = "random_walk"
USD_RUB = "usd_rub"
# periods users compare: before the 2022 sanctions, the grey years, after legalisation
PERIODS = (
    ("before 2022", None, "2021-12"),
    ("2022 to 2024-10", "2022-01", "2024-10"),
    ("from 2024-11 (legal mining)", "2024-11", None),
)


@dataclass(frozen=True)
class BacktestPlan:
    """What a backtest fits and scores. Origins are month starts; ``horizons`` count months
    after the origin month. The sampler defaults to the spec's."""

    store_dir: str
    start: pd.Timestamp
    end: pd.Timestamp
    horizons: tuple[int, ...] = (1, 3, 6)
    spec_name: str = "default"
    sampler: Sampler | None = None
    prior_draws: int = 20
    # fit every origin in one fixed shape (``nowcast.model.frame``), so that a worker compiles
    # the model once; False compiles each origin's own model (to measure what that saves)
    compile_once: bool = True

    def __post_init__(self) -> None:
        if not self.horizons or min(self.horizons) < 1:
            raise NowcastError(f"horizons must be whole months from 1 up, got {self.horizons}")
        if self.end < self.start:
            raise NowcastError(
                f"the backtest's end {self.end:%Y-%m} is before its start {self.start:%Y-%m}"
            )

    @property
    def spec(self) -> ModelSpec:
        return load_spec(self.spec_name)

    @property
    def sampler_settings(self) -> Sampler:
        return self.sampler or self.spec.sampler

    def origins(self) -> list[pd.Timestamp]:
        """The origin months, oldest first."""
        return list(pd.date_range(self.start, self.end, freq="MS"))

    def backtest_id(self, data_kind: str) -> str:
        """Identity of the backtest: the spec, sampler, horizons and kind of data (not the
        origins, so a longer backtest reuses the origins a shorter one finished)."""
        spec = self.spec
        key = json.dumps(
            {
                "spec": spec.spec_hash(),
                "sampler": self.sampler_settings.model_dump(mode="json"),
                "horizons": list(self.horizons),
                "data_kind": data_kind,
                "prior_draws": self.prior_draws,
                "compile_once": self.compile_once,
            },
            sort_keys=True,
        )
        return f"{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def parse_month(value: str, what: str) -> pd.Timestamp:
    """``2022-01`` (or a day in it) as the month's first day; a clear error otherwise."""
    try:
        return pd.Timestamp(parse_day(value if len(value) > 7 else f"{value}-01", what)).replace(
            day=1
        )
    except NowcastError:
        raise
    except (ValueError, TypeError):
        raise NowcastError(f"{what}: expected a month like 2022-01, got {value!r}") from None


def parse_horizons(value: str) -> tuple[int, ...]:
    """``1,3,6`` -> (1, 3, 6); a clear error for anything else."""
    try:
        out = tuple(sorted({int(v) for v in value.split(",") if v.strip()}))
    except ValueError:
        raise NowcastError(
            f"--horizons: expected whole months separated by commas (1,3,6), got {value!r}"
        ) from None
    if not out or out[0] < 1:
        raise NowcastError(f"--horizons: months ahead must be 1 or more, got {value!r}")
    return out


def origin_seed(origin: pd.Timestamp, base: int) -> int:
    """The seed of one origin's fit and forecast: fixed by the origin, so a resumed or
    reordered backtest gives the same results."""
    return int(base) + origin.year * 100 + origin.month


def as_of_day(origin: pd.Timestamp) -> pd.Timestamp:
    """The day the origin's data is taken as of: the origin month's last day."""
    return origin + pd.offsets.MonthEnd(0)


def period_of(month: pd.Timestamp) -> str:
    """Which of ``PERIODS`` a month (or any day in it) falls in."""
    month = pd.Timestamp(month).to_period("M").to_timestamp()
    for name, first, last in PERIODS:
        if (first is None or month >= pd.Timestamp(first)) and (
            last is None or month <= pd.Timestamp(last)
        ):
            return name
    raise AssertionError(month)


@dataclass
class OriginResult:
    """One origin's record (a row of ``backtest_origins``) and its scores."""

    origin: dict[str, object]
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class OriginJob:
    """Everything a worker needs to run one origin (plain values: it travels to workers)."""

    store_dir: str
    origin: pd.Timestamp
    spec_name: str
    sampler: dict
    horizons: tuple[int, ...]
    simulated: bool
    prior_draws: int
    fingerprint: str
    cores: int = 1
    backtest_id: str = ""
    frame: Frame | None = None  # the backtest's fixed shape, if it compiles once
