"""Runs jobs: follows the log, claims a job with an event, runs it in a worker process.

Exactly one executor starts a job because Claimed is appended with optimistic concurrency. A
claim carries a lease that is renewed while the job runs; when the lease lapses, or the claimant
is a process on this host that no longer exists (e.g. after `kill -9` and a restart), another
executor may claim the job again. Results are recorded only while the claim is still held, so a
job is executed (recorded as Executed) at most once.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio
import anyio.to_process
from eventsourcing.persistence import MapperDeserialisationError, Notification
from eventsourcing.utils import get_topic

from qorch.adapters import providers
from qorch.adapters.providers import Registry, in_worker
from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.pipeline.secrets import without_secrets
from qorch.adapters.quotas import Quotas
from qorch.adapters.scheduling import Candidate, fair_pick
from qorch.adapters.vault import CredentialVault
from qorch.adapters.worker_limits import call_with_memory_limit, memory_limit_error
from qorch.domain.application import Claim, Qorch
from qorch.domain.devices import Device
from qorch.domain.errors import Unreadable
from qorch.domain.execution import ExecutionOutcome, ExecutionTask, ProviderError, ProviderJob
from qorch.domain.job import Job
from qorch.projections.follower import LogFollower

log = logging.getLogger("qorch.executor")

OPENED = {Job.Submitted, Job.Restarted, Job.Released}  # type: ignore[attr-defined]
CLOSED = {Job.DryRunEstimated, Job.Executed, Job.Failed, Job.Cancelled}  # type: ignore[attr-defined]
LEASED = {Job.Claimed, Job.LeaseRenewed}  # type: ignore[attr-defined]
OPENED_TOPICS = {get_topic(cls) for cls in OPENED}
CLOSED_TOPICS = {get_topic(cls) for cls in CLOSED}
CLAIMED_TOPIC = get_topic(Job.Claimed)  # type: ignore[attr-defined]
CANCELLED_TOPIC = get_topic(Job.Cancelled)  # type: ignore[attr-defined]
RESTARTED_TOPIC = get_topic(Job.Restarted)  # type: ignore[attr-defined]
JOB_TOPICS = [get_topic(cls) for cls in (*OPENED, *CLOSED, *LEASED)]

RunInWorker = Callable[..., Awaitable[Any]]
REMOTE_LEASE_FACTOR = 10
"""A job waiting in a provider's queue renews its lease this many times less often: a day in an
IonQ queue would otherwise leave thousands of LeaseRenewed events in the log."""
MAX_REMOTE_JOBS = 256
"""Jobs waiting at providers do not count against `concurrency` (local CPU work), but this."""
MAX_ATTEMPTS = 3
"""Claims of one job whose worker process died before it fails as worker_crashed."""
OWNERS_PER_READ = 500
"""Owners of newly opened jobs looked up in one worker-thread call."""
UNREADABLE = (MapperDeserialisationError, Unreadable)
"""A stored event of the job cannot be decoded: the job is set aside, the rest goes on."""


@dataclass
class OpenJob:
    worker_id: str | None = None
    lease_until: float = 0.0
    not_before: float = 0.0
    opened_at: int = 0
    """Log position of the event that opened the job (its age, for the order of a user's jobs)."""
    user: str | None = None
    """Looked up once, from the job's first event, when the job is first considered."""
    priority: int = 0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claimant_is_dead(worker_id: str | None) -> bool:
    """True when the claimant was a process on this host that no longer runs."""
    if not worker_id:
        return False
    host, _, rest = worker_id.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


async def run_in_process(function: Callable[..., Any], *args: Any) -> Any:
    # Simulation is CPU-bound and partly holds the GIL (transpiling): a process keeps the API
    # responsive. cancellable=True kills the worker process when a job is cancelled.
    return await anyio.to_process.run_sync(function, *args, cancellable=True)


class Executor:
    def __init__(
        self,
        app: Qorch,
        *,
        concurrency: int,
        lease_seconds: float,
        poll_interval: float,
        run_in_worker: RunInWorker = run_in_process,
        worker_id: str | None = None,
        vault: CredentialVault | None = None,
        provider_config: ProviderConfig | None = None,
        quotas: Quotas | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.app = app
        self.registry = registry or Registry(provider_config)
        self.quotas = quotas or Quotas()
        self.per_user = self.quotas.running_cap(concurrency)
        self.last_served: str | None = None
        """The user whose job was started last: the next round-robin round starts after them."""
        self.set_aside: dict[UUID, str] = {}
        """Jobs with an event that cannot be decoded: never claimed again by this executor."""
        self.vault = vault
        self.provider_config = provider_config or ProviderConfig()
        self.cancelled: set[UUID] = set()
        """Jobs cancelled by their user while this executor ran them: cancel at the provider."""
        self.waiting_remote: set[UUID] = set()
        """Held jobs that are at a provider: polled, not using a local CPU."""
        self.closed: list[UUID] = []
        """Jobs that ended since the vault was last swept: their credentials are destroyed."""
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.run_in_worker = run_in_worker
        self.worker_id = worker_id or new_worker_id()
        self.open_jobs: dict[UUID, OpenJob] = {}
        self.running: dict[UUID, anyio.CancelScope] = {}
        self.held: set[UUID] = set()
        """Jobs whose claim this executor holds and whose outcome is not recorded yet."""
        self.follower = LogFollower(app, poll_interval=poll_interval, topics=JOB_TOPICS)
        self._dispatch = anyio.Event()
        self.stopping = False

    async def run(self) -> None:
        """Executes jobs until cancelled; then stops claiming and releases the jobs it holds,
        so that other workers take them over at once instead of after their lease."""
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.follower.follow, 0, self._track)
                tg.start_soon(self._warm_up)
                tg.start_soon(self._destroy_credentials_of_closed_jobs)
                await self._dispatch_forever(tg)
        finally:
            self.stopping = True
            with anyio.CancelScope(shield=True):
                await self._release_held()

    async def _release_held(self) -> None:
        for job_id in list(self.held):
            released = await anyio.to_thread.run_sync(self.app.release_job, job_id, self.worker_id)
            log.info("job %s %s on shutdown", job_id, "released" if released else "was final")
            self.held.discard(job_id)

    async def _warm_up(self) -> None:
        try:
            await self.run_in_worker(providers.warm_up, self.provider_config)
        except Exception:  # a cold worker is slower, not broken
            log.exception("warming up a worker process failed")

    def _track(self, notifications: Sequence[Notification]) -> None:
        for notification in notifications:
            job_id = UUID(str(notification.originator_id))
            topic = notification.topic
            if job_id in self.set_aside:
                continue
            if topic in OPENED_TOPICS:
                known = self.open_jobs.get(job_id)  # Released: still open, its owner known
                self.open_jobs[job_id] = OpenJob(
                    opened_at=known.opened_at if known else notification.id,
                    user=known.user if known else None,
                    priority=known.priority if known else 0,
                )
                if topic == RESTARTED_TOPIC and job_id in self.closed:
                    # Restarted with fresh credentials: they must outlive the earlier ending.
                    self.closed = [closed for closed in self.closed if closed != job_id]
            elif topic in CLOSED_TOPICS:
                self.open_jobs.pop(job_id, None)
                self.closed.append(job_id)
                scope = self.running.get(job_id)
                if scope is not None and topic == CANCELLED_TOPIC:
                    self.cancelled.add(job_id)
                    scope.cancel()
            elif job_id in self.open_jobs:
                # Only lease events are decoded: Submitted can carry a large parameter sweep.
                try:
                    event: Any = self.app.mapper.to_domain_event(notification)
                except Exception as error:
                    self._set_aside(job_id, notification.id, error)
                    continue
                state = self.open_jobs[job_id]
                if topic == CLAIMED_TOPIC:
                    state.worker_id = event.worker_id
                state.lease_until = event.lease_until
        self._dispatch.set()

    async def _dispatch_forever(self, tg: anyio.abc.TaskGroup) -> None:
        while not self.stopping:
            try:
                await self._learn_owners()
            except Exception:  # e.g. the store is unreachable for a moment: look again later
                log.exception("looking up the owners of new jobs failed; trying again")
                await anyio.sleep(self.poll_interval * 10)
            next_check = self._dispatch_once(tg, time.time())
            with anyio.move_on_after(next_check):
                await self._dispatch.wait()
            self._dispatch = anyio.Event()

    def _dispatch_once(self, tg: anyio.abc.TaskGroup, now: float) -> float:
        """Starts what the free slots allow, fairly across users; answers how long until a
        held lease may have lapsed (the next look without a notification)."""
        next_check = self.poll_interval * 10
        busy = len(self.running) - len(self.waiting_remote)
        slots = min(self.concurrency - busy, self.concurrency + MAX_REMOTE_JOBS - len(self.running))
        if slots <= 0:
            return next_check
        candidates: list[Candidate] = []
        for job_id, state in self.open_jobs.items():
            if state.user is None or job_id in self.running or now < state.not_before:
                continue
            lapsed = state.worker_id is None or now >= state.lease_until
            if lapsed or claimant_is_dead(state.worker_id):
                candidates.append(Candidate(job_id, state.user, state.priority, state.opened_at))
            else:
                next_check = min(next_check, max(0.05, state.lease_until - now))
        running: dict[str, int] = {}
        for job_id in self.running:
            owner = self.open_jobs.get(job_id)
            if job_id not in self.waiting_remote and owner is not None and owner.user:
                running[owner.user] = running.get(owner.user, 0) + 1
        for chosen in fair_pick(candidates, running, slots, self.per_user, self.last_served):
            state = self.open_jobs[chosen.job_id]
            self.last_served = chosen.user
            self.running[chosen.job_id] = anyio.CancelScope()
            tg.start_soon(self._execute, chosen.job_id, claimant_is_dead(state.worker_id))
        return next_check

    async def _learn_owners(self) -> None:
        """Looks up the owner and priority of jobs opened since the last look, from each job's
        first event: one small read per job, once, in a worker thread (the follower does not
        decode Submitted events: they can carry a large parameter sweep)."""
        unknown = [job_id for job_id, state in self.open_jobs.items() if state.user is None]
        for start in range(0, len(unknown), OWNERS_PER_READ):
            chunk = unknown[start : start + OWNERS_PER_READ]
            found = await anyio.to_thread.run_sync(self._read_owners, chunk)
            for job_id, owner in found.items():
                state = self.open_jobs.get(job_id)
                if state is None:
                    continue
                if isinstance(owner, Exception):
                    self._set_aside(job_id, state.opened_at, owner)
                else:
                    state.user, state.priority = owner

    def _read_owners(self, job_ids: list[UUID]) -> dict[UUID, tuple[str, int] | Exception]:
        found: dict[UUID, tuple[str, int] | Exception] = {}
        for job_id in job_ids:
            first = self.app.recorder.select_events(job_id, limit=1)  # the store's errors raise
            if not first:
                continue  # not stored (yet): looked up again on the next pass
            try:
                event: Any = self.app.mapper.to_domain_event(first[0])
                found[job_id] = (str(event.user_id), int(event.priority))
            except Exception as error:  # whatever the decoding raised: it cannot be read
                found[job_id] = error
        return found

    def _set_aside(self, job_id: UUID, position: int, error: BaseException) -> None:
        """A job whose stored events cannot be decoded: it is left alone (an operator repairs
        it), and every other job goes on."""
        self.open_jobs.pop(job_id, None)
        self.set_aside[job_id] = f"{type(error).__name__}: {error}"
        log.error(
            "job %s set aside: an event of it (log position %s) cannot be read: %s: %s",
            job_id,
            position,
            type(error).__name__,
            error,
        )

    async def _execute(self, job_id: UUID, claimant_dead: bool) -> None:
        try:
            await self._claim_and_run(job_id, claimant_dead)
        except anyio.get_cancelled_exc_class():
            raise
        except UNREADABLE as error:
            state = self.open_jobs.get(job_id)
            self._set_aside(job_id, state.opened_at if state else 0, error)
        except Exception:
            # e.g. the store is unreachable for a moment: this job is tried again later, and a
            # failure of one job never stops the executor.
            log.exception("job %s: running it failed; trying again later", job_id)
            state = self.open_jobs.get(job_id)
            if state is not None:
                state.not_before = time.time() + max(1.0, self.poll_interval * 20)
        finally:
            self.running.pop(job_id, None)
            self._dispatch.set()

    async def _claim_and_run(self, job_id: UUID, claimant_dead: bool) -> None:
        scope = self.running[job_id]
        claim = await anyio.to_thread.run_sync(
            lambda: self.app.claim_job(
                job_id, self.worker_id, time.time(), claimant_dead, self.lease_seconds
            )
        )
        if claim is None:
            # Someone else holds it; their Claimed event is on its way to the follower.
            state = self.open_jobs.get(job_id)
            if state is not None:
                state.not_before = time.time() + self.poll_interval
            return
        log.info("job %s claimed by %s", job_id, self.worker_id)
        self.held.add(job_id)
        with scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._keep_lease, job_id, scope)
                record, value = await self._run_claimed(claim)
                # Stop renewing before recording: a renewal racing the outcome would make
                # the outcome's write lose on optimistic concurrency.
                tg.cancel_scope.cancel()
            recorded = await anyio.to_thread.run_sync(record, job_id, self.worker_id, value)
            self.held.discard(job_id)
            if not recorded:
                log.warning("job %s: outcome dropped, the claim is no longer held", job_id)

    async def _destroy_credentials_of_closed_jobs(self) -> None:
        if self.vault is None:
            return
        while True:
            await anyio.sleep(self.poll_interval * 5)
            closed, self.closed = self.closed, []
            if closed:
                try:
                    await anyio.to_thread.run_sync(self._destroy_credentials, closed)
                except Exception:
                    log.exception("destroying the credentials of ended jobs failed; will retry")
                    self.closed.extend(closed)

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

    async def _run_claimed(self, claim: Claim) -> tuple[Callable[[UUID, str, Any], bool], Any]:
        """Runs the claimed task; answers the command that records its outcome, and the value."""
        credentials: dict[str, str] = {}
        try:
            device = self.app.find_device(claim.task.device_id)
            if device is None:
                raise ProviderError(
                    "unknown_device", f"device {claim.task.device_id!r} left the catalogue"
                )
            provider = self.registry.provider_of(device)
            if claim.dry_run:
                estimate = await self._run_local(
                    device.id, in_worker, provider, "estimate", claim.task, device
                )
                return self.app.record_estimate, estimate
            credentials = await self._credentials(claim, device)
            if device.remote:
                return await self._run_remote(claim, device, credentials)
            outcome = await self._run_local(
                device.id, in_worker, provider, "run", claim.task, device, credentials
            )
            return self.app.record_results, outcome
        except ProviderError as error:
            return self.app.record_failure, without_secrets(error.as_dict(), credentials)
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as error:
            # The worker process died (killed with its process group on shutdown, or by the OOM
            # killer) or something unexpected broke: try again, then fail with what happened.
            if claim.attempt < MAX_ATTEMPTS:
                failed = without_secrets(repr(error), credentials)
                log.warning("job %s: run failed (%s); releasing the job", claim.job_id, failed)
                return self._release, None
            failed = without_secrets(traceback.format_exc(), credentials)
            log.error("job %s failed:\n%s", claim.job_id, failed)
            if isinstance(error, anyio.BrokenWorkerProcess):
                failure = {
                    "code": "worker_crashed",
                    "message": f"the simulator process died {claim.attempt} times (out of "
                    "memory, or a crash in the simulator); the job was not completed",
                    "retryable": True,
                }
            else:
                failure = {
                    "code": "internal_error",
                    "message": f"{type(error).__name__}: {error}",
                    "retryable": False,
                }
            return self.app.record_failure, without_secrets(failure, credentials)

    async def _run_local(self, device_id: str, function: Callable[..., Any], *args: Any) -> Any:
        """A job's work in a worker process, within the device's time and memory limits: past
        the time limit the worker process is killed (and a fresh one started for the next
        job); an allocation past the memory limit fails in the worker. Both end the job with
        a non-retryable ProviderError (time_limit, memory_limit)."""
        seconds = self.quotas.time_limit_for(device_id)
        memory_mb = self.quotas.memory_limit_mb_for(device_id)
        call: tuple[Any, ...] = (function, *args)
        near = ""
        if memory_mb > 0:
            near = os.path.join(tempfile.gettempdir(), f"qorch-memory-{uuid.uuid4().hex}")
            call = (call_with_memory_limit, memory_mb, near, providers.warm_up, *call)
        try:
            with anyio.move_on_after(seconds if seconds > 0 else math.inf):
                return await self.run_in_worker(*call)
            raise ProviderError(
                "time_limit",
                f"the job ran longer than its time limit of {seconds:g} s on {device_id} and "
                "was stopped",
                retryable=False,
            )
        except anyio.BrokenWorkerProcess:
            if near and os.path.exists(near):
                # The worker died with its data segment at the limit: out of memory, not a
                # crash worth trying again.
                raise memory_limit_error(memory_mb) from None
            raise
        finally:
            if near and os.path.exists(near):
                os.unlink(near)

    async def _credentials(self, claim: Claim, device: Device) -> dict[str, str]:
        if not device.remote:
            return {}
        held = None
        if self.vault is not None:
            held = await anyio.to_thread.run_sync(self.vault.open, claim.job_id)
        if held is None:
            raise ProviderError(
                "credentials_unavailable",
                f"the credentials for {device.id} held for this job are gone or cannot be opened "
                "here (every machine must share QORCH_SECRET_KEY); submit the job again",
            )
        return held

    async def _run_remote(
        self, claim: Claim, device: Device, credentials: dict[str, str]
    ) -> tuple[Callable[[UUID, str, Any], bool], Any]:
        """Submits once (or re-attaches to the recorded provider job), then polls until done."""
        task = claim.task
        provider = self.registry.provider_of(device)
        handle: ProviderJob | None = claim.provider_job
        if handle is None and claim.job_id in self.cancelled:
            return _nothing, None
        if handle is None:
            # Shielded: a cancel arriving mid-submit must not leave a paid job unrecorded at
            # the provider; it is cancelled there as soon as the submit has answered.
            with anyio.CancelScope(shield=True):
                submitted: ProviderJob = await self._call_provider(
                    in_worker, provider, "submit", task, device, credentials, secrets=credentials
                )
                handle = submitted
                recorded = await anyio.to_thread.run_sync(
                    self.app.record_provider_job, claim.job_id, self.worker_id, handle
                )
                if claim.job_id in self.cancelled:
                    await self._cancel_at_provider(device, submitted, credentials)
                    return _nothing, None
            if not recorded:
                # Another worker took the job over; it re-submits with the same client token,
                # which the provider answers with this same job.
                return _nothing, None
            log.info("job %s submitted to %s as %s", claim.job_id, device.provider, submitted.ids)
        else:
            log.info("job %s re-attached to %s job %s", claim.job_id, device.provider, handle.ids)
        assert handle is not None  # (mypy: a cancel scope's exit might swallow the submit)
        self.waiting_remote.add(claim.job_id)
        self._dispatch.set()  # a local slot is free while this job waits at the provider
        try:
            outcome = await self._poll_until_done(task, handle, credentials)
        except anyio.get_cancelled_exc_class():
            if claim.job_id in self.cancelled:
                with anyio.CancelScope(shield=True):
                    await self._cancel_at_provider(device, handle, credentials)
            raise
        finally:
            self.waiting_remote.discard(claim.job_id)
        return self.app.record_results, outcome

    async def _poll_until_done(
        self, task: ExecutionTask, handle: ProviderJob, credentials: dict[str, str]
    ) -> ExecutionOutcome:
        """Polls until the provider has the results. A provider that is down or slow to answer
        does not end the job (it is still queued there): polling goes on, ever less often."""
        config = self.provider_config
        interval = config.poll_interval
        device = self.app.find_device(task.device_id)
        if device is None:
            raise ProviderError("unknown_device", f"device {task.device_id!r} left the catalogue")
        provider = self.registry.provider_of(device)
        while True:
            try:
                outcome = await self._call_provider(
                    in_worker,
                    provider,
                    "poll",
                    task,
                    device,
                    handle,
                    credentials,
                    secrets=credentials,
                )
            except ProviderError as error:
                if not error.retryable:
                    raise
                outcome = None
                interval = max(interval, error.retry_after or 0.0)
            if outcome is not None:
                return outcome  # type: ignore[no-any-return]
            await anyio.sleep(interval)
            interval = min(interval * 1.5, config.poll_interval * 15)

    async def _cancel_at_provider(
        self, device: Device, handle: ProviderJob, credentials: dict[str, str]
    ) -> None:
        try:
            await self._call_provider(
                in_worker,
                self.registry.provider_of(device),
                "cancel",
                device,
                handle,
                credentials,
                secrets=credentials,
            )
            log.info("job cancelled at %s: %s", device.provider, handle.ids)
        except Exception as error:
            log.error(
                "cancelling %s at %s failed: %s",
                handle.ids,
                device.provider,
                without_secrets(repr(error), credentials),
            )

    async def _call_provider(
        self, function: Callable[..., Any], *args: Any, secrets: dict[str, str] | None = None
    ) -> Any:
        """One provider call in a worker process, bounded by our timeout (the process is killed
        when it passes: some clients retry forever); retryable failures are retried with
        exponential backoff and jitter, honouring Retry-After, then raised."""
        config = self.provider_config
        for attempt in range(config.max_retries + 1):
            try:
                with anyio.fail_after(config.call_timeout):
                    return await self.run_in_worker(function, *args)
            except TimeoutError:
                error = ProviderError(
                    "provider_timeout",
                    f"the provider did not answer within {config.call_timeout:g} s",
                    retryable=True,
                )
            except ProviderError as raised:
                error = raised
            if not error.retryable or attempt == config.max_retries:
                raise error
            delay = config.retry_base_delay * 2**attempt * (0.5 + random.random())
            if error.retry_after is not None:
                delay = max(delay, error.retry_after)
            log.warning(
                "%s failed (%s: %s); retry %d of %d in %.1f s",
                getattr(function, "__name__", function),
                error.code,
                without_secrets(error.message, secrets or {}),
                attempt + 1,
                config.max_retries,
                delay,
            )
            await anyio.sleep(min(delay, 300.0))
        raise AssertionError("unreachable")

    def _release(self, job_id: UUID, worker_id: str, _: Any) -> bool:
        return self.app.release_job(job_id, worker_id)

    async def _keep_lease(self, job_id: UUID, scope: anyio.CancelScope) -> None:
        while True:
            lease = self.lease_seconds
            if job_id in self.waiting_remote:
                lease *= REMOTE_LEASE_FACTOR
            await anyio.sleep(lease / 3)
            renewed = await anyio.to_thread.run_sync(
                self.app.renew_lease, job_id, self.worker_id, time.time(), lease
            )
            if not renewed:
                log.warning("job %s: lease lost, abandoning the run", job_id)
                scope.cancel()
                return


def _nothing(job_id: UUID, worker_id: str, value: Any) -> bool:
    return True
