"""Figures about areas (the regional figures file) as the model reads them: each a sum over the
modelled units, changes on a year earlier as log ratios of two period sums, and every figure
that cannot be used recorded with the reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nowcast.datasets import ingest_dir
from nowcast.model.data import area_units, prepare
from nowcast.model.evidence import REGISTRY
from nowcast.model.spec import load_spec
from nowcast.panel import build_panel
from nowcast.store import Store


@pytest.fixture(scope="module")
def real(data_dir, tmp_path_factory):
    spec = load_spec()
    with Store(tmp_path_factory.mktemp("areas") / "store") as st:
        ingest_dir(st, data_dir)
        panel = build_panel(st, start=spec.start)
    return panel, prepare(panel, spec)


def test_an_area_is_a_sum_over_the_modelled_units():
    from nowcast.model.data import _geography

    units = _geography().units(["RU-IRK", "RU-BU", "RU-NVS"])
    col = {u: i for i, u in enumerate(units)}

    def ones(*names):
        out = [0.0] * len(units)
        for n in names:
            out[col[n]] = 1.0
        return out

    assert area_units("RU-IRK", units).tolist() == ones("RU-IRK")
    assert area_units("RU", units).tolist() == [1.0] * len(units)
    assert area_units("UES-RU", units).tolist() == [1.0] * len(units)
    # an energy system is its modelled regions and its rest
    assert area_units("OES-SIBERIA", units).tolist() == ones(
        "RU-IRK", "RU-BU", "RU-NVS", "OES-SIBERIA-REST"
    )
    assert area_units("OES-EAST", units).tolist() == ones("OES-EAST-REST")
    # a joint area of modelled regions is their sum; with one member in the rest it is none
    assert area_units("RU-IRK+RU-BU+RU-ZAB", units) is None
    three = _geography().units(["RU-IRK", "RU-BU", "RU-ZAB"])
    got = area_units("RU-IRK+RU-BU+RU-ZAB", three)
    assert got.tolist() == [1.0, 1.0, 1.0] + [0.0] * (len(three) - 3)
    # a region inside a rest, or a grouping without a stated scope, is no sum over units
    assert area_units("RU-KYA", units) is None
    assert area_units("SIBERIA", units) is None


def test_a_change_on_a_year_earlier_compares_two_period_sums(real):
    panel, data = real
    yoy = data.blocks["electricity_yoy"]
    labels = yoy.labels.assign(period_start=lambda d: pd.to_datetime(d["period_start"]))
    i = int(
        np.nonzero((labels["region"] == "RU-IRK") & (labels["period_start"] == "2025-01-01"))[0][0]
    )
    months = data.months
    now = (months >= "2025-01-01") & (months <= "2025-09-01")
    before = (months >= "2024-01-01") & (months <= "2024-09-01")
    assert yoy.weights[i][now].tolist() == [1.0] * 9
    assert yoy.weights[i][before].tolist() == [-1.0] * 9
    assert not yoy.weights[i][~(now | before)].any()
    assert yoy.values[i] == pytest.approx(np.log(1 - 0.064))
    # the model's prediction is the log ratio of the area's two sums
    rng = np.random.default_rng(0)
    twh = rng.uniform(1.0, 9.0, size=(len(data.regions), len(months)))
    got = REGISTRY["electricity_yoy"].predict({"electricity_twh": twh}, yoy, data, np)[i]
    irk = twh[data.regions.index("RU-IRK")]
    assert got == pytest.approx(np.log(irk[now].sum() / irk[before].sum()), rel=1e-12)
    # the country's change is of every unit
    j = int(np.nonzero(labels["region"] == "UES-RU")[0][0])
    assert yoy.units[j].tolist() == [1.0] * len(data.regions)


def test_figures_that_cannot_be_used_are_recorded_with_why(real):
    panel, data = real
    both = ["regional_consumption_yoy_pct", "regional_consumption_mln_kwh"]
    d = data.dropped[data.dropped["series"].isin(both)]
    read = np.isin(
        panel["obs_series"].values.astype(str),
        ["regional_consumption_yoy_pct", "regional_consumption_mln_kwh"],
    )
    used = data.blocks["electricity_yoy"].n + data.blocks["electricity_areas"].n
    # every figure of the two series in the window is either in a block or dropped, once
    assert used + len(d) == int(read.sum())
    assert not d.duplicated().any()
    why = dict(
        zip(
            zip(d["region"], pd.to_datetime(d["period_start"]), d["series"], strict=True),
            d["reason"],
            strict=True,
        )
    )
    # an energy system's change is used (a sum over its regions and its rest); its level is
    # in the System Operator's definition, without the isolated systems: dropped, with why
    assert "OES-SIBERIA" in set(data.blocks["electricity_yoy"].labels["region"])
    assert (
        "System Operator's definition"
        in why[("OES-SIBERIA", pd.Timestamp("2022-01-01"), "regional_consumption_mln_kwh")]
    )
    # a region the spec leaves in the rest of its system
    assert (
        "no sum over the model's units"
        in why[("RU-ROS", pd.Timestamp("2024-01-01"), "regional_consumption_yoy_pct")]
    )
    # Irkutsk's 2022 change was relayed by two sites: one figure
    assert (
        "relayed by another site"
        in why[("RU-IRK", pd.Timestamp("2022-01-01"), "regional_consumption_yoy_pct")]
    )
    # with a window from 2021-06, Irkutsk's change over 2022 compares with 2021, which
    # begins before the window
    late = prepare(panel, load_spec().model_copy(update={"start": "2021-06-01"}))
    early = late.dropped[late.dropped["reason"].str.contains("a year earlier")]
    assert ("RU-IRK", pd.Timestamp("2022-01-01")) in set(
        zip(early["region"], pd.to_datetime(early["period_start"]), strict=True)
    )
    assert "RU-IRK" in set(late.blocks["electricity_yoy"].labels["region"])  # 2025 still used


def _with_karelia():
    spec = load_spec()
    return spec.model_copy(
        update={
            "regions": ["RU-IRK", "RU-KR"],
            "region_baseline_twh_per_year": {
                u: a
                for u, a in spec.region_baseline_twh_per_year.items()
                if u in ("RU-IRK", "RU-KR") or u.endswith("-REST")
            },
        }
    )


def test_a_lower_bound_is_the_probability_of_exceeding_it(real):
    """Karelia's "more than 3.7 bn kWh" (January to May 2022), with Karelia modelled: its
    likelihood is P(observed > 3.7 TWh) under the kind's error, in the plain model and in a
    fixed-shape frame alike."""
    from scipy import stats

    from nowcast.model.build import build_model
    from nowcast.model.frame import Frame

    panel, _ = real
    spec = _with_karelia()
    data = prepare(panel, spec)
    block = data.blocks["electricity_at_least"]
    assert block.labels["region"].tolist() == ["RU-KR"]
    assert block.values.tolist() == pytest.approx([3.7])
    assert block.units.tolist() == [[0.0, 1.0] + [0.0] * 7]  # Irkutsk, Karelia, seven rests
    model = build_model(spec, data)
    rng = np.random.default_rng(3)
    point = {k: v + 0.2 * rng.standard_normal(v.shape) for k, v in model.initial_point().items()}
    # an error wide enough that the bound's probability is not 1 to within rounding
    point["electricity_obs_rel_sd_log__"] = np.log(0.15)
    rv = model["obs_electricity_at_least"]
    got = model.compile_logp(vars=[rv], sum=False)(point)[0]

    def value(name):
        out = model.replace_rvs_by_values([model[name]])[0]
        return model.compile_fn(out, inputs=model.value_vars, on_unused_input="ignore")(point)

    predicted, rel_sd = value("predicted_electricity_at_least"), value("electricity_obs_rel_sd")
    want = stats.norm.logsf(3.7, loc=predicted, scale=rel_sd * 3.7)
    np.testing.assert_allclose(got, want, rtol=1e-6)  # PyMC's log survival: ~1e-7 relative
    # the same in the fixed shape a backtest fits in
    fixed, _ = Frame.of([data]).embed(data, spec)
    framed = build_model(spec, fixed)
    potential = [p for p in framed.potentials if p.name == "obs_electricity_at_least"]
    assert framed.compile_logp(vars=potential)(point) == pytest.approx(float(np.sum(want)))
    # Dagestan is not modelled in this spec: its mining figures are listed as not used, with
    # why; the default spec models it and uses them
    mining = data.dropped[data.dropped["series"].str.startswith("regional_mining_consumption")]
    assert set(mining["region"]) == {"RU-DA"}
    assert mining["reason"].str.contains("no sum over the model's units").all()
    default = prepare(panel, load_spec())
    assert default.blocks["mining_twh_areas"].labels["region"].tolist() == ["RU-DA"]


def test_electricity_levels_have_a_student_t_error(real):
    """The regional levels (and every relative electricity figure) are observed with a
    Student-t error of ELECTRICITY_ERROR_NU degrees of freedom around the model's own sums,
    scaled by the figure: a discordant figure costs a t tail, not a normal one."""
    from scipy import stats

    from nowcast.model.build import build_model
    from nowcast.model.evidence import ELECTRICITY_ERROR_NU

    panel, _ = real
    spec = load_spec()
    data = prepare(panel, spec)
    model = build_model(spec, data)
    rng = np.random.default_rng(5)
    point = {k: v + 0.2 * rng.standard_normal(v.shape) for k, v in model.initial_point().items()}

    def value(name):
        out = model.replace_rvs_by_values([model[name]])[0]
        return model.compile_fn(out, inputs=model.value_vars, on_unused_input="ignore")(point)

    rel_sd = value("electricity_obs_rel_sd")
    for kind in ("electricity_areas", "electricity_regional", "electricity_national"):
        figures = data.blocks[kind].values
        got = model.compile_logp(vars=[model[f"obs_{kind}"]], sum=False)(point)[0]
        want = stats.t.logpdf(
            figures, ELECTRICITY_ERROR_NU, loc=value(f"predicted_{kind}"), scale=rel_sd * figures
        )
        np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=kind)
        normal = stats.norm.logpdf(figures, loc=value(f"predicted_{kind}"), scale=rel_sd * figures)
        assert not np.allclose(got, normal, rtol=1e-3)


def test_one_gather_gives_every_kinds_own_sums(real):
    """The model evaluates every regional kind's sums with one gather per grid; each kind's
    prediction must be what it computes alone from the grid (dense sums as the reference)."""
    import pytensor
    import pytensor.tensor as pt

    from nowcast.model.evidence import gather_area_sums

    _, data = real
    rng = np.random.default_rng(3)
    shape = (len(data.regions), data.n_months)
    twh = rng.uniform(1.0, 9.0, size=shape)
    share = rng.dirichlet(np.ones(shape[0]), size=shape[1]).T
    mining = rng.uniform(0.5, 2.0, size=shape[1])
    kinds = [(k, data.blocks[k.name]) for k in REGISTRY.values() if k.sums]
    kinds = [(k, b) for k, b in kinds if b.n]
    assert {k.name for k, _ in kinds} >= {"electricity_areas", "electricity_yoy"}
    grids = {
        "electricity_twh": twh,
        "mining_electricity_twh_by_unit": share * mining,
    }

    def dense(s):
        return np.einsum("fu,ft,ut->f", s.units, s.weights, grids[s.grid])

    latents = {"electricity_twh": twh, "region_share": share, "mining_electricity_twh": mining}
    # NumPy: each kind alone, then all from one gather
    alone = {k.name: k.predict(dict(latents), b, data, np) for k, b in kinds}
    q = dict(latents)
    gather_area_sums(q, [s for k, b in kinds for s in k.sums(b)], np)
    for k, b in kinds:
        for s in k.sums(b):
            np.testing.assert_allclose(q[s.key], dense(s), rtol=1e-10)
        # a running sum over every kind's cells: differences of larger totals, so the last
        # digits move (log ratios near zero: an absolute tolerance)
        np.testing.assert_allclose(k.predict(q, b, data, np), alone[k.name], atol=1e-10)
    # PyTensor, as the model builds it
    sym = {
        "electricity_twh": pt.matrix("twh"),
        "region_share": pt.matrix("share"),
        "mining_electricity_twh": pt.vector("mining"),
    }
    q = dict(sym)
    gather_area_sums(q, [s for k, b in kinds for s in k.sums(b)], pt)
    out = [k.predict(q, b, data, pt) for k, b in kinds]
    f = pytensor.function(list(sym.values()), out, mode="FAST_COMPILE")
    for (k, _), got in zip(kinds, f(twh, share, mining), strict=True):
        np.testing.assert_allclose(got, alone[k.name], atol=1e-10)
