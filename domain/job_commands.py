"""A user's commands on jobs: submit (once per idempotency key), restart, cancel.

Every submit records its new circuits and the job in one `save()`: a request leaves all its
events behind or none. Credentials a run needs are held before the save and never recorded.
A run on a paid device whose provider the user's budget limits reserves its estimate in that
save too, and a cancel closes the reservation in the cancel's save (domain/budget_commands.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from qorch.domain.application_base import DEFAULT_DEVICE_ID, Recorded
from qorch.domain.budget_commands import BudgetCommands, Pricing
from qorch.domain.circuit import Circuit
from qorch.domain.devices import Device
from qorch.domain.errors import Conflict, NotFound, RequestError
from qorch.domain.execution import ProviderError
from qorch.domain.experiment import Experiment
from qorch.domain.experiment_commands import ExperimentCommands
from qorch.domain.fields import checked_json, checked_text
from qorch.domain.job import Job
from qorch.domain.requests import RunRequest, check_credential_values, check_request_shape, plan_run
from qorch.domain.submission import SdkJob, SdkView, SubmitKey
from qorch.domain.webhook_commands import WebhookCommands


@dataclass(frozen=True)
class Submit:
    """How to recognise a repeated submit: its key, the request's fingerprint, and (for an
    implicit key) how many seconds the key holds."""

    key: str
    fingerprint: str
    now: float
    window: float | None = None


class JobCommands(BudgetCommands, ExperimentCommands, WebhookCommands):
    def submit_job(self, user_id: UUID, request: RunRequest) -> Recorded:
        now, pricing = self.clock(), Pricing()

        def attempt() -> Recorded:
            # Again after a lost race: a concurrent request stored one of the same new circuits
            # first (they exist now), or reserved from the same budget (checked again).
            job, new_circuits, credentials = self._new_job(user_id, request)
            callbacks = self._callbacks(user_id, job.id, request.callback_url)
            budget = self._reserve(user_id, job, now, pricing, new_circuits)
            # The callback first: it is in the log before the job's first change.
            recordings = self._save_holding(
                job.id, credentials, *callbacks, *new_circuits, job, *budget
            )
            return Recorded(job.id, recordings[-1].notification.id)

        return self._until_saved(attempt, "the submit kept racing with concurrent submits; retry")

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
        sdk_view: SdkView | None = None,
    ) -> tuple[Recorded, bool]:
        """Submits unless `submit.key` already named a job: then answers that job (and True).

        An explicit key used again with a different request is a Conflict. An implicit key
        (`submit.window` set) only holds for that many seconds. The key is saved with the job,
        so of two concurrent submits with one key exactly one records a job, with its haiqu-sdk
        view when one is given.
        """
        checked_text("Idempotency-Key", submit.key.partition(":")[2], self.limits.text.max_key)
        now, pricing = self.clock(), Pricing()

        def attempt() -> tuple[Recorded, bool]:
            # Again after a lost race: if a concurrent submit with this key won, its job.
            used = self._find(SubmitKey, SubmitKey.create_id(user_id, submit.key))
            if used is not None and (
                submit.window is None or submit.now - used.used_at < submit.window
            ):
                if used.fingerprint != submit.fingerprint:
                    raise Conflict("this Idempotency-Key was already used for a different request")
                # The first submit may not be visible in the read models yet: wait for the head.
                return Recorded(used.job_id, self.recorder.max_notification_id() or 0), True
            job, new_circuits, credentials = self._new_job(user_id, request)
            callbacks = self._callbacks(user_id, job.id, request.callback_url)
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
            budget = self._reserve(user_id, job, now, pricing, new_circuits)
            recordings = self._save_holding(
                job.id,
                credentials,
                *callbacks,
                *new_circuits,
                job,
                used,
                *_view_of(job, sdk_view),
                *budget,
            )
            return Recorded(job.id, recordings[-1].notification.id), False

        return self._until_saved(
            attempt, "the submit kept racing with concurrent submits; retry it"
        )

    def restart_job(
        self, user_id: UUID, job_id: str, credentials: Mapping[str, Any] | None = None
    ) -> Recorded:
        """Runs a finished job again under the same id (credentials are never recorded, so a
        restart on a remote provider needs them again). On a paid device it reserves its
        estimate again, as a submit does."""
        now, pricing = self.clock(), Pricing()

        def attempt() -> Recorded:
            # Again after a lost race: the guards decide again on the reloaded job and budget.
            job = self._user_job(user_id, job_id)
            device = self._device(job.device_id)
            held = credentials_to_hold(device, dict(credentials or {}), job.dry_run)
            job.restart()
            budget = self._reserve(user_id, job, now, pricing)
            if held:
                self.credentials.hold(job.id, held)
            try:
                recordings = self.save(job, *budget)
            except BaseException as error:
                # After a lost race what was held stays held: a concurrent restart that won
                # needs it.
                if held and not isinstance(error, IntegrityError):
                    self.credentials.destroy(job.id)
                raise
            return Recorded(job.id, recordings[-1].notification.id)

        return self._until_saved(
            attempt, f"job {job_id} kept changing concurrently; retry the restart"
        )

    def cancel_job(self, user_id: UUID, job_id: str, reason: str = "cancelled by user") -> Recorded:
        """Cancels a job that has not ended; a reservation it holds is closed in the same save
        (released when the job never reached its provider)."""

        def attempt() -> Recorded:
            # Again after a lost race (e.g. a worker claimed it meanwhile): the guard decides.
            job = self._user_job(user_id, job_id)
            job.cancel(reason)
            recordings = self.save(job, *self._closing(job))
            return Recorded(job.id, recordings[-1].notification.id)

        return self._until_saved(
            attempt, f"job {job_id} kept changing concurrently; retry the cancel"
        )

    def find_job(self, job_id: UUID) -> Job | None:
        return self._find(Job, job_id)

    def owned_job(self, user_id: UUID, job_id: str) -> Job | None:
        return self._owned(Job, user_id, job_id)

    def _user_job(self, user_id: UUID, job_id: str) -> Job:
        job = self._owned(Job, user_id, job_id)
        if job is None:
            raise NotFound("job", job_id)
        return job

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

    def _run_experiment(self, user_id: UUID, experiment_id: str) -> Experiment:
        """The caller's experiment that a run goes into. A run needs only its id and owner,
        which never change, so an experiment found for a run before is not read again."""
        try:
            return self._run_experiments.get((user_id, experiment_id))
        except KeyError:
            experiment = self.owned_experiment(user_id, experiment_id, field="experiment_id")
            self._run_experiments.put((user_id, experiment_id), experiment)
            return experiment

    def _new_job(
        self, user_id: UUID, request: RunRequest
    ) -> tuple[Job, list[Circuit], dict[str, str]]:
        check_request_shape(request, self.limits)
        experiment = self._run_experiment(user_id, request.experiment_id)
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


def _view_of(job: Job, sdk_view: SdkView | None) -> list[Aggregate]:
    return [SdkJob.of(job.id, sdk_view)] if sdk_view is not None else []
