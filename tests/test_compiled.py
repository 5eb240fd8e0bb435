"""Compiling for nutpie (nowcast.compiled): the generated callbacks sample exactly as nutpie's
own, a compiled model is reused in-process with new data of the same shapes, and the callbacks'
on-disk cache is used by a later process and survives corruption.

A small regression model with one ``pm.Data`` driver stands in for the real one: the code path
is the same (the real model's compile is timed by benchmarks/run_default.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import nutpie
import pymc as pm
import pytensor
import pytest

from nowcast.compiled import _freeze, compile_model, forget_compiled

SEED = 5
X = np.linspace(0.0, 1.0, 12)


def toy(x: np.ndarray = X, y: np.ndarray | None = None) -> pm.Model:
    y = 0.5 + 2.0 * X + 0.1 * np.sin(np.arange(len(X))) if y is None else y
    with pm.Model(coords={"obs": np.arange(len(x))}) as m:
        xd = pm.Data("x", x, dims="obs")
        a = pm.Normal("a", 0.0, 5.0)
        b = pm.Normal("b", 0.0, 5.0)
        s = pm.HalfNormal("s", 1.0)
        pm.Normal("y", a + b * xd, s, observed=y, dims="obs")
    return m


def draws(compiled) -> np.ndarray:
    tree = nutpie.sample(
        compiled, draws=150, tune=150, chains=2, seed=SEED, progress_bar=False, cores=1
    )
    post = tree["posterior"].to_dataset()
    return np.stack([post[v].values for v in ("a", "b", "s")])


@pytest.fixture(autouse=True)
def fresh():
    forget_compiled()
    yield
    forget_compiled()


def test_generated_callbacks_sample_as_nutpies_own():
    m = toy()
    ours, info = compile_model(m, reuse=False)  # data frozen, as nutpie's freeze_model=True
    assert info.cached_callbacks and not info.reused
    theirs = nutpie.compile_pymc_model(m, freeze_model=True)
    np.testing.assert_array_equal(draws(ours), draws(theirs))
    ours, info = compile_model(toy())  # data left as data, dims frozen
    assert info.cached_callbacks and not info.reused
    theirs = nutpie.compile_pymc_model(_freeze(toy(), data=False), freeze_model=False)
    np.testing.assert_array_equal(draws(ours), draws(theirs))


def test_reuse_gives_the_draws_of_a_fresh_compile():
    first, info1 = compile_model(toy())
    again, info2 = compile_model(toy())  # a new model object with the same graph and data
    assert not info1.reused and info2.reused
    forget_compiled()
    fresh, info3 = compile_model(toy())
    assert not info3.reused
    np.testing.assert_array_equal(draws(again), draws(fresh))
    np.testing.assert_array_equal(draws(first), draws(fresh))


def test_reuse_with_new_data_of_the_same_shape_changes_the_posterior():
    base = draws(compile_model(toy())[0])
    x2 = X[::-1].copy()  # same shape, other values: the slope's sign flips
    reused, info = compile_model(toy(x2))
    assert info.reused
    new = draws(reused)
    assert np.mean(new[1]) < 0 < np.mean(base[1])
    forget_compiled()
    fresh, info_fresh = compile_model(toy(x2))
    assert not info_fresh.reused
    np.testing.assert_array_equal(new, draws(fresh))


def test_new_observations_of_the_same_shape_reuse_the_compiled_model():
    base = draws(compile_model(toy())[0])
    y2 = 3.0 - 1.0 * X  # observed values are data in the kept model
    reused, info = compile_model(toy(y=y2))
    assert info.reused
    new = draws(reused)
    assert np.mean(new[1]) < 0 < np.mean(base[1])
    forget_compiled()
    fresh, info_fresh = compile_model(toy(y=y2))
    assert not info_fresh.reused
    np.testing.assert_array_equal(new, draws(fresh))


def test_other_shapes_or_graphs_compile_afresh():
    compile_model(toy())
    x3 = np.linspace(0.0, 1.0, 13)
    _, info = compile_model(toy(x3, y=1.0 + x3))
    assert not info.reused
    with pm.Model(coords={"obs": np.arange(len(X))}) as other:  # another prior: another graph
        xd = pm.Data("x", X, dims="obs")
        a = pm.Normal("a", 0.0, 2.0)
        b = pm.Normal("b", 0.0, 5.0)
        s = pm.HalfNormal("s", 1.0)
        pm.Normal("y", a + b * xd, s, observed=1.0 + X, dims="obs")
    _, info = compile_model(other)
    assert not info.reused


SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    from test_compiled import toy, draws
    from nowcast.compiled import compile_model
    compiled, info = compile_model(toy(), reuse=False)
    print(json.dumps({{"hits": info.callback_cache_hits, "cached": info.cached_callbacks,
                       "mean_b": float(np.mean(draws(compiled)[1]))}}))
    """
)


def _run(tmp_path) -> dict:
    # a numba cache of its own (PyTensor keeps it in base_compiledir/numba); the C modules'
    # folder stays the usual one, so only the numba code is compiled afresh
    flags = f"base_compiledir={tmp_path / 'pytensor'},compiledir={pytensor.config.compiledir}"
    env = {**os.environ, "PYTENSOR_FLAGS": flags}
    script = SCRIPT.format(tests=os.path.dirname(__file__))
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_callbacks_cached_across_processes_and_rebuilt_when_corrupt(tmp_path):
    first = _run(tmp_path)
    assert first["cached"] and first["hits"] == 0
    second = _run(tmp_path)
    assert second["hits"] == 2  # both callbacks loaded from disk
    # The very first compile builds the graph's numba code too, and LLVM then optimises it
    # together with the callbacks; later processes link the cached code as it is. The
    # rounding differs, so the chains part after a while (nutpie's own compile does the same);
    # the posterior does not.
    assert abs(second["mean_b"] - first["mean_b"]) < 0.1
    entries = [p for p in (tmp_path / "pytensor").rglob("*nowcast_*_callback*") if p.is_file()]
    assert len(entries) >= 4  # an index and a data file per callback
    for p in entries:
        p.write_bytes(b"not a numba cache entry")
    third = _run(tmp_path)  # no traceback: the entries are rebuilt
    assert third["hits"] == 0 and third["mean_b"] == second["mean_b"]
    assert _run(tmp_path)["hits"] == 2
