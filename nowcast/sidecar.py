"""A second process for the parts of a job that need nothing this process is doing.

A run is one core's work apart from sampling (nutpie's chains use both cores of the machine
this was measured on). Some parts need nothing the main process is computing at the time:
the prior and prior predictive draws (only the model: drawn while the sampler compiles), the
free parameters' convergence diagnostics (drawn while the derived quantities are evaluated),
the report's two slowest charts (``nowcast.report.elsewhere``: drawn while the forecasts and
identification run), an update's evaluator of the new model (compiled while the previous
run is read and carried forward) and a refit's evaluator of the previous model for the news
(``nowcast.reweight.previous_evaluator``: compiled while the sampler's model is). A
``Sidecar`` computes them in another process.

The process is started (and its imports made) when the sidecar is opened, at the start of a
job, so that its start-up runs beside the job's own imports, ingest and panel rather than
after them.

Why not ``multiprocessing``: its ``spawn`` and ``forkserver`` children import the parent's
``__main__`` script again, so a user's script without an ``if __name__ == "__main__"`` guard
would run a second time, whole (a second nowcast, a second write to the store); its ``fork``
children of a process holding the sampler's, DuckDB's or BLAS's threads may inherit a held
lock. The sidecar is ``python -m nowcast.sidecar`` instead, fed pickled jobs on its standard
input, one at a time, and answering each on its standard output, in order.

Every result is what the same function gives in this process (the model is rebuilt from the
same panel and spec, and the draws come from the same seed: bit-identical, tested). When the
process cannot be started or dies, the work is done here instead, and the job goes on.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import IO, TYPE_CHECKING, Any

from nowcast.collector import paused

if TYPE_CHECKING:  # only the jobs need them: opening a sidecar imports nothing heavy
    import pandas as pd
    import xarray as xr

log = logging.getLogger(__name__)

# NOWCAST_NO_SIDECAR=1: everything in one process (for profiling, or to compare)
ENV_OFF = "NOWCAST_NO_SIDECAR"
# each message: the pickle's length in bytes and how many buffers travel beside it, each
# buffer's length, the pickle, then the buffers (protocol 5 out-of-band: arrays are written
# from their own memory and read into the memory they are rebuilt over, never copied into
# and out of one large pickle; that and a larger pipe made 150 MB travel in 0.13-0.45 s
# instead of 0.35-0.52 s, measured)
_HEADER = struct.Struct("<QQ")
_SIZE = struct.Struct("<Q")
PIPE_BYTES = 2**20  # asked of the kernel for each pipe (Linux allows 1 MiB unprivileged)
_STOP = object()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _encode(obj: object) -> list[bytes | memoryview]:
    """``obj`` as the parts of a message (``_HEADER``)."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    sizes = b"".join(_SIZE.pack(r.nbytes) for r in raws)
    return [_HEADER.pack(len(data), len(raws)) + sizes, data, *raws]


def _write_parts(stream: IO[bytes], parts: list[bytes | memoryview]) -> None:
    for part in parts:
        stream.write(part)
    stream.flush()


def _send(stream: IO[bytes], obj: object) -> None:
    _write_parts(stream, _encode(obj))  # encoded whole, before any byte goes


def _read_exact(stream: IO[bytes], size: int, what: str) -> bytearray:
    out = bytearray(size)
    view, got = memoryview(out), 0
    while got < size:
        n = stream.readinto(view[got:])
        if not n:
            raise EOFError(f"the sidecar process ended {what}")
        got += n
    return out


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the sidecar process ended")
    size, count = _HEADER.unpack(head)
    sizes = [_SIZE.unpack(_read_exact(stream, _SIZE.size, "mid-message"))[0] for _ in range(count)]
    data = _read_exact(stream, size, "mid-message")
    buffers = [_read_exact(stream, n, "mid-message") for n in sizes]
    return pickle.loads(data, buffers=buffers)


def _widen(stream: IO[bytes] | None) -> None:
    """Ask for ``PIPE_BYTES`` of pipe (fewer, larger writes and reads); the default, when
    refused, works too."""
    if stream is None:
        return
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError, ValueError):
        pass


