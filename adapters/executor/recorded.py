"""A local run answered as its job records it: the worker process nests and encodes the results
(`qorch.domain.results.record_of`), so the executor's process neither unpickles millions of
values nor encodes them; a long results text comes back in a file instead of the pipe."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from typing import Any

import anyio
import anyio.to_thread

from qorch.adapters.providers import in_worker
from qorch.domain.devices import Device
from qorch.domain.execution import ExecutionTask
from qorch.domain.ports import Provider
from qorch.domain.results import OutcomeRecord, record_of

SPILL_CHARACTERS = 1 << 20
"""Results texts at least this long come back in a file: the pipe to a worker process carries
64 KiB at a time (a sampling sweep's 43 MB took 0.5-0.8 s through it on a busy 2-core machine,
0.3 s through a file)."""


@dataclass(frozen=True)
class Spilled:
    """A record whose results text waits in a file (0600, removed once read)."""

    record: OutcomeRecord
    path: str

    def read(self) -> OutcomeRecord:
        try:
            with open(self.path, encoding="utf-8") as file:
                text = file.read()
        finally:
            os.unlink(self.path)
        return replace(self.record, results_json=text)


def run_recorded(
    provider: Provider,
    task: ExecutionTask,
    device: Device,
    credentials: dict[str, str],
    with_parameters: bool,
    with_observables: bool,
    spill_dir: str | None = None,
) -> OutcomeRecord | Spilled:
    """Runs in a worker process: the provider's run, as the job records it. A long text goes
    into a file in `spill_dir`, the executor's own directory (removed when it stops, with any
    file whose answer a cancelled run never read)."""
    outcome = in_worker(provider, "run", task, device, credentials)
    record = record_of(outcome, with_parameters=with_parameters, with_observables=with_observables)
    text = record.results_json
    if text is None or spill_dir is None or len(text) < SPILL_CHARACTERS:
        return record
    descriptor, path = tempfile.mkstemp(suffix=".json", dir=spill_dir)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
    except BaseException:
        os.unlink(path)
        raise
    return Spilled(replace(record, results_json=None), path)


async def gathered(answer: Any) -> Any:
    """A worker's answer with a spilled results text read back (in a thread; shielded, so a
    cancelled job leaves no file behind)."""
    if not isinstance(answer, Spilled):
        return answer
    with anyio.CancelScope(shield=True):
        return await anyio.to_thread.run_sync(answer.read)
