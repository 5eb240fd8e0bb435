"""The sidecar process: a fit with it gives what a fit without it gives, bit for bit; a job
that fails in it fails as it would here; a sidecar that dies or cannot take a job leaves the
work to this process; and it never runs the caller's script again."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from nowcast import pipeline
from nowcast.fit import fit
from nowcast.model.spec import load_spec
from nowcast.sidecar import ENV_OFF, Sidecar


@pytest.fixture(scope="module")
def panel(tmp_path_factory, data_dir):
    store = tmp_path_factory.mktemp("sidecar") / "store"
    pipeline.ingest(data_dir, store)
    return pipeline.load_panel(store, start="2023-01-01")


def test_a_fit_with_the_sidecar_equals_one_without(panel):
    """Prior and prior predictive draws, posterior and diagnostics are bit-identical; the
    sidecar really did the work (its process answered)."""
    spec = load_spec()
    sampler = spec.sampler.model_copy(update={"draws": 60, "tune": 60, "chains": 2})
    with Sidecar() as side:
        assert side.running
        with_side = fit(panel, spec, sampler=sampler, prior_draws=40, sidecar=side)
        assert side.answered == 2  # the prior draws and the free parameters' diagnostics
    alone = fit(panel, spec, sampler=sampler, prior_draws=40)
    for group in ("posterior", "prior", "prior_predictive"):
        a, b = with_side.tree[group].to_dataset(), alone.tree[group].to_dataset()
        assert set(a.data_vars) == set(b.data_vars)
        for name in b.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    pd.testing.assert_frame_equal(with_side.diagnostics.table, alone.diagnostics.table)
    assert with_side.diagnostics.problems == alone.diagnostics.problems


def _fails(text: str) -> None:
    raise ValueError(text)


def test_an_error_of_the_work_is_raised_as_here():
    with Sidecar() as side:
        job = side.submit(_fails, "bad figure")
        with pytest.raises(ValueError, match="bad figure"):
            job.result()
        assert side.answered == 1


def test_a_dead_sidecar_leaves_the_work_to_this_process():
    with Sidecar() as side:
        assert side.submit(sum_of, [1.0]).result() == 1.0
        side.kill()
        assert not side.running
        assert side.submit(sum_of, [1.0, 2.0]).result() == 3.0
        assert side.answered == 1


def test_only_functions_the_other_process_can_import():
    with Sidecar() as side, pytest.raises(ValueError, match="top"):
        side.submit(lambda: 1)


def test_a_job_that_cannot_be_sent_is_done_here():
    with Sidecar() as side:
        job = side.submit(sum_of, (x for x in [1.0, 2.0]))  # a generator does not pickle
        assert job.result() == 3.0
        assert side.submit(sum_of, [4.0]).result() == 4.0  # and the sidecar goes on
        assert side.answered == 1


def test_switched_off_there_is_no_process(monkeypatch):
    monkeypatch.setenv(ENV_OFF, "1")
    with Sidecar() as side:
        assert not side.running
        assert side.submit(sum_of, [1.0]).result() == 1.0


def sum_of(values) -> float:
    return float(sum(values))


def test_the_callers_script_is_not_run_again(tmp_path):
    """multiprocessing's spawn would import the script again in the child: a script without
    a ``__main__`` guard would then do its work twice."""
    marker = tmp_path / "ran.txt"
    script = tmp_path / "user_script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from nowcast.sidecar import Sidecar, convergence_job
            import xarray as xr, numpy as np
            with Path({str(marker)!r}).open("a") as f:
                f.write("ran\\n")
            draws = np.random.default_rng(1).normal(size=(2, 50))
            ds = xr.Dataset({{"x": (("chain", "draw"), draws)}})
            with Sidecar() as side:
                table = side.submit(convergence_job, ds, ["x"]).result()
                assert side.answered == 1
            print(round(float(table.max_rhat[0]), 6))
            """
        ),
        encoding="utf-8",
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert marker.read_text(encoding="utf-8") == "ran\n"
    assert float(out.stdout.strip()) > 0.9


def test_messages_carry_arrays_of_every_layout_out_of_band(tmp_path):
    """A message's arrays travel beside its pickle and come back equal, whatever their
    memory layout (C or Fortran order, a strided view, none, objects, a 0-d value), over a
    real pipe and through the process; a message cut short is the end of the process, never
    a wrong value."""
    import io
    import os
    import threading

    from nowcast.sidecar import _encode, _receive, _write_parts

    rng = np.random.default_rng(3)
    big = rng.normal(size=(300, 1000))
    value = {
        "c": big,
        "f": np.asfortranarray(big[:50, :70]),
        "strided": big[::3, ::7],
        "empty": np.zeros((0, 4)),
        "objects": np.array(["a", None, 2.5], dtype=object),
        "scalar": np.float64(1.5),
        "frame": pd.DataFrame({"x": np.arange(5.0)}),
        "text": "ünïcode",
    }
    parts = _encode(value)
    assert len(parts) > 2  # some arrays went out of band
    read, write = os.pipe()
    with os.fdopen(read, "rb") as source, os.fdopen(write, "wb") as sink:
        writer = threading.Thread(target=_write_parts, args=(sink, parts))
        writer.start()  # a pipe holds less than the message: read while it is written
        got = _receive(source)
        writer.join()
    for name in ("c", "f", "strided", "empty", "objects"):
        np.testing.assert_array_equal(got[name], value[name], err_msg=name)
    assert got["f"].flags.f_contiguous
    got["c"][0, 0] = 7.0  # rebuilt over writable memory of its own
    assert big[0, 0] != 7.0
    assert got["scalar"] == 1.5 and got["text"] == "ünïcode"
    pd.testing.assert_frame_equal(got["frame"], value["frame"])
    whole = b"".join(bytes(p) for p in parts)
    for cut in (4, len(whole) // 2, len(whole) - 1):
        with pytest.raises(EOFError):
            _receive(io.BytesIO(whole[:cut]))
    with Sidecar() as side:
        assert side.running
        back = side.submit(np.copy, big[::2]).result()
        assert side.answered == 1
    np.testing.assert_array_equal(back, big[::2])


def test_the_process_records_no_graph_traces_unless_the_user_asked_for_them(monkeypatch):
    import pytensor

    from nowcast.sidecar import FIRST_JOB_IMPORTS, _quiet_graph_traces

    before = pytensor.config.traceback__limit
    try:
        pytensor.config.traceback__limit = 8
        monkeypatch.setenv("PYTENSOR_FLAGS", "floatX=float64,traceback__limit=5")
        _quiet_graph_traces()
        assert pytensor.config.traceback__limit == 8  # the user's setting is left alone
        monkeypatch.setenv("PYTENSOR_FLAGS", "floatX=float64")
        _quiet_graph_traces()
        assert pytensor.config.traceback__limit == 0
    finally:
        pytensor.config.traceback__limit = before
    # what it imports while it waits are modules that exist here
    import importlib.util

    assert all(importlib.util.find_spec(m) is not None for m in FIRST_JOB_IMPORTS)
