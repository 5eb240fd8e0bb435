"""A new kind of evidence through the registry alone: one ``register`` call (and its prior in a
spec) puts it in the fit, in identification and among the report's published figures, with no
other change to the package. The toy kind is registered by a fixture, never in the default spec.
"""

from __future__ import annotations

import numpy as np
import pytest

from nowcast.datasets import bundled_data_dir, ingest_dir
from nowcast.fit import fit
from nowcast.identify import add_log_densities, evidence_terms, narrowing, sensitivity
from nowcast.model import evidence as ev
from nowcast.model.data import prepare
from nowcast.model.published import published_figures
from nowcast.model.spec import ModelSpec, Sampler, load_spec
from nowcast.panel import build_panel
from nowcast.store import Store

TOY = "toy_heat"
FIGURES = """series,period_start,period_end,value,unit,region,published,observer,note
toy_mining_heat_twh,2024-01-01,2024-12-31,6.5,TWh,RU,2025-03-01,Toy Heat Association,test
toy_mining_heat_twh,2025-01-01,2025-06-30,3.9,TWh,RU,2025-08-01,Toy Heat Association,test
"""


@pytest.fixture
def toy_kind():
    kind = ev.register(
        ev.EvidenceKind(
            name=TOY,
            switch=TOY,
            label="waste heat sold by miners (toy)",
            unit="TWh",
            select=lambda v: (v.series == "toy_mining_heat_twh") & (v.region == "RU"),
            # half the energy mining draws is sold on as heat
            predict=lambda q, b, d, xp: 0.5 * ev.period_sum(q["mining_electricity_twh"], b),
            observation=ev.Observation("log", lambda p, b, xp: p["toy_log_sd"]),
            priors=("toy_log_sd",),
            series="toy_mining_heat_twh",
            default=False,
        )
    )
    yield kind
    ev.unregister(TOY)


def _toy_spec() -> ModelSpec:
    raw = load_spec().model_dump(mode="json")
    raw["evidence"][TOY] = True
    raw["priors"]["toy_log_sd"] = {"dist": "LogNormal", "mu": -1.6, "sigma": 0.3, "source": "test"}
    return ModelSpec.model_validate(raw)


def test_spec_needs_the_new_kinds_prior(toy_kind):
    raw = load_spec().model_dump(mode="json")
    raw["evidence"][TOY] = True
    with pytest.raises(ValueError, match="missing \\['toy_log_sd'\\]"):
        ModelSpec.model_validate(raw)
    # the default spec does not use the toy kind (its default is off)
    assert not load_spec().uses(TOY)
    assert _toy_spec().without(TOY).uses(TOY) is False


@pytest.fixture
def toy_fit(toy_kind, tmp_path):
    path = tmp_path / "toy.csv"
    path.write_text(FIGURES, encoding="utf-8")
    with Store(tmp_path / "store") as st:
        ingest_dir(st, bundled_data_dir())
        st.ingest(path, "generic")
        panel = build_panel(st, start="2024-01-01")
    spec = _toy_spec()
    data = prepare(panel, spec)
    assert data.blocks[TOY].n == 2
    assert prepare(panel, spec.without(TOY)).blocks[TOY].n == 0
    return fit(panel, spec, sampler=Sampler(draws=150, tune=200, chains=2, seed=3), prior_draws=150)


def test_a_new_kind_of_evidence_reaches_fit_identification_and_report(toy_fit):
    tree = toy_fit.tree
    # the fit: its likelihood, its prediction and its figures in the saved run
    assert f"obs_{TOY}" in tree["observed_data"]
    predicted = tree["posterior"][f"predicted_{TOY}"]
    assert predicted.sizes[f"{TOY}_obs"] == 2
    mining = tree["posterior"]["mining_electricity_twh"]
    year_2024 = mining.sel(month=slice("2024-01-01", "2024-12-01")).sum("month")
    np.testing.assert_allclose(predicted.isel({f"{TOY}_obs": 0}), 0.5 * year_2024, rtol=1e-9)
    # identification: sensitivity has the new switch as a kind of evidence
    assert evidence_terms()[TOY] == [f"obs_{TOY}"]
    sens = sensitivity(add_log_densities(tree), var_names=["mining_power_gw"])
    assert TOY in sens.columns
    assert "toy_log_sd" in set(narrowing(tree).variable)
    # the report's published figures: the toy figures against their posterior
    pub = published_figures(tree)
    toy = pub[pub.block == TOY]
    assert list(toy.value) == [6.5, 3.9]
    assert set(toy.quantity) == {"waste heat sold by miners (toy)"}
    assert (toy.lower <= toy.posterior_median).all() and (toy.posterior_median <= toy.upper).all()
    assert (toy.predictive_lower <= toy.lower).all() and (toy.predictive_upper >= toy.upper).all()


def test_each_kinds_error_model_reads_only_its_own_parameters_and_its_figures():
    """An update takes a kind's log likelihood from the previous run when its figures and its
    prediction are unchanged (``nowcast.reweight_draws.unchanged_likelihoods``): that holds
    only if the error model reads nothing else, no latent path a new month extends. Each
    registered kind's ``sigma`` and ``nu`` are called with a mapping that holds the kind's own
    parameters only."""
    import pandas as pd

    from nowcast.model.data import Block
    from nowcast.model.evidence import REGISTRY

    class OwnOnly(dict):
        def __init__(self, names: tuple[str, ...]) -> None:
            super().__init__({n: 0.5 for n in names})
            self.names = names

        def __getitem__(self, name: str) -> float:
            if name not in self.names:
                raise AssertionError(f"reads {name}, not among its parameters {self.names}")
            return super().__getitem__(name)

    block = Block(np.full(3, 2.0), np.ones((3, 4)) / 4, pd.DataFrame(), np.ones((3, 2)))
    for kind in REGISTRY.values():
        params = OwnOnly(kind.priors)
        sigma = np.asarray(kind.observation.sigma(params, block, np), dtype=float)
        assert np.all(np.isfinite(sigma)) and np.all(sigma > 0), kind.name
        if kind.observation.nu is not None:
            assert np.isfinite(float(kind.observation.nu(params))), kind.name
