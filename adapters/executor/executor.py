"""Runs jobs: follows the log, claims a job with an event, runs it in a worker process.

Exactly one executor starts a job because Claimed is appended with optimistic concurrency. A
claim carries a lease that is renewed while the job runs; when the lease lapses, or the claimant
is a process on this host that no longer exists (e.g. after `kill -9` and a restart), another
executor may claim the job again. Results are recorded only while the claim is still held, so a
job is executed (recorded as Executed) at most once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import KW_ONLY, InitVar, dataclass, field
from uuid import UUID

import anyio
import anyio.abc
import anyio.to_thread
from eventsourcing.persistence import Notification

from qorch.adapters.executor.board import JOB_TOPICS, UNREADABLE, JobBoard
from qorch.adapters.executor.calls import ProviderCalls
from qorch.adapters.executor.remote import RemoteRuns
from qorch.adapters.executor.run import Runner
from qorch.adapters.executor.workers import (
    RunInWorker,
    claimant_is_dead,
    new_worker_id,
    run_in_process,
)
from qorch.adapters.log_follower import LogFollower
from qorch.adapters.providers import Registry, warm_up
from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.quotas import Quotas
from qorch.adapters.scheduling import fair_pick
from qorch.adapters.vault import CredentialVault
from qorch.domain.application import Qorch

log = logging.getLogger("qorch.executor")

REMOTE_LEASE_FACTOR = 10
"""A job waiting in a provider's queue renews its lease this many times less often: a day in an
IonQ queue would otherwise leave thousands of LeaseRenewed events in the log."""
MAX_REMOTE_JOBS = 256
"""Jobs waiting at providers do not count against `concurrency` (local CPU work), but this."""


@dataclass(eq=False)
class Executor:
    app: Qorch
    _: KW_ONLY
    concurrency: int
    lease_seconds: float
    poll_interval: float
    run_in_worker: RunInWorker = run_in_process
    worker_id: str = field(default_factory=new_worker_id)
    vault: CredentialVault | None = None
    provider_config: ProviderConfig = field(default_factory=ProviderConfig)
    quotas: InitVar[Quotas | None] = None
    registry: InitVar[Registry | None] = None

    def __post_init__(self, quotas: Quotas | None, registry: Registry | None) -> None:
        registry = registry or Registry(self.provider_config)
        quotas = quotas or Quotas()
        self.per_user = quotas.running_cap(self.concurrency)
        self.board = JobBoard(self.app)
        self.calls = ProviderCalls(self.run_in_worker, self.provider_config)
        self.remote = RemoteRuns(self.app, registry, self.calls, self.worker_id, self._wake)
        self.runner = Runner(
            self.app, registry, quotas, self.run_in_worker, self.remote, self.vault
        )
        self.last_served: str | None = None
        """The user whose job was started last: the next round-robin round starts after them."""
        self.running: dict[UUID, anyio.CancelScope] = {}
        self.held: set[UUID] = set()
        """Jobs whose claim this executor holds and whose outcome is not recorded yet."""
        self.follower = LogFollower(self.app, poll_interval=self.poll_interval, topics=JOB_TOPICS)
        self._dispatch = anyio.Event()
        self.stopping = False

    async def run(self) -> None:
        """Executes jobs until cancelled; then stops claiming and releases the jobs it holds,
        so that other workers take them over at once instead of after their lease."""
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.follower.follow, 0, self.track)
                tg.start_soon(self._warm_up)
                tg.start_soon(self._destroy_credentials_of_closed_jobs)
                await self._dispatch_forever(tg)
        finally:
            self.stopping = True
            with anyio.CancelScope(shield=True):
                await self._release_held()

    def track(self, notifications: Sequence[Notification]) -> None:
        for job_id in self.board.track(notifications):
            scope = self.running.get(job_id)
            if scope is not None:
                self.remote.cancelled.add(job_id)
                scope.cancel()
        self._wake()

    def _wake(self) -> None:
        self._dispatch.set()

    async def _release_held(self) -> None:
        for job_id in list(self.held):
            released = await anyio.to_thread.run_sync(self.app.release_job, job_id, self.worker_id)
            log.info("job %s %s on shutdown", job_id, "released" if released else "was final")
            self.held.discard(job_id)

    async def _warm_up(self) -> None:
        try:
            await self.run_in_worker(warm_up, self.provider_config)
        except Exception:  # a cold worker is slower, not broken
            log.exception("warming up a worker process failed")

    async def _dispatch_forever(self, tg: anyio.abc.TaskGroup) -> None:
        while not self.stopping:
            try:
                await self.board.learn_owners()
            except Exception:  # e.g. the store is unreachable for a moment: look again later
                log.exception("looking up the owners of new jobs failed; trying again")
                await anyio.sleep(self.poll_interval * 10)
            next_check = self.dispatch_once(tg, time.time())
            with anyio.move_on_after(next_check):
                await self._dispatch.wait()
            self._dispatch = anyio.Event()

    def dispatch_once(self, tg: anyio.abc.TaskGroup, now: float) -> float:
        """Starts what the free slots allow, fairly across users; answers how long until a
        held lease may have lapsed (the next look without a notification)."""
        waiting = self.remote.waiting
        busy = len(self.running) - len(waiting)
        slots = min(self.concurrency - busy, self.concurrency + MAX_REMOTE_JOBS - len(self.running))
        if slots <= 0:
            return self.poll_interval * 10
        candidates, lapse = self.board.claimable(now, self.running)
        running: dict[str, int] = {}
        for job_id in self.running:
            owner = self.board.open.get(job_id)
            if job_id not in waiting and owner is not None and owner.user:
                running[owner.user] = running.get(owner.user, 0) + 1
        for chosen in fair_pick(candidates, running, slots, self.per_user, self.last_served):
            state = self.board.open[chosen.job_id]
            self.last_served = chosen.user
            self.running[chosen.job_id] = anyio.CancelScope()
            tg.start_soon(self._execute, chosen.job_id, claimant_is_dead(state.worker_id))
        return min(self.poll_interval * 10, lapse)

    async def _execute(self, job_id: UUID, claimant_dead: bool) -> None:
        try:
            await self._claim_and_run(job_id, claimant_dead)
        except anyio.get_cancelled_exc_class():
            raise
        except UNREADABLE as error:
            self.board.put_aside(job_id, None, error)
        except Exception:
            # e.g. the store is unreachable for a moment: this job is tried again later, and a
            # failure of one job never stops the executor.
            log.exception("job %s: running it failed; trying again later", job_id)
            self.board.postpone(job_id, time.time() + max(1.0, self.poll_interval * 20))
        finally:
            self.running.pop(job_id, None)
            self._wake()

    async def _claim_and_run(self, job_id: UUID, claimant_dead: bool) -> None:
        scope = self.running[job_id]
        claim = await anyio.to_thread.run_sync(
            lambda: self.app.claim_job(
                job_id, self.worker_id, time.time(), claimant_dead, self.lease_seconds
            )
        )
        if claim is None:
            # Someone else holds it; their Claimed event is on its way to the follower.
            self.board.postpone(job_id, time.time() + self.poll_interval)
            return
        log.info("job %s claimed by %s", job_id, self.worker_id)
        self.held.add(job_id)
        with scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._keep_lease, job_id, scope)
                record, value = await self.runner.run_claimed(claim)
                # Stop renewing before recording: a renewal racing the outcome would make
                # the outcome's write lose on optimistic concurrency.
                tg.cancel_scope.cancel()
            recorded = await anyio.to_thread.run_sync(record, job_id, self.worker_id, value)
            self.held.discard(job_id)
            if not recorded:
                log.warning("job %s: outcome dropped, the claim is no longer held", job_id)

    async def _keep_lease(self, job_id: UUID, scope: anyio.CancelScope) -> None:
        while True:
            lease = self.lease_seconds
            if job_id in self.remote.waiting:
                lease *= REMOTE_LEASE_FACTOR
            await anyio.sleep(lease / 3)
            renewed = await anyio.to_thread.run_sync(
                self.app.renew_lease, job_id, self.worker_id, time.time(), lease
            )
            if not renewed:
                log.warning("job %s: lease lost, abandoning the run", job_id)
                scope.cancel()
                return

    async def _destroy_credentials_of_closed_jobs(self) -> None:
        if self.vault is None:
            return
        while True:
            await anyio.sleep(self.poll_interval * 5)
            closed, self.board.closed = self.board.closed, []
            if closed:
                try:
                    await anyio.to_thread.run_sync(self._destroy_credentials, closed)
                except Exception:
                    log.exception("destroying the credentials of ended jobs failed; will retry")
                    self.board.closed.extend(closed)

    def _destroy_credentials(self, closed: list[UUID]) -> None:
        assert self.vault is not None
        held = self.vault.held_among(closed)
        # Only jobs still final: one restarted since its end holds new credentials to run with.
        ended = {}
        for job_id, held_at in held.items():
            job = self.app.find_job(job_id)
            if job is None or job.status.is_final:
                ended[job_id] = held_at
        self.vault.destroy_if_unchanged(ended)
