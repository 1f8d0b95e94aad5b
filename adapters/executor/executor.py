"""Runs jobs: follows the log, claims a job with an event, runs it in a worker process.

Exactly one executor starts a job because Claimed is appended with optimistic concurrency. A
claim carries a lease that is renewed while the job runs; when the lease lapses, or the claimant
is a process on this host that no longer exists (e.g. after `kill -9` and a restart), another
executor may claim the job again. Results are recorded only while the claim is still held, so a
job is executed (recorded as Executed) at most once.
"""

from __future__ import annotations

import heapq
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import KW_ONLY, InitVar, dataclass, field
from uuid import UUID

import anyio
import anyio.abc
import anyio.to_thread
from eventsourcing.persistence import Notification

from qorch.adapters.executor.batch import claim_all, record_all, release_all, renew_all
from qorch.adapters.executor.board import JOB_TOPICS, UNREADABLE, JobBoard
from qorch.adapters.executor.calls import ProviderCalls
from qorch.adapters.executor.capabilities import Advertiser
from qorch.adapters.executor.checkpoint import Checkpoints
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
from qorch.adapters.scheduling import Candidate, fair_pick
from qorch.adapters.vault import CredentialVault
from qorch.domain.application import Claim, Qorch

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
    batch_size: int = 1
    """Up to this many small local jobs of one user are claimed, run in one worker call and
    recorded together (1: every job runs alone)."""
    advertiser: Advertiser = field(default_factory=Advertiser)
    """Finds what this worker can do beyond the common (a GPU) and says so; see capabilities.py."""
    slots: dict[UUID, str] = field(default_factory=dict, init=False)
    """What occupies the local slots: the first job of each run (alone or a batch) -> its user."""

    def __post_init__(self, quotas: Quotas | None, registry: Registry | None) -> None:
        registry = registry or Registry(self.provider_config)
        quotas = quotas or Quotas()
        self.per_user = quotas.running_cap(self.concurrency)
        self.board = JobBoard(self.app, self.advertiser.requires)
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
        self.checkpoints = Checkpoints(self.app)
        self._dispatch = anyio.Event()
        self.stopping = False

    async def run(self) -> None:
        """Executes jobs until cancelled; then stops claiming and releases the jobs it holds,
        so that other workers take them over at once instead of after their lease.

        The log is read from the board's last checkpoint, not from its start (checkpoint.py)."""
        self.runner.spill_dir = tempfile.mkdtemp(prefix="qorch-results-")
        try:
            self.board.has = await self.advertiser.start(self.worker_id)  # before any claim
            position = await self.checkpoints.restore(self.board)
            if position and self.vault is not None:
                # Jobs that ended before the checkpoint but whose credentials a crash left held.
                held = await anyio.to_thread.run_sync(self.vault.held_jobs)
                self.board.closed.extend(UUID(job_id) for job_id in held)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.follower.follow, position, self.track)
                tg.start_soon(self.checkpoints.keep, self.board, self.follower)
                tg.start_soon(self.advertiser.keep, self.worker_id)
                tg.start_soon(self._warm_up)
                tg.start_soon(self._destroy_credentials_of_closed_jobs)
                await self._dispatch_forever(tg)
        finally:
            self.stopping = True
            try:
                with anyio.CancelScope(shield=True):
                    await self._release_held()
                    await self.advertiser.withdraw(self.worker_id)
                    await self.checkpoints.save(self.board, self.follower.position)
            finally:  # (also when the store is already closed)
                shutil.rmtree(self.runner.spill_dir, ignore_errors=True)

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
        held = list(self.held)
        answers = await release_all(self.app, held, self.worker_id)
        for job_id, released in zip(held, answers, strict=True):
            log.info("job %s %s on shutdown", job_id, "released" if released is True else "kept")
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
        held lease may have lapsed (the next look without a notification).

        A slot runs one job, or a batch of one user's small jobs on one local device."""
        waiting = self.remote.waiting
        busy = sum(1 for head in self.slots if head not in waiting)
        slots = min(self.concurrency - busy, self.concurrency + MAX_REMOTE_JOBS - len(self.running))
        if slots <= 0:
            return self.poll_interval * 10
        candidates, lapse = self.board.claimable(now, self.running)
        running = Counter(user for head, user in self.slots.items() if head not in waiting)
        picked = fair_pick(candidates, running, slots, self.per_user, self.last_served)
        taken = {chosen.job_id for chosen in picked}
        for chosen in picked:
            self.last_served = chosen.user
            batch = [chosen.job_id, *self._companions(chosen, candidates, taken)]
            for job_id in batch:
                self.running[job_id] = anyio.CancelScope()
            self.slots[chosen.job_id] = chosen.user
            if len(batch) == 1:
                state = self.board.open[chosen.job_id]
                tg.start_soon(self._execute, chosen.job_id, claimant_is_dead(state.worker_id))
            else:
                tg.start_soon(self._execute_batch, batch)
        return min(self.poll_interval * 10, lapse)

    def _companions(
        self, chosen: Candidate, candidates: list[Candidate], taken: set[UUID]
    ) -> list[UUID]:
        """More of the chosen user's small local jobs on the same device, to run with it."""
        if self.batch_size <= 1:
            return []
        device_id = self._batch_device(chosen.job_id)
        if device_id is None:
            return []
        same = [
            candidate
            for candidate in candidates
            if candidate.user == chosen.user
            and candidate.job_id not in taken
            and self._batch_device(candidate.job_id) == device_id
        ]
        joining = heapq.nsmallest(self.batch_size - 1, same, key=lambda c: (-c.priority, c.seq))
        taken.update(candidate.job_id for candidate in joining)
        return [candidate.job_id for candidate in joining]

    def _batch_device(self, job_id: UUID) -> str | None:
        """The local device of a job that may run in a batch (its size is checked once claimed)."""
        state = self.board.open.get(job_id)
        if state is None or not state.batch_device or job_id in self.runner.solo:
            return None
        return state.batch_device

    async def _execute(self, job_id: UUID, claimant_dead: bool) -> None:
        try:
            await self._claim_and_run(job_id, claimant_dead)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as error:
            self._failed(job_id, error)
        finally:
            self.running.pop(job_id, None)
            self.slots.pop(job_id, None)
            self._wake()

    def _failed(self, job_id: UUID, error: Exception) -> None:
        if isinstance(error, UNREADABLE):
            self.board.put_aside(job_id, None, error)
            return
        # e.g. the store is unreachable for a moment: this job is tried again later, and a
        # failure of one job never stops the executor.
        log.error("job %s: running it failed; trying again later", job_id, exc_info=error)
        self.board.postpone(job_id, time.time() + max(1.0, self.poll_interval * 20))

    async def _claim_and_run(self, job_id: UUID, claimant_dead: bool) -> None:
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
        await self._run_held(claim)

    async def _run_held(self, claim: Claim) -> None:
        job_id = claim.job_id
        scope = self.running[job_id]
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

    async def _execute_batch(self, job_ids: list[UUID]) -> None:
        """Claims the jobs together, runs the small ones in one worker call and records their
        outcomes together; a job that turns out not small runs alone afterwards."""
        try:
            jobs = [(job_id, self._claimant_dead(job_id)) for job_id in job_ids]
            answers = await claim_all(self.app, jobs, self.worker_id, self.lease_seconds)
            claims: list[Claim] = []
            for job_id, answer in zip(job_ids, answers, strict=True):
                if isinstance(answer, Exception):
                    self._failed(job_id, answer)
                elif answer is None:
                    self.board.postpone(job_id, time.time() + self.poll_interval)
                else:
                    claims.append(answer)
                    self.held.add(job_id)
            small = [claim for claim in claims if self.runner.batchable(claim)]
            alone = [claim for claim in claims if claim not in small]
            if len(small) == 1:
                alone.insert(0, small.pop())
            if small:
                await self._run_batch(small)
            for claim in alone:
                try:
                    await self._run_held(claim)
                except anyio.get_cancelled_exc_class():
                    raise
                except Exception as error:
                    self._failed(claim.job_id, error)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception:
            # e.g. the store is unreachable for a moment: as for one job, the batch's jobs are
            # tried again later (those claimed, once their lease lapses), and the executor goes on.
            log.exception("jobs run together failed; trying them again later")
            later = time.time() + max(1.0, self.poll_interval * 20)
            for job_id in job_ids:
                self.board.postpone(job_id, later)
        finally:
            for job_id in job_ids:
                self.running.pop(job_id, None)
            self.slots.pop(job_ids[0], None)
            self._wake()

    async def _run_batch(self, claims: list[Claim]) -> None:
        job_ids = [claim.job_id for claim in claims]
        log.info(
            "jobs %s claimed by %s, run together", ", ".join(map(str, job_ids)), self.worker_id
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._keep_leases, job_ids)
            outcomes = await self.runner.run_batch(claims)
            tg.cancel_scope.cancel()
        answers = await record_all(
            self.app,
            self.worker_id,
            [
                (job_id, record, value)
                for job_id, (record, value) in zip(job_ids, outcomes, strict=True)
            ],
        )
        for job_id, answer in zip(job_ids, answers, strict=True):
            if isinstance(answer, Exception):
                self._failed(job_id, answer)
                continue
            self.held.discard(job_id)
            if not answer:
                log.warning("job %s: outcome dropped, the claim is no longer held", job_id)

    def _claimant_dead(self, job_id: UUID) -> bool:
        state = self.board.open.get(job_id)
        return state is not None and claimant_is_dead(state.worker_id)

    async def _keep_leases(self, job_ids: list[UUID]) -> None:
        """Renews a batch's leases together (a job whose lease is lost records nothing)."""
        while job_ids:
            await anyio.sleep(self.lease_seconds / 3)
            renewed = await renew_all(self.app, job_ids, self.worker_id, self.lease_seconds)
            job_ids = [job_id for job_id, ok in zip(job_ids, renewed, strict=True) if ok is True]

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
