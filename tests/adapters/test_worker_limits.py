"""The memory limit's watcher: one thread per worker process, kept between calls, that notes a
call within 10 % of its limit (so a crash there reads as out of memory) and never a call that
has returned."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from qorch.adapters.executor import run_in_process
from qorch.adapters.worker_limits import WATCH_INTERVAL, call_with_memory_limit, data_bytes

MIB = 1024 * 1024


def hold(megabytes: float, seconds: float) -> list[str]:
    """Holds `megabytes` of data for `seconds`; answers the process's threads meanwhile."""
    held = bytearray(int(megabytes * MIB))
    time.sleep(seconds)
    del held
    return sorted(thread.name for thread in threading.enumerate())


def growth(megabytes: int) -> int:
    """How much data_bytes() grows while `megabytes` more are held."""
    before = data_bytes()
    held = bytearray(megabytes * MIB)
    grown = data_bytes() - before
    del held
    return grown


@pytest.mark.anyio
async def test_a_call_near_its_limit_is_noted_and_one_well_within_is_not(tmp_path: Path):
    near, within = tmp_path / "near", tmp_path / "within"

    await run_in_process(call_with_memory_limit, 64, str(near), None, hold, 0.95 * 64, 0.2)
    await run_in_process(call_with_memory_limit, 1024, str(within), None, hold, 16, 0.2)

    assert near.exists() and int(near.read_text()) > 0
    assert not within.exists()


@pytest.mark.anyio
async def test_the_watcher_is_kept_between_calls_and_quiet_once_a_call_returned(tmp_path: Path):
    returned = tmp_path / "returned"
    threads = [
        await run_in_process(call_with_memory_limit, 64, str(returned), None, hold, 0, 0)
        for _ in range(3)
    ]
    # Past the returned call's limit, outside any call: no note for it.
    await run_in_process(hold, 256, 5 * WATCH_INTERVAL)

    assert len(threads[0]) == 2 and threads[0] == threads[1] == threads[2]
    assert not returned.exists()


@pytest.mark.anyio
async def test_the_data_segment_is_read_afresh_each_time():
    assert await run_in_process(growth, 64) >= 64 * MIB
    assert await run_in_process(growth, 64) >= 64 * MIB
