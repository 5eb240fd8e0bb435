"""Independent fits in parallel on dask.distributed: a local cluster by default, or an existing
cluster by its scheduler's address.

A local cluster runs one single-threaded worker process per core (a fit's sampler then runs
its chains on that one thread: two fits on two cores rather than two fits fighting for both).
Workers of an existing cluster must see the store's folder at the same path (a shared file
system) and have ``nowcast`` installed.

Results come back to this process as each job finishes (``as_completed``), so the caller can
write each one to the store at once: only this process writes, and an interrupted run keeps
every result it received.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from nowcast.errors import NowcastError


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def client_for(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A dask.distributed client: on a local cluster of ``workers`` single-threaded worker
    processes (default: one per core), or connected to ``scheduler`` (``tcp://host:8786``)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise NowcastError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or default_workers()
    if n < 1:
        raise NowcastError(f"--workers: expected at least 1, got {n}")
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",  # this machine only
        dashboard_address=None,
        # the scheduler serves HTTP even without a dashboard, by default on port 8787: a free
        # port instead, so a second backtest (or another user's cluster) never collides
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.CRITICAL,  # a failed job is reported by the caller, once
        # each worker's sampler threads stay on its own core
        env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def run_all[J, R](
    client: Any,
    fn: Callable[[J], R],
    jobs: Iterable[J],
    key: Callable[[J], str],
    on_result: Callable[[J, R], None],
    on_error: Callable[[J, BaseException], None],
    priority: Callable[[J], int] | None = None,
) -> None:
    """Run ``fn`` on every job on the cluster; hand each result (or error) to ``on_result``
    (``on_error``) in this process as soon as it arrives. Keys name the jobs in the
    scheduler (``key(job)``), so a job is never confused with another's result.

    ``priority``: jobs with a higher value start first (dask's task priority); give the
    longest jobs the highest, so the workers finish together instead of one running the
    longest job alone at the end (longest-processing-time-first scheduling)."""
    from distributed import as_completed

    jobs = list(jobs)
    rank = priority or (lambda _: 0)
    jobs.sort(key=rank, reverse=True)  # stable: equal priorities keep their order
    futures = {
        client.submit(fn, job, key=key(job), pure=False, priority=rank(job)): job for job in jobs
    }
    for future in as_completed(futures):
        job = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # the job's own error, raised again here
            on_error(job, exc)
            continue
        on_result(job, result)
