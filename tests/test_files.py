"""Writes in the background (nowcast.files.Pending): the caller goes on while a large file is
written, and waiting gives the written file or the write's own error, never a silent loss."""

from __future__ import annotations

import threading

import pytest

from nowcast.files import Pending, write_atomic


def test_a_background_write_is_complete_when_waited_for(tmp_path):
    started, release = threading.Event(), threading.Event()

    def write(tmp):
        started.set()
        release.wait(10)  # the caller goes on meanwhile
        tmp.write_text("posterior", encoding="utf-8")

    pending = Pending(lambda: write_atomic(tmp_path / "posterior.nc", write))
    assert started.wait(10)
    assert not (tmp_path / "posterior.nc").exists()  # not there until complete
    release.set()
    assert pending.wait() == tmp_path / "posterior.nc"
    assert (tmp_path / "posterior.nc").read_text(encoding="utf-8") == "posterior"


def test_a_failed_background_write_raises_when_waited_for_and_leaves_nothing(tmp_path):
    def write(tmp):
        tmp.write_text("half", encoding="utf-8")
        raise OSError("disk full")

    pending = Pending(lambda: write_atomic(tmp_path / "posterior.nc", write))
    with pytest.raises(OSError, match="disk full"):
        pending.wait()
    assert list(tmp_path.iterdir()) == []  # no partial file, no temporary left
