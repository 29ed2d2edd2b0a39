"""CpuPool: the same answers in the calling process and in workers, errors that name the earliest
failing item, dead workers replaced, and no worker outliving its owner."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from storage.cpu_pool import OWNER_WATCH_S, CpuPool
from tests.support.cpu_pool_work import fail_at, square_with_pid

PRELOAD = ["tests.support.cpu_pool_work"]


@pytest.mark.parametrize("count", [0, 1, 8, 9, 101])
async def test_results_come_back_in_order_from_the_right_place(count: int) -> None:
    pool = CpuPool(processes=2, inline_max=8, preload=PRELOAD)
    try:
        results = await pool.map_chunks(square_with_pid, range(count))
    finally:
        pool.close()
    assert [square for square, _ in results] == [i * i for i in range(count)]
    pids = {pid for _, pid in results}
    if count <= 8:
        assert pids <= {os.getpid()}  # small batches never leave this process
    else:
        assert os.getpid() not in pids and 1 <= len(pids) <= 2  # a worker may take both chunks


async def test_an_error_names_the_earliest_failing_item() -> None:
    pool = CpuPool(processes=3, inline_max=0, preload=PRELOAD)
    try:
        # Chunks of 10: the 2nd and 3rd fail; the 2nd chunk's error is the one raised.
        with pytest.raises(ValueError, match="item 12 is bad"):
            await pool.map_chunks(functools.partial(fail_at, 12), range(30))
    finally:
        pool.close()


def test_processes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="processes >= 1"):
        CpuPool(processes=0)


async def test_dead_workers_are_replaced_and_the_batch_still_answered() -> None:
    pool = CpuPool(processes=2, inline_max=0, preload=PRELOAD)
    try:
        first = await pool.map_chunks(square_with_pid, range(40))
        executor = pool._executor
        assert executor is not None
        for pid in {pid for _, pid in first}:
            os.kill(pid, signal.SIGKILL)
        # The first batch after the deaths runs in this process, the next one in new workers.
        again = await pool.map_chunks(square_with_pid, range(40))
        assert [s for s, _ in again] == [s for s, _ in first]
        assert {pid for _, pid in again} == {os.getpid()}
        third = await pool.map_chunks(square_with_pid, range(40))
        assert pool._executor is not None and pool._executor is not executor
        assert os.getpid() not in {pid for _, pid in third}
    finally:
        pool.close()


OWNER = textwrap.dedent(
    """
    import asyncio, sys
    from storage.cpu_pool import CpuPool
    from tests.support.cpu_pool_work import square_with_pid

    async def main():
        pool = CpuPool(processes=2, inline_max=0, preload=["tests.support.cpu_pool_work"])
        results = await pool.map_chunks(square_with_pid, range(10))
        print(" ".join(str(pid) for pid in sorted({pid for _, pid in results})), flush=True)
        await asyncio.sleep(600)

    asyncio.run(main())
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); its state in /proc says it is gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_exit_when_their_owner_is_killed() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert owner.stdout is not None
        workers = [int(pid) for pid in owner.stdout.readline().split()]
        assert workers and all(_alive(pid) for pid in workers)
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        deadline = time.monotonic() + 10 * OWNER_WATCH_S
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)
    finally:
        owner.kill()
        owner.wait()
