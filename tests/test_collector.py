"""The collector paused around bounded work: paused inside, restored after (to the state it
had), nested and shared between threads; the sidecar's jobs and an update run with it paused."""

from __future__ import annotations

import gc
import threading

import pytest

from nowcast.collector import paused


@pytest.fixture(autouse=True)
def _restore_collector():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_inside_restored_after():
    gc.enable()
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_restores_it():
    gc.enable()
    with pytest.raises(ValueError), paused():
        raise ValueError("the work failed")
    assert gc.isenabled()


def test_a_collector_the_caller_switched_off_stays_off():
    gc.disable()
    with paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_nested_pauses_restore_it_when_the_outermost_ends():
    gc.enable()
    with paused():
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner pause ending does not restart it
    assert gc.isenabled()


def test_as_a_decorator_each_call_pauses_it():
    gc.enable()

    @paused()
    def work() -> bool:
        return gc.isenabled()

    assert work() is False and work() is False
    assert gc.isenabled()


def test_threads_share_the_pause():
    """One thread's pause ending while another's goes on leaves the collector paused; it
    restarts when the last one ends."""
    gc.enable()
    inside, release = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with paused():
            inside.set()
            release.wait(10)
            seen.append(gc.isenabled())

    thread = threading.Thread(target=other)
    with paused():
        thread.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other thread's pause goes on
    release.set()
    thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_the_sidecars_jobs_run_with_it_paused():
    from nowcast.sidecar import Sidecar

    with Sidecar() as side:
        if not side.running:
            pytest.skip("no second process on this machine")
        assert side.submit(gc.isenabled).result() is False
        assert side.answered == 1
    assert gc.isenabled()  # this process's collector is untouched


class _Seen(Exception):
    pass


def test_an_update_and_a_run_work_with_it_paused(monkeypatch):
    """Both record the collector's state at their first step (then stop there)."""
    from nowcast import pipeline
    from nowcast import update as update_module

    gc.enable()
    seen: list[bool] = []

    def first_step(*args, **kwargs):
        seen.append(gc.isenabled())
        raise _Seen

    monkeypatch.setattr(update_module, "resolve_files", first_step)
    monkeypatch.setattr(pipeline, "load_spec", first_step)
    with pytest.raises(_Seen):
        update_module.update(["release.csv"])
    monkeypatch.setenv("NOWCAST_NO_SIDECAR", "1")
    with pytest.raises(_Seen):
        pipeline.run()
    assert seen == [False, False]
    assert gc.isenabled()
