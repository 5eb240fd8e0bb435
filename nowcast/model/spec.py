"""Model specifications: typed, frozen, unknown keys are errors.

A spec (``models/*.toml``) names the evidence the model uses, the regions it models, every
prior with its source, the ban covariates and the sampler settings. ``spec_hash`` fingerprints
it so a posterior can be checked against the spec that produced it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from nowcast.errors import NowcastError

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


# the baseline spec with the hidden inflow switched off in the ruble equation
NO_RUBLE_INFLOW = "no_ruble_inflow"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prior(_Frozen):
    """One prior: a distribution, its parameters and where they come from."""

    dist: Literal["Normal", "HalfNormal", "LogNormal", "Beta", "Exponential", "TruncatedNormal"]
    mu: float | None = None
    sigma: float | None = None
    alpha: float | None = None
    beta: float | None = None
    lam: float | None = None
    lower: float | None = None
    source: str = Field(min_length=3, description="publication or reasoning behind the prior")

    @model_validator(mode="after")
    def _params(self) -> Prior:
        need = {
            "Normal": ("mu", "sigma"),
            "HalfNormal": ("sigma",),
            "LogNormal": ("mu", "sigma"),
            "Beta": ("alpha", "beta"),
            "Exponential": ("lam",),
            "TruncatedNormal": ("mu", "sigma", "lower"),
        }[self.dist]
        missing = [p for p in need if getattr(self, p) is None]
        if missing:
            raise ValueError(f"{self.dist} prior needs {missing}")
        return self

    def describe(self) -> str:
        """The distribution as text, e.g. ``Normal(mu=-2.6, sigma=0.7)``."""
        fields = ("mu", "sigma", "alpha", "beta", "lam", "lower")
        args = ", ".join(
            f"{p}={getattr(self, p):g}" for p in fields if getattr(self, p) is not None
        )
        return f"{self.dist}({args})"


class Ban(_Frozen):
    """A regulatory mining ban in a region over a period (intensity 1 = the whole region)."""

    region: str
    start: str
    end: str
    intensity: float = Field(gt=0, le=1)
    source: str


class Sampler(_Frozen):
    sampler: Literal["nutpie", "pymc", "numpyro"] = "nutpie"
    draws: int = Field(1000, ge=10)
    tune: int = Field(1000, ge=10)
    chains: int = Field(4, ge=1)
    # the default spec's: a run, a backtest or an update with only draws, tuning steps or chains
    # overridden then samples (and is identified) as the spec does
    target_accept: float = Field(0.92, gt=0.5, lt=1.0)
    seed: int = 20261125
    # nutpie's mass matrix adaptation: "draw_diag" estimates it from the draws' variances (as
    # Stan does), "diag" from draws and gradients (nutpie's default, faster to adapt). With the
    # regional hierarchy "diag" left one chain of four stuck on four of nine seeds (R-hat 1.5-1.6)
    adaptation: Literal["diag", "draw_diag"] = "draw_diag"


class Thresholds(_Frozen):
    """Diagnostics a run must meet (Vehtari et al. 2021 recommendations)."""

    max_rhat: float = 1.01
    min_ess_bulk: float = 400.0
    min_ess_tail: float = 400.0
    max_divergences: int = 0
    min_bfmi: float = 0.3


class ModelSpec(_Frozen):
    name: str
    description: str
    start: str = "2016-01-01"
    regions: list[str] = Field(default_factory=lambda: ["RU-IRK"])
    region_baseline_twh_per_year: dict[str, float] = Field(default_factory=dict)
    pooling: bool = Field(
        True,
        description="regional baselines pooled within energy systems and across them; off,"
        " each unit's level, growth and seasonal amplitude get independent priors as wide as"
        " the pooled model's marginal ones (the no-pooling comparison)",
    )
    legalisation: str = "2024-11-01"  # psi may differ from this month on (221-FZ in force)
    eo_shift: str = "2022-01-01"  # errors-and-omissions intercept shifts (sanctions, controls)
    ruble_inflow: bool = Field(
        True,
        description="whether the hidden inflow enters the ruble equation; off, the ruble moves"
        " with oil and the key rate only (the baseline ``no_ruble_inflow``)",
    )
    evidence: dict[str, bool] = Field(
        default_factory=dict,
        description="ablation switches of the evidence registry (nowcast.model.evidence);"
        " a switch not named takes its kind's default",
    )
    priors: dict[str, Prior]
    bans: list[Ban] = Field(default_factory=list)
    sampler: Sampler = Sampler()
    thresholds: Thresholds = Thresholds()

    @field_validator("evidence")
    @classmethod
    def _known_switches(cls, evidence: dict[str, bool]) -> dict[str, bool]:
        from nowcast.model.evidence import switches

        odd = sorted(set(evidence) - set(switches()))
        if odd:
            raise ValueError(
                f"unknown kind of evidence {odd}; the registry's switches are {sorted(switches())}"
            )
        return evidence

    @model_validator(mode="after")
    def _required_priors(self) -> ModelSpec:
        from nowcast.model.evidence import priors_of

        needed = STRUCTURAL_PRIORS | priors_of(self.uses)
        missing = sorted(needed - set(self.priors))
        unknown = sorted(set(self.priors) - STRUCTURAL_PRIORS - priors_of())
        if missing or unknown:
            raise ValueError(f"priors: missing {missing}, unknown {unknown}")
        from nowcast.model.data import _geography

        try:
            units = _geography().units(self.regions)
        except NowcastError as exc:
            raise ValueError(str(exc)) from None
        no_anchor = [u for u in units if u not in self.region_baseline_twh_per_year]
        if no_anchor:
            raise ValueError(
                f"region_baseline_twh_per_year lacks {no_anchor}: expected an anchor (TWh per"
                " year) for every modelled region and every energy system's rest"
            )
        odd = sorted(set(self.region_baseline_twh_per_year) - set(units))
        if odd:
            raise ValueError(
                f"region_baseline_twh_per_year names {odd}, which are not modelled units ({units})"
            )
        return self

    def uses(self, switch: str) -> bool:
        """Whether the kinds of evidence behind ``switch`` enter the likelihood."""
        from nowcast.model.evidence import switches

        return self.evidence.get(switch, switches().get(switch, False))

    def without(self, switch: str) -> ModelSpec:
        """The ablation variant ``no_<switch>``: this spec with one kind of evidence off."""
        return self.model_copy(
            update={
                "name": f"no_{switch}",
                "description": f"{self.name} without the {switch.replace('_', ' ')} evidence",
                "evidence": {**self.evidence, switch: False},
            }
        )

    def without_ruble_inflow(self) -> ModelSpec:
        """The baseline ``no_ruble_inflow``: this spec with the hidden inflow switched off in
        the ruble equation (its ruble moves with oil and the key rate only, and the inflow is
        still inferred from the other evidence)."""
        return self.model_copy(
            update={
                "name": NO_RUBLE_INFLOW,
                "description": f"{self.name} with the inflow switched off in the ruble equation",
                "ruble_inflow": False,
            }
        )

    def spec_hash(self) -> str:
        """SHA-256 (first 16 hex) of the spec's canonical JSON, sampler settings excluded."""
        data = self.model_dump(mode="json", exclude={"sampler"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def prior_table(self) -> list[dict[str, str]]:
        """Rows of (variable, distribution, source) for reports."""
        return [
            {"variable": k, "distribution": p.describe(), "source": p.source}
            for k, p in sorted(self.priors.items())
        ]


# Priors of the latent structure; each kind of evidence adds the priors its likelihood needs
# (``EvidenceKind.priors`` in the registry).
STRUCTURAL_PRIORS = {
    "share_logit_init",
    "share_step_sd",
    "share_logit_mean",
    "share_ar_rho",
    "efficiency_2019_log_j_per_th",
    "efficiency_decline_per_year",
    "overhead_pue",
    "electricity_price_rub_per_kwh",
    "psi_before",
    "psi_after",
    "alloc_logit_mean",
    "alloc_logit_sd",
    "alloc_trend_sd",
    "ban_effect",
    "baseline_log_level_system_sd",
    "baseline_log_level_sd",
    "baseline_growth_per_year",
    "baseline_growth_per_year_system_sd",
    "baseline_growth_per_year_sd",
    "seasonal_amplitude",
    "seasonal_amplitude_system_sd",
    "seasonal_amplitude_sd",
    "demand_year_effect_sd",
}


def load_spec(name_or_path: str | Path = "default") -> ModelSpec:
    """Load ``models/<name>.toml`` (or a path). Errors name the file and the bad field.

    ``no_<switch>`` without a file of that name is the default spec with that kind of evidence
    switched off (an ablation variant, ``ModelSpec.without``)."""
    path = Path(name_or_path)
    if not path.suffix:
        path = MODELS_DIR / f"{name_or_path}.toml"
        name = str(name_or_path)
        if not path.exists() and name.startswith("no_"):
            from nowcast.model.evidence import switches

            if name.removeprefix("no_") in switches():
                return load_spec("default").without(name.removeprefix("no_"))
            if name == NO_RUBLE_INFLOW:
                return load_spec("default").without_ruble_inflow()
    if not path.exists():
        known = sorted(p.stem for p in MODELS_DIR.glob("*.toml"))
        raise NowcastError(f"{path}: model spec not found; known specs: {known}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise NowcastError(f"{path}: malformed TOML: {exc}") from None
    base = raw.pop("extends", None)
    if base is not None:
        parent = load_spec(path.parent / f"{base}.toml").model_dump(mode="json")
        raw = _merge(parent, raw)
    try:
        return ModelSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise NowcastError(f"{path}: field '{loc}': {first['msg']}") from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def spec_of(tree: object) -> ModelSpec:
    """The spec a saved run (an arviz ``DataTree``) was fitted with, from its attributes."""
    attrs = getattr(tree, "attrs", {})
    if "spec_json" not in attrs:
        raise NowcastError("the run records no model spec (attribute spec_json): refit it")
    try:
        return ModelSpec.model_validate_json(attrs["spec_json"])
    except ValidationError as exc:
        raise NowcastError(
            f"the run's spec ({attrs.get('model')}, {attrs.get('spec_hash')}) does not validate"
            f" with this version of nowcast: refit it ({str(exc).splitlines()[0]})"
        ) from None
