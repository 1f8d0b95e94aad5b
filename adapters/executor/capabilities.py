"""What a worker can do beyond what every worker can (a GPU): found once, advertised while the
worker runs, and the rule that decides which jobs it may claim.

A device may `require` capabilities (a GPU device requires "gpu"). A worker asks its probe once
at start; when it found something it advertises it (adverts.py), renews the advertisement every
third of a lease and withdraws it when it stops. It claims only jobs whose device's needs it
has (board.py); the others are skipped, never held: they wait for a worker that has them, and
the jobs behind them are claimed as usual. A worker that found nothing writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import anyio
import anyio.to_thread

from qorch.adapters.executor.adverts import Adverts, Capabilities

log = logging.getLogger("qorch.executor")

Requires = Callable[[str], tuple[str, ...]]
"""What a worker needs to run a device's jobs, from the device id, listed now or not."""


def needs_of(requires: Iterable[str]) -> str:
    """A job's needs as the board keeps them: sorted names, comma-separated ("" for none)."""
    return ",".join(sorted(set(requires)))


def can_run(needs: str, has: frozenset[str]) -> bool:
    return not needs or set(needs.split(",")) <= has


def nothing() -> Capabilities:
    return {}


@dataclass(eq=False)
class Advertiser:
    adverts: Adverts | None = None
    detect: Callable[[], Capabilities] = nothing
    """Asks the probes (blocking; called once, in a worker thread)."""
    requires: Requires | None = None
    """Needs known without the device being listed (a GPU device while no GPU worker lives);
    None: only what the listed device says."""
    every: float = 10.0
    """Seconds between heartbeats."""
    capabilities: Capabilities = field(default_factory=dict)
    failing: bool = False

    async def start(self, worker_id: str) -> frozenset[str]:
        """Finds this worker's capabilities and advertises them; answers their names."""
        try:
            self.capabilities = await anyio.to_thread.run_sync(self.detect)
        except Exception:  # a probe that breaks finds nothing; the worker runs what it can
            log.exception("asking this worker's probes failed: it offers no capabilities")
            self.capabilities = {}
        if self.capabilities:
            log.info("worker %s offers %s", worker_id, self.capabilities)
            await self._advertise(worker_id)
        return frozenset(self.capabilities)

    async def keep(self, worker_id: str) -> None:
        """Renews the advertisement forever (returns at once when there is nothing to say)."""
        while self.capabilities and self.adverts is not None:
            await anyio.sleep(self.every)
            await self._advertise(worker_id)

    async def withdraw(self, worker_id: str) -> None:
        if not self.capabilities or self.adverts is None:
            return
        try:
            await anyio.to_thread.run_sync(self.adverts.withdraw, worker_id)
        except Exception:  # it lapses by itself after a lease
            log.warning("withdrawing the advertisement of %s failed", worker_id, exc_info=True)

    async def _advertise(self, worker_id: str) -> None:
        if self.adverts is None:
            return
        try:
            await anyio.to_thread.run_sync(self.adverts.advertise, worker_id, self.capabilities)
        except Exception:
            # Once, not at every heartbeat. The worker still runs what it can: only the listing
            # of other processes loses its devices until a heartbeat is written again.
            if not self.failing:
                log.warning("advertising %s failed; will retry", worker_id, exc_info=True)
            self.failing = True
        else:
            self.failing = False
