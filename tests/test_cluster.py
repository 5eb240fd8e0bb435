"""Jobs on the cluster start in the order of their priority (longest first)."""

from __future__ import annotations

import pytest

from nowcast.cluster import run_all


@pytest.fixture(scope="module")
def one_worker_client():
    distributed = pytest.importorskip("distributed")
    # in-process, one thread: jobs run one at a time, so results come back in start order
    client = distributed.Client(
        processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None
    )
    yield client
    client.close()


def _echo(job: int) -> int:
    return job


def test_jobs_start_by_priority_highest_first(one_worker_client):
    jobs = [3, 11, 5, 8, 1, 13]
    seen: list[int] = []
    run_all(
        one_worker_client,
        _echo,
        jobs,
        key=lambda j: f"prio-{j}",
        on_result=lambda j, r: seen.append(r),
        on_error=lambda j, e: pytest.fail(f"job {j} failed: {e}"),
        priority=lambda j: j,
    )
    assert seen == sorted(jobs, reverse=True)


def test_without_priorities_jobs_keep_their_order(one_worker_client):
    jobs = [4, 2, 9, 7]
    seen: list[int] = []
    run_all(
        one_worker_client,
        _echo,
        jobs,
        key=lambda j: f"plain-{j}",
        on_result=lambda j, r: seen.append(r),
        on_error=lambda j, e: pytest.fail(f"job {j} failed: {e}"),
    )
    assert seen == jobs
