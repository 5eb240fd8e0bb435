"""Compiled functions kept on disk between processes (nowcast.fncache): the key tells graphs
apart exactly, is the same in every process, and a cached function computes what a fresh
compile computes; a damaged entry is rebuilt, never an error.

A small regression model stands in for the real one (its compile is timed by
benchmarks/run_default.py); the sampler's functions are checked through ``compile_model``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import nutpie
import pymc as pm
import pytensor.tensor as pt
import pytest
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from nowcast import fncache
from nowcast.compiled import compile_model, forget_compiled
from nowcast.fit import batched_function

X = np.linspace(0.0, 1.0, 12)


def toy(y: np.ndarray | None = None) -> pm.Model:
    y = 0.5 + 2.0 * X + 0.1 * np.sin(np.arange(len(X))) if y is None else y
    with pm.Model(coords={"obs": np.arange(len(X))}) as m:
        a = pm.Normal("a", 0.0, 5.0)
        b = pm.Normal("b", 0.0, 5.0)
        s = pm.HalfNormal("s", 1.0)
        pm.Deterministic("fitted", a + b * X, dims="obs")
        pm.Normal("y", a + b * X, s, observed=y, dims="obs")
    return m


def graph(scale: float = 2.0):
    x = pt.dvector("x")
    return x, [pt.exp(x) * scale + pt.sum(x**2)]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(fncache, "cache_dir", lambda: tmp_path / "functions")
    monkeypatch.delenv(fncache.ENV_DISABLE, raising=False)
    forget_compiled()
    yield tmp_path / "functions"
    forget_compiled()


def test_the_key_tells_graphs_apart_exactly():
    _, out1 = graph()
    _, out2 = graph()  # built again: other objects, the same graph
    _, other = graph(scale=3.0)  # one constant differs
    d1, d2, d3 = (fncache.graph_digest(o) for o in (out1, out2, other))
    assert d1 is not None and d1 == d2
    assert d3 != d1
    assert fncache.graph_digest(out1, extra=("another", "signature")) != d1
    # the same model built twice, and with one observation changed
    m1, m2 = toy(), toy()
    y = 0.5 + 2.0 * X + 0.1 * np.sin(np.arange(len(X)))
    y[3] += 1e-9
    m3 = toy(y)
    keys = [fncache.graph_digest(m.logp(sum=False)) for m in (m1, m2, m3)]
    assert keys[0] == keys[1] != keys[2]


class _Opaque(Op):
    """An op known only by its identity (no parameters; its repr is its address)."""

    def make_node(self, x):
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = inputs[0]

    def __repr__(self):
        return object.__repr__(self)


def test_a_graph_known_only_by_identity_gets_no_key_and_is_not_cached(own_cache):
    x = pt.dvector("x")
    assert fncache.graph_digest([_Opaque()(x)]) is None
    built = []
    value, loaded = fncache.cached(None, lambda: built.append(1) or "made")
    assert value == "made" and not loaded and built == [1]
    assert not own_cache.exists()


SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_fncache import graph, toy
    from nowcast import fncache
    print(fncache.graph_digest(graph()[1]), fncache.graph_digest(toy().logp(sum=False)))
    """
)


def test_the_key_is_the_same_in_every_process():
    """No part of the key may come from an object's address or from Python's hash seed."""
    outs = []
    for seed in ("1", "2"):
        res = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(tests=os.path.dirname(__file__))],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        outs.append(res.stdout.split())
    assert outs[0] == outs[1]
    here = [fncache.graph_digest(graph()[1]), fncache.graph_digest(toy().logp(sum=False))]
    assert outs[0] == here


def test_a_cached_function_computes_what_a_fresh_compile_does(own_cache):
    model = toy()
    value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
    outputs = [*model.replace_rvs_by_values(model.deterministics), *model.logp(sum=False)]
    rng = np.random.default_rng(3)
    draws = [rng.normal(size=(40, *v.type.shape)) for v in value_vars]
    fresh = batched_function(value_vars, outputs)(*draws)
    entries = list(own_cache.glob("*.pkl"))
    assert len(entries) == 1
    again = batched_function(value_vars, outputs)(*draws)  # from the disk cache
    for a, b in zip(fresh, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.ptp(fresh[0]) > 0  # the draws differ: so do their fitted values


def test_a_damaged_entry_is_rebuilt_not_an_error(own_cache):
    x, out = graph()
    digest = fncache.graph_digest(out)
    calls = []

    def build():
        import pytensor

        calls.append(1)
        return pytensor.function([x], out)

    f1, loaded1 = fncache.cached(digest, build)
    f2, loaded2 = fncache.cached(digest, build)
    assert (loaded1, loaded2) == (False, True) and len(calls) == 1
    (own_cache / f"{digest}.pkl").write_bytes(b"not a pickle")
    f3, loaded3 = fncache.cached(digest, build)
    assert not loaded3 and len(calls) == 2
    v = np.array([0.0, 1.0, -2.0])
    expected = np.exp(v) * 2.0 + np.sum(v**2)
    for f in (f1, f2, f3):
        np.testing.assert_allclose(f(v)[0], expected, rtol=1e-15)
    assert fncache.cached(digest, build)[1]  # rewritten whole: loads again


def test_the_cache_can_be_turned_off(own_cache, monkeypatch):
    monkeypatch.setenv(fncache.ENV_DISABLE, "1")
    x, out = graph()
    _, loaded = fncache.cached(fncache.graph_digest(out), lambda: 1)
    assert not loaded and not own_cache.exists()


def test_the_least_recently_used_entries_go_beyond_the_limit(own_cache, monkeypatch):
    fncache.cached("f" * 64, lambda: 0)
    size = (own_cache / f"{'f' * 64}.pkl").stat().st_size
    (own_cache / f"{'f' * 64}.pkl").unlink()
    monkeypatch.setattr(fncache, "MAX_BYTES", 3 * size)  # room for three
    for i in range(5):
        fncache.cached(f"{i:064x}", lambda i=i: i)
        os.utime(own_cache / f"{i:064x}.pkl", (i, i))  # stamped in order of writing
    assert sorted(p.stem[-1] for p in own_cache.glob("*.pkl")) == ["2", "3", "4"]


def test_the_samplers_functions_from_disk_sample_as_a_fresh_compile(own_cache):
    def draws(compiled) -> np.ndarray:
        tree = nutpie.sample(
            compiled, draws=100, tune=100, chains=2, seed=5, progress_bar=False, cores=1
        )
        return np.stack([tree["posterior"][v].values for v in ("a", "b", "s")])

    first, info1 = compile_model(toy(), reuse=False)
    second, info2 = compile_model(toy(), reuse=False)
    assert not info1.functions_from_disk and info2.functions_from_disk
    np.testing.assert_array_equal(draws(first), draws(second))
    other, info3 = compile_model(toy(y=X), reuse=False)  # other data: compiled afresh
    assert not info3.functions_from_disk
