"""The event-sourced application: one method per command.

Adapters are injected (circuit parsing, the device catalogue), so this module imports no SDK and
no web code. Every command that records anything does so in a single `save()`: a request either
leaves all its events behind or none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, MapperDeserialisationError, Recording
from eventsourcing.utils import get_topic

from qorch.domain.circuit import Circuit, CircuitFacts
from qorch.domain.devices import Device
from qorch.domain.errors import Conflict, InvalidCircuit, NotFound, RequestError, Unreadable
from qorch.domain.execution import (
    CircuitTask,
    CostEstimate,
    ExecutionOutcome,
    ExecutionTask,
    ObservableSpec,
    ProviderError,
    ProviderJob,
)
from qorch.domain.experiment import Experiment
from qorch.domain.fields import checked_json, checked_text
from qorch.domain.job import Job
from qorch.domain.requests import (
    Limits,
    RunRequest,
    check_credential_values,
    check_request_shape,
    plan_run,
)
from qorch.domain.results import nest_results
from qorch.domain.submission import SubmitKey
from qorch.domain.user import (
    ApiKey,
    EndedSession,
    User,
    hash_api_key,
    new_api_key,
    user_id_for_key,
)

DescribeCircuit = Callable[[str], CircuitFacts]
FindDevice = Callable[[str], Device | None]
CheckOptions = Callable[[Device, str, dict[str, Any], bool], None]
"""Raises ProviderError for options or flags the device's provider would refuse."""
A = TypeVar("A", bound=Aggregate)


class CredentialHolder(Protocol):
    """Keeps a job's provider credentials (encrypted) until the job ends; never in the log."""

    def hold(self, job_id: UUID, credentials: dict[str, str]) -> None: ...

    def destroy(self, job_id: UUID) -> None: ...


class HoldNothing:
    """For applications that never run on remote providers (tests, replay)."""

    def hold(self, job_id: UUID, credentials: dict[str, str]) -> None:
        raise RuntimeError("this application cannot hold provider credentials")

    def destroy(self, job_id: UUID) -> None:
        pass


DEFAULT_DEVICE_ID = "aer_simulator"


@dataclass(frozen=True)
class Recorded:
    """What a command recorded: the aggregate and the log position its last event reached."""

    id: UUID
    position: int


@dataclass(frozen=True)
class Submit:
    """How to recognise a repeated submit: its key, the request's fingerprint, and (for an
    implicit key) how many seconds the key holds."""

    key: str
    fingerprint: str
    now: float
    window: float | None = None


@dataclass(frozen=True)
class Claim:
    job_id: UUID
    task: ExecutionTask
    dry_run: bool
    attempt: int = 1
    provider_job: ProviderJob | None = None
    """Set when an earlier claimant submitted the job to a remote provider: re-attach to it."""