def _name_of(fn: Callable) -> tuple[str, str]:
    module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "." in name or "<" in name:
        raise ValueError(f"a sidecar runs functions defined at a module's top only, not {fn!r}")
    return module, name


class Sidecar:
    """One helper process; use as a context manager (the process ends with the block)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._jobs: queue.Queue = queue.Queue()
        self._pending: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._dead: Exception | None = None
        self.answered = 0  # jobs the other process answered
        if os.environ.get(ENV_OFF) == "1" or _usable_cores() < 2:
            return  # on one core the second process would only take turns with this one
        # the same modules as this process, wherever it found them (a checkout, a test)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.curdir for p in sys.path)}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "nowcast.sidecar"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # its warnings are this process's to give
                env=env,
            )
        except OSError as exc:  # no processes allowed here: work in this one
            log.info("no sidecar process (%s): working in one process", exc)
            return
        _widen(self._proc.stdin)
        _widen(self._proc.stdout)
        threading.Thread(target=self._write, daemon=True).start()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def running(self) -> bool:
        """Whether the other process is there to take jobs."""
        return self._proc is not None and self._dead is None

    def kill(self) -> None:
        """End the other process at once (as a crash would); later jobs are done here."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._reader.join()

    def __enter__(self) -> Sidecar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the process at once: what it is still computing is dropped (waiting for it
        to end by itself took a second, its interpreter freeing what the jobs left)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self._jobs.put(_STOP)
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def submit(self, fn: Callable[..., Any], *args: Any) -> Job:
        """``fn(*args)`` in the other process (a function defined at the top of a module it
        can import, and picklable arguments); in this one, when its result is asked for, if
        there is no other process or it failed."""
        name = _name_of(fn)
        future: Future | None = None
        if self.running:
            future = Future()
            self._jobs.put((name, args, future))
        return Job(fn, args, future)

    def _write(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        while True:
            item = self._jobs.get()
            if item is _STOP:
                try:
                    proc.stdin.close()  # the sidecar ends at the end of its input
                except OSError:
                    pass
                return
            name, args, future = item
            try:
                parts = _encode((name, args))
            except Exception as exc:  # noqa: BLE001 - arguments that cannot be sent
                future.set_exception(SidecarFailed(f"the job could not be sent: {exc}"))
                continue
            with self._lock:
                if self._dead is not None:
                    future.set_exception(self._dead)
                    continue
                self._pending.put(future)  # answers come back in the order jobs are sent
            try:
                _write_parts(proc.stdin, parts)
            except OSError:
                pass  # the process ended: the reader fails what is pending

    def _read(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        while True:
            try:
                ok, value = _receive(proc.stdout)
            except Exception as exc:  # noqa: BLE001 - the process ended
                with self._lock:
                    self._dead = SidecarFailed(str(exc))
                    while not self._pending.empty():
                        self._pending.get().set_exception(self._dead)
                return
            future = self._pending.get()
            self.answered += 1
            (future.set_result if ok else future.set_exception)(value)


class SidecarFailed(Exception):
    """The sidecar process could not do a job for a reason of its own (it ended, or the
    job could not be sent to it)."""


class Job:
    """A result computed in the sidecar, or here if the sidecar could not."""

    def __init__(self, fn: Callable[..., Any], args: tuple, future: Future | None) -> None:
        self._fn, self._args, self._future = fn, args, future

    def result(self) -> Any:
        """The result (waiting for the other process); computed here if that process failed
        for a reason of its own. An error of the work itself is raised as it would be here."""
        if self._future is not None:
            try:
                return self._future.result()
            except SidecarFailed as exc:
                log.info("sidecar failed (%s): working in this process", exc)
        return self._fn(*self._args)


# --------------------------------------------------------------------------- the jobs


def prior_job(panel: xr.Dataset, spec: Any, draws: int, seed: int) -> xr.DataTree:
    """The prior and prior predictive draws of ``spec`` fitted to ``panel`` (what
    ``nowcast.fit.prior_draws_of`` gives for the model ``fit`` builds)."""
    from nowcast.fit import prior_draws_of
    from nowcast.model.build import build_model
    from nowcast.model.data import prepare

    return prior_draws_of(build_model(spec, prepare(panel, spec)), draws, seed)


def evaluator_job(panel: xr.Dataset, spec: Any, observed: Any = True) -> Any:
    """``nowcast.fit_draws.evaluator_function(model, log_likelihood=observed,
    log_prior=True, cache=False)`` for the model of ``spec`` on ``panel``, ready to be sent
    (what an update's fast path evaluates its carried draws with, compiled here while that
    process reads the previous run)."""
    from nowcast.fit_draws import evaluator_function
    from nowcast.model.build import build_model
    from nowcast.model.data import prepare

    model = build_model(spec, prepare(panel, spec))
    return evaluator_function(model, log_likelihood=observed, log_prior=True, cache=False)


def convergence_job(posterior: xr.Dataset, names: list[str]) -> pd.DataFrame:
    """``nowcast.fit.convergence_table`` of ``names``."""
    from nowcast.fit import convergence_table

    return convergence_table(posterior, names)


# --------------------------------------------------------------------------- the process


def serve(source: IO[bytes], sink: IO[bytes]) -> None:
    """Answer each job read from ``source`` on ``sink`` until ``source`` ends."""
    # the first jobs' imports (the model), made before the first job comes; the charts'
    # (matplotlib, arviz: a second more) once it is answered, while the caller goes on
    with paused():
        import nowcast.fit  # noqa: F401

        _quiet_graph_traces()
        for module in FIRST_JOB_IMPORTS:
            try:
                importlib.import_module(module)
            except ImportError:  # another release of a library: its job imports what it needs
                pass
    later = True
    while True:
        try:
            (module, name), args = _receive(source)
        except EOFError:
            return
        with paused():  # the collector walked the jobs' graphs again and again (collector.py)
            try:
                fn = getattr(importlib.import_module(module), name)
                answer = (True, fn(*args))
            except Exception as exc:  # noqa: BLE001 - the caller raises it as its own
                answer = (False, exc)
            try:
                _send(sink, answer)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                _send(sink, (False, SidecarFailed(f"the answer could not be sent: {exc}")))
            del answer  # not held while this process waits for the next job
        if later:
            later = False
            with paused():
                import nowcast.report.elsewhere  # noqa: F401


# What the first model job (an update's evaluator, a run's prior draws) imported on its way,
# 0.6 s of its critical path when left to it (measured with -X importtime on December's
# update): dask's arrays (xarray looks for them when it first wraps an array, unpickling the
# job's panel), the panel's sources and their schemas, the sparse and special functions
# PyMC's printing and PyTensor's rewrites reach, the C linker's errors. Imported while the
# process waits for that job.
FIRST_JOB_IMPORTS = (
    "nowcast.model.build",
    "nowcast.model.data",
    "nowcast.panel",
    "nowcast.sources",
    "pymc.printing",
    "pytensor.sparse",
    "pytensor.link.c.exceptions",
    "pytensor.link.c.cvm",
    "scipy.special",
    "dask.array",
    "pyarrow.pandas_compat",
)


def _quiet_graph_traces() -> None:
    """No creation stack on this process's graph nodes. PyTensor records eight frames of
    source lines on every node it creates, for its error messages; compiling an update's
    evaluator made 15,000 and spent 0.3 s of its 1.8 s doing it (measured). The jobs' errors
    reach the caller as exceptions either way. A ``traceback__limit`` the user set in
    ``PYTENSOR_FLAGS`` is kept."""
    if "traceback__limit" in os.environ.get("PYTENSOR_FLAGS", ""):
        return
    import pytensor

    pytensor.config.traceback__limit = 0


def _main() -> None:
    # answers go on the real standard output; anything a library prints goes to stderr
    sink = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, sink)


if __name__ == "__main__":
    _main()
