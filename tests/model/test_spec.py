from __future__ import annotations

import pytest

from nowcast.errors import NowcastError
from nowcast.model.evidence import switches
from nowcast.model.spec import MODELS_DIR, load_spec


def test_default_spec_loads_with_sources_for_every_prior():
    spec = load_spec()
    assert spec.name == "default"
    assert all(len(p.source) > 10 for p in spec.priors.values())
    rows = spec.prior_table()
    assert {"variable", "distribution", "source"} <= set(rows[0])


@pytest.mark.parametrize(
    ("variant", "off"),
    [
        ("no_electricity", "electricity"),
        ("no_ruble", "ruble"),
        ("no_hashrate_share", "hashrate_share"),
        ("no_published_power", "published_power"),
        ("no_btc_mined", "btc_mined"),
        ("no_bop", "bop"),
    ],
)
def test_ablation_variants_switch_off_one_kind(variant, off):
    base, spec = load_spec(), load_spec(variant)
    assert not (MODELS_DIR / f"{variant}.toml").exists()  # derived from the registry
    assert spec.name == variant
    assert spec.uses(off) is False
    assert all(spec.uses(k) for k in switches() if k != off)
    assert spec.priors == base.priors
    assert spec.spec_hash() != base.spec_hash()


def test_sampler_settings_do_not_change_the_hash():
    spec = load_spec()
    other = spec.model_copy(update={"sampler": spec.sampler.model_copy(update={"draws": 10})})
    assert other.spec_hash() == spec.spec_hash()


def test_unknown_key_is_an_error(tmp_path):
    text = (
        (MODELS_DIR / "default.toml")
        .read_text()
        .replace("[evidence]", "[evidence]\nruble_x = true")
    )
    path = tmp_path / "typo.toml"
    path.write_text(text)
    with pytest.raises(NowcastError, match=r"typo\.toml: field 'evidence'.*'ruble_x'"):
        load_spec(path)


def test_missing_prior_is_an_error(tmp_path):
    text = (MODELS_DIR / "default.toml").read_text().replace("[priors.ruble_nu]", "[priors.x_nu]")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(NowcastError, match="missing \\['ruble_nu'\\], unknown \\['x_nu'\\]"):
        load_spec(path)


def test_unknown_spec_lists_known(tmp_path):
    with pytest.raises(NowcastError, match="known specs: .*default"):
        load_spec("nonexistent")