class Qorch(Application[UUID]):
    name = "qorch"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        describe_circuit: DescribeCircuit,
        find_device: FindDevice,
        check_options: CheckOptions,
        limits: Limits | None = None,
        credentials: CredentialHolder | None = None,
    ) -> None:
        super().__init__(env)
        self.describe_circuit = describe_circuit
        self.find_device = find_device
        self.check_options = check_options
        self.credentials: CredentialHolder = credentials or HoldNothing()
        self.limits = limits or Limits()
        self.listeners: list[Callable[[int], None]] = []

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        if recordings:
            position = recordings[-1].notification.id
            for listener in self.listeners:
                listener(position)

    # --- users ---

    def register_user(self, name: str) -> tuple[UUID, str]:
        key = new_api_key()
        user = User(name=name, key_hash=hash_api_key(key))
        self.save(user)
        return user.id, key

    def authenticate(self, key: str) -> User | None:
        """The user who holds this key now: their first key finds them by id, a later one
        through its ApiKey record. A replaced or revoked key finds nobody."""
        if not key:
            return None
        user = self._find(User, user_id_for_key(key))
        if user is None:
            issued = self._find(ApiKey, ApiKey.create_id(hash_api_key(key)))
            user = self._find(User, issued.user_id) if issued is not None else None
        if user is None or not user.holds_key(key):
            return None
        return user

    def rotate_key(self, user_id: UUID) -> str:
        """Issues the user a new key (answered once) and ends the earlier one; the user and
        everything they own stay the same."""
        key = new_api_key()
        key_hash = hash_api_key(key)
        self._change_user(
            user_id,
            lambda user: user.rotate_key(key_hash),
            lambda user: [ApiKey(key_hash=key_hash, user_id=user.id)],
        )
        return key

    def revoke_key(self, user_id: UUID) -> None:
        """The user's key stops working everywhere; harmless to repeat."""
        self._change_user(user_id, lambda user: None if user.revoked else user.revoke_key())

    def end_session(self, user_id: UUID, session_id: str) -> None:
        """Signs a dashboard session out, for every API process on this store; harmless to
        repeat."""
        if not session_id:
            raise Conflict("a session to end needs its id")
        with contextlib.suppress(IntegrityError):  # ended already: a second sign-out
            self.save(EndedSession(user_id=user_id, session_id=session_id))

    def _change_user(
        self,
        user_id: UUID,
        change: Callable[[User], None],
        companions: Callable[[User], list[Aggregate]] = lambda user: [],
    ) -> None:
        """Applies a change to a user and saves it, again on the reloaded user when it changed
        concurrently (e.g. a sign-out while the key rotates)."""
        for _ in range(3):
            user = self._user(user_id)
            change(user)
            try:
                self.save(user, *companions(user))
            except IntegrityError:
                continue
            return
        raise Conflict(f"user {user_id} kept changing concurrently; retry")

    def session_user(self, user_id: str, session_id: str, key_generation: int) -> User | None:
        """The user of a dashboard session that is still live (not signed out, key unchanged)."""
        user = self._find(User, user_id)
        if user is None or not user.accepts_sessions_of(key_generation):
            return None
        if self._find(EndedSession, EndedSession.create_id(session_id)) is not None:
            return None
        return user

    def users_named(self, name: str) -> list[User]:
        """Every user registered under this name (names need not be unique)."""
        topic = get_topic(User.Registered)  # type: ignore[attr-defined]
        found: list[User] = []
        position = None
        while True:
            page = self.recorder.select_notifications(
                start=position, limit=1000, topics=[topic], inclusive_of_start=position is None
            )
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                if getattr(event, "name", None) == name:
                    found.append(self._user(event.originator_id))
            if len(page) < 1000:
                return found
            position = page[-1].id

    def find_user(self, user_id: UUID) -> User | None:
        return self._find(User, user_id)

    def _user(self, user_id: UUID) -> User:
        user = self._find(User, user_id)
        if user is None:
            raise NotFound("user", user_id)
        return user

    def has_users(self) -> bool:
        topic = get_topic(User.Registered)  # type: ignore[attr-defined]
        return bool(self.recorder.select_notifications(start=None, limit=1, topics=[topic]))

    # --- experiments ---

    def create_experiment(
        self, user_id: UUID, name: Any, description: Any = "", tags: Iterable[Any] = ()
    ) -> Recorded:
        experiment = Experiment.create(user_id, name, description, tags, self.limits.text)
        return self._saved(experiment)

    def update_experiment(
        self, user_id: UUID, experiment_id: str, name: Any, description: Any, tags: Iterable[Any]
    ) -> Recorded:
        experiment = self.owned_experiment(user_id, experiment_id, field="experiment_id")
        experiment.update(name, description, tags, self.limits.text)
        return self._saved(experiment)

    def owned_experiment(self, user_id: UUID, experiment_id: str, field: str) -> Experiment:
        experiment = self._owned(Experiment, user_id, experiment_id)
        if experiment is None:
            raise RequestError(field, f"unknown experiment {experiment_id!r}")
        return experiment

    # --- circuits ---

    def store_circuit(
        self, user_id: UUID, experiment_id: str, source: str, name: str = ""
    ) -> tuple[Circuit, Recorded | None]:
        """Stores a circuit in an experiment unless the same text is already there."""
        checked_text("name", name, self.limits.text.max_name)
        experiment = self.owned_experiment(user_id, experiment_id, field="experiment_id")
        facts = self._describe(source, field="circuit")
        circuit = self._find(Circuit, Circuit.create_id(experiment.id, facts.content_hash))
        if circuit is not None:
            return circuit, None
        circuit = Circuit.store(user_id, experiment.id, facts, name)
        return circuit, self._saved(circuit)

    # --- jobs ---

    def submit_job(self, user_id: UUID, request: RunRequest) -> Recorded:
        try:
            return self._submit_job(user_id, request)
        except IntegrityError:
            # A concurrent request stored one of the same new circuits first: they exist now.
            return self._submit_job(user_id, request)

    def _submit_job(self, user_id: UUID, request: RunRequest) -> Recorded:
        job, new_circuits, credentials = self._new_job(user_id, request)
        recordings = self._save_holding(job.id, credentials, *new_circuits, job)
        return Recorded(job.id, recordings[-1].notification.id)

    def _save_holding(
        self, job_id: UUID, credentials: dict[str, str], *aggregates: Aggregate
    ) -> list[Recording[UUID]]:
        """Saves a job whose run needs credentials: they are held first, and destroyed again
        if the job is not recorded, so an accepted job always finds them."""
        if credentials:
            self.credentials.hold(job_id, credentials)
        try:
            return self.save(*aggregates)
        except BaseException:
            if credentials:
                self.credentials.destroy(job_id)
            raise

    def _new_job(
        self, user_id: UUID, request: RunRequest
    ) -> tuple[Job, list[Circuit], dict[str, str]]:
        check_request_shape(request, self.limits)
        experiment = self.owned_experiment(user_id, request.experiment_id, field="experiment_id")
        device = self._device(request.device_id or DEFAULT_DEVICE_ID)
        circuits, new_circuits = self._circuits_for(user_id, experiment, request)
        plan = plan_run(request, [c.facts() for c in circuits], device, self.limits)
        try:
            self.check_options(device, request.run_type, plan.options, request.use_mitigation)
        except ProviderError as error:
            field = error.field or "options"
            raise RequestError(field, error.message.removeprefix(f"{field}: ")) from error
        credentials = credentials_to_hold(device, plan.credentials, request.dry_run)
        text = self.limits.text
        job = Job(
            user_id=user_id,
            experiment_id=experiment.id,
            name=checked_text("name", request.name, text.max_name),
            description=checked_text("description", request.description, text.max_description),
            circuit_ids=[c.id for c in circuits],
            device_id=device.id,
            shots=request.shots,
            run_type=request.run_type,
            inputs_json=Job.encode_inputs(plan.parameters, plan.observables),
            has_parameters=plan.parameters is not None,
            has_observables=plan.observables is not None,
            options_json=checked_json("options", plan.options, text),
            credentials_supplied=sorted(plan.credentials),
            use_mitigation=request.use_mitigation,
            dry_run=request.dry_run,
        )
        return job, new_circuits, credentials

    def is_repeat(self, user_id: UUID, submit: Submit) -> bool:
        """Whether `submit` repeats an earlier one that `submit_job_once` will answer with the
        first job (a client's retry: it opens no new job, so no quota applies to it)."""
        used = self._find(SubmitKey, SubmitKey.create_id(user_id, submit.key))
        return (
            used is not None
            and used.fingerprint == submit.fingerprint
            and (submit.window is None or submit.now - used.used_at < submit.window)
        )

    def submit_job_once(
        self,
        user_id: UUID,
        request: RunRequest,
        submit: Submit,
        companions: Callable[[Job], list[Aggregate]] = lambda job: [],
    ) -> tuple[Recorded, bool]:
        """Submits unless `submit.key` already named a job: then answers that job (and True).

        An explicit key used again with a different request is a Conflict. An implicit key
        (`submit.window` set) only holds for that many seconds. The key is saved with the job,
        so of two concurrent submits with one key exactly one records a job.
        """
        checked_text("Idempotency-Key", submit.key.partition(":")[2], self.limits.text.max_key)
        for _ in range(3):
            key_id = SubmitKey.create_id(user_id, submit.key)
            used = self._find(SubmitKey, key_id)
            if used is not None and (
                submit.window is None or submit.now - used.used_at < submit.window
            ):
                if used.fingerprint != submit.fingerprint:
                    raise Conflict("this Idempotency-Key was already used for a different request")
                # The first submit may not be visible in the read models yet: wait for the head.
                return Recorded(used.job_id, self.recorder.max_notification_id() or 0), True
            job, new_circuits, credentials = self._new_job(user_id, request)
            if used is None:
                used = SubmitKey(
                    user_id=user_id,
                    key=submit.key,
                    job_id=job.id,
                    fingerprint=submit.fingerprint,
                    used_at=submit.now,
                )
            else:
                used.reuse(job_id=job.id, fingerprint=submit.fingerprint, used_at=submit.now)
            try:
                recordings = self._save_holding(
                    job.id, credentials, *new_circuits, job, used, *companions(job)
                )
            except IntegrityError:
                continue  # a concurrent submit won: the next round answers its job
            return Recorded(job.id, recordings[-1].notification.id), False
        raise Conflict("the submit kept racing with concurrent submits; retry it")

    def restart_job(
        self, user_id: UUID, job_id: str, credentials: Mapping[str, Any] | None = None
    ) -> Recorded:
        """Runs a finished job again under the same id (credentials are never recorded, so a
        restart on a remote provider needs them again)."""
        for _ in range(3):
            job = self._owned(Job, user_id, job_id)
            if job is None:
                raise NotFound("job", job_id)
            device = self._device(job.device_id)
            held = credentials_to_hold(device, dict(credentials or {}), job.dry_run)
            job.restart()
            if held:
                self.credentials.hold(job.id, held)
            try:
                recordings = self.save(job)
            except IntegrityError:
                # Changed concurrently: the guard decides again on the reloaded job. What was
                # held stays held: a concurrent restart that won needs it.
                continue
            except BaseException:
                if held:
                    self.credentials.destroy(job.id)
                raise
            return Recorded(job.id, recordings[-1].notification.id)
        raise Conflict(f"job {job_id} kept changing concurrently; retry the restart")

    def store_circuit_keyed(
        self, user_id: UUID, experiment_id: str, source: str, name: str, key: str
    ) -> tuple[Circuit, Recorded | None]:
        """Stores a circuit under a client's own key (e.g. the haiqu-sdk's circuit hash) instead
        of the hash of its text: the client finds it again by that key."""
        checked_text("hash", key, self.limits.text.max_key, required=True)
        checked_text("name", name, self.limits.text.max_name)
        experiment = self.owned_experiment(user_id, experiment_id, field="experiment_id")
        facts = replace(self._describe(source, field="qpy_dump"), content_hash=key)
        circuit = self._find(Circuit, Circuit.create_id(experiment.id, key))
        if circuit is not None:
            return circuit, None
        circuit = Circuit.store(user_id, experiment.id, facts, name)
        try:
            return circuit, self._saved(circuit)
        except IntegrityError:  # the same upload, concurrently: it is stored now
            return self.repository.get(circuit.id), None

    def _circuits_for(
        self, user_id: UUID, experiment: Experiment, request: RunRequest
    ) -> tuple[list[Circuit], list[Circuit]]:
        circuits: list[Circuit] = []
        new: dict[UUID, Circuit] = {}
        if request.circuits_qasm is not None:
            for index, source in enumerate(request.circuits_qasm):
                field = f"circuits_qasm[{index}]"
                if not isinstance(source, str) or not source.strip():
                    raise RequestError(field, "must be OpenQASM 2.0 or 3.0 text")
                facts = self._describe(source, field=field)
                circuit_id = Circuit.create_id(experiment.id, facts.content_hash)
                circuit = new.get(circuit_id) or self._find(Circuit, circuit_id)
                if circuit is None:
                    circuit = Circuit.store(user_id, experiment.id, facts, name="")
                    new[circuit_id] = circuit
                circuits.append(circuit)
        else:
            for index, given_id in enumerate(request.circuit_ids or []):
                found = self._owned(Circuit, user_id, given_id)
                if found is None:
                    raise RequestError(f"circuit_ids[{index}]", f"unknown circuit {given_id!r}")
                circuits.append(found)
        return circuits, list(new.values())

    def claim_job(
        self, job_id: UUID, worker_id: str, now: float, claimant_dead: bool, lease_seconds: float
    ) -> Claim | None:
        """Records Claimed for this worker; None when another worker holds or finished it."""
        job = self._find(Job, job_id)
        if job is None:
            return None
        try:
            job.claim(worker_id, now, lease_seconds, claimant_dead)
            self.save(job)
        except (Conflict, IntegrityError):
            return None
        provider_job = ProviderJob.from_dict(job.provider_job) if job.provider_job else None
        return Claim(job.id, self._task_for(job), job.dry_run, job.attempts, provider_job)

    def renew_lease(self, job_id: UUID, worker_id: str, now: float, lease_seconds: float) -> bool:
        return self._update_held(job_id, lambda job: job.renew_lease(worker_id, now, lease_seconds))

    def release_job(self, job_id: UUID, worker_id: str) -> bool:
        return self._update_held(job_id, lambda job: job.release(worker_id))

    def record_provider_job(self, job_id: UUID, worker_id: str, provider_job: ProviderJob) -> bool:
        return self._update_held(
            job_id, lambda job: job.record_provider_job(worker_id, provider_job.as_dict())
        )

    def record_results(self, job_id: UUID, worker_id: str, outcome: ExecutionOutcome) -> bool:
        def record(job: Job) -> None:
            results = nest_results(
                outcome,
                with_parameters=job.has_parameters,
                with_observables=job.has_observables,
            )
            job.record_results(worker_id, results)

        return self._update_held(job_id, record)

    def record_estimate(self, job_id: UUID, worker_id: str, estimate: CostEstimate) -> bool:
        recorded = {
            "native": {"amount": estimate.seconds, "unit": "s"},
            "converted": {"amount": estimate.usd, "unit": "USD"},
            "circuits": estimate.circuits,
            "breakdown": estimate.breakdown,
        }
        return self._update_held(job_id, lambda job: job.record_estimate(worker_id, recorded))

    def record_failure(self, job_id: UUID, worker_id: str, error: dict[str, Any]) -> bool:
        return self._update_held(job_id, lambda job: job.record_failure(worker_id, error))

    def cancel_job(self, user_id: UUID, job_id: str, reason: str = "cancelled by user") -> Recorded:
        for _ in range(3):
            job = self._owned(Job, user_id, job_id)
            if job is None:
                raise NotFound("job", job_id)
            job.cancel(reason)
            try:
                return self._saved(job)
            except IntegrityError:
                continue  # e.g. a worker claimed it meanwhile: the guard decides again
        raise Conflict(f"job {job_id} kept changing concurrently; retry the cancel")

    def find_job(self, job_id: UUID) -> Job | None:
        return self._find(Job, job_id)

    def owned_job(self, user_id: UUID, job_id: str) -> Job | None:
        return self._owned(Job, user_id, job_id)

    # --- helpers ---

    def _task_for(self, job: Job) -> ExecutionTask:
        circuits: list[Circuit] = [self.repository.get(c) for c in job.circuit_ids]
        inputs = job.inputs()
        tasks = []
        for index, circuit in enumerate(circuits):
            parameter_sets = inputs["parameters"][index] if job.has_parameters else None
            observables = inputs["observables"][index] if job.has_observables else None
            tasks.append(
                CircuitTask(
                    source=circuit.source,
                    parameter_sets=tuple(tuple(s) for s in parameter_sets)
                    if parameter_sets is not None
                    else None,
                    observables=tuple(
                        ObservableSpec(tuple(labels), tuple(coefficients))
                        for labels, coefficients in observables
                    )
                    if observables is not None
                    else None,
                )
            )
        return ExecutionTask(
            job_id=str(job.id),
            device_id=job.device_id,
            run_type=job.run_type,  # type: ignore[arg-type]
            shots=job.shots,
            circuits=tuple(tasks),
            options=dict(job.options),
            use_mitigation=job.use_mitigation,
            client_token=job.client_token,
        )

    def _update_held(self, job_id: UUID, change: Callable[[Job], None], tries: int = 5) -> bool:
        """Applies a change while this worker holds the job's claim; False once it does not.

        A write that loses a race (IntegrityError) is retried on the reloaded job: the guard in
        `change` decides whether the claim is still held, so a takeover is never overwritten.
        """
        for _ in range(tries):
            job = self._find(Job, job_id)
            if job is None:
                return False
            try:
                change(job)
                self.save(job)
            except Conflict:
                return False
            except IntegrityError:
                continue
            return True
        return False

    def _device(self, device_id: str) -> Device:
        device = self.find_device(device_id)
        if device is None:
            raise RequestError(
                "device_id",
                f"unknown device {device_id!r}; list_qpus_and_simulators shows the available ids",
            )
        return device

    def _describe(self, source: str, field: str) -> CircuitFacts:
        try:
            return self.describe_circuit(source)
        except InvalidCircuit as error:
            raise RequestError(field, str(error)) from error

    def _saved(self, aggregate: Aggregate) -> Recorded:
        recordings = self.save(aggregate)
        return Recorded(aggregate.id, recordings[-1].notification.id)

    def _owned(self, kind: type[A], user_id: UUID, object_id: str | UUID) -> A | None:
        found = self._find(kind, object_id)
        if found is None or getattr(found, "user_id", None) != user_id:
            return None
        return found

    def _find(self, kind: type[A], object_id: str | UUID) -> A | None:
        try:
            aggregate_id = object_id if isinstance(object_id, UUID) else UUID(str(object_id))
        except ValueError:
            return None
        try:
            found: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        except MapperDeserialisationError as error:
            raise Unreadable(aggregate_id) from error
        return found if isinstance(found, kind) else None


def credentials_to_hold(device: Device, supplied: dict[str, Any], dry_run: bool) -> dict[str, str]:
    """The credentials a run on `device` needs held; refuses a real run that lacks any.

    Local devices and dry runs need none, so nothing is held for them (even if some were sent).
    """
    if not device.remote or dry_run:
        return {}
    check_credential_values(supplied)
    missing = [name for name in device.credentials if name not in supplied]
    if missing:
        raise RequestError(
            "options",
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required to run on "
            f"{device.id} (a dry run needs no credentials)",
        )
    return dict(supplied)
