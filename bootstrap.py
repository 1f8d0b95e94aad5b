"""The composition root: the one module that builds the concrete adapters and wires them.

Settings come in as plain values (settings.py imports nothing from qorch); here they become the
objects the domain and the adapters take. The provider registry is built once per application
and shared by its device catalogue and its executor. Worker processes never read the
environment: what they need travels with each call (a `ProviderConfig`, the `Limits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from qorch.adapters.circuit_facts import configure_parsing, describe_circuit, warm_parsers
from qorch.adapters.circuit_sandbox import SandboxConfig
from qorch.adapters.cost_estimates import Estimates
from qorch.adapters.devices import DeviceCatalogue
from qorch.adapters.executor import Executor
from qorch.adapters.executor.adverts import adverts_for
from qorch.adapters.executor.capabilities import Advertiser, nothing
from qorch.adapters.group_commit import GroupCommit
from qorch.adapters.private_files import keep_private
from qorch.adapters.providers import Registry
from qorch.adapters.providers.config import ProviderConfig
from qorch.adapters.providers.local import gpu
from qorch.adapters.quotas import Quotas
from qorch.adapters.store import (
    TablesMissing,
    check_tables,
    event_store_env,
    init_lock,
    is_postgres,
)
from qorch.adapters.vault import CredentialVault, load_key
from qorch.adapters.webhooks.signing import SealedSecrets
from qorch.adapters.webhooks.ssrf import TargetGuard
from qorch.adapters.worker_catalogue import WorkerCatalogue
from qorch.domain.application import Qorch
from qorch.domain.fields import TextLimits
from qorch.domain.requests import Limits
from qorch.domain.webhook import Backoff
from qorch.projections.database import ViewDatabase, remove_database
from qorch.projections.projector import Projector
from qorch.projections.rebuild import rebuild_beside
from qorch.settings import LIMITS, PARSER, PROVIDERS, QUOTAS, TEXT_LIMITS, Settings

if TYPE_CHECKING:
    from qorch.adapters.webhooks.deliverer import Deliverer

__all__ = [
    "Service",
    "TablesMissing",
    "open_application",
    "open_deliverer",
    "open_executor",
    "open_service",
]


def limits_from(settings: Settings) -> Limits:
    return Limits(**settings.given(LIMITS), text=TextLimits(**settings.given(TEXT_LIMITS)))


def quotas_from(settings: Settings) -> Quotas:
    return Quotas(**settings.given(QUOTAS))


def parser_from(settings: Settings) -> SandboxConfig:
    return SandboxConfig(**settings.given(PARSER))


def provider_config_from(settings: Settings) -> ProviderConfig:
    return ProviderConfig(**settings.given(PROVIDERS))


def open_registry(settings: Settings) -> Registry:
    return Registry(provider_config_from(settings), names=settings.providers)


def open_catalogue(settings: Settings, registry: Registry | None = None) -> DeviceCatalogue:
    """The providers' devices, and Aer's GPU devices while a live worker has a GPU."""
    registry = registry or open_registry(settings)
    return WorkerCatalogue(
        registry,
        quotas=quotas_from(settings),
        sources=(gpu.GpuDevices(),) if "local" in registry.names else (),
        ttl=settings.lease_seconds,
    )


def open_advertiser(
    settings: Settings, app: Qorch, registry: Registry, probe: gpu.GpuProbe | None = None
) -> Advertiser:
    """What a worker says it can do: the GPU its probe finds (Aer's, unless QORCH_GPU=off),
    with a heartbeat every third of a lease; GPU devices need one, listed or not."""
    offer = settings.gpu == "auto" and "local" in registry.names
    return Advertiser(
        adverts_for(app.recorder),
        detect=partial(gpu.capabilities, probe or gpu.AerGpuProbe()) if offer else nothing,
        requires=gpu.requires,
        every=settings.lease_seconds / 3,
    )


def open_application(settings: Settings, catalogue: DeviceCatalogue | None = None) -> Qorch:
    keep_private(settings.data_dir)
    limits = limits_from(settings)
    configure_parsing(limits, parser_from(settings))
    catalogue = catalogue or open_catalogue(settings)
    app = Qorch(
        event_store_env(settings),
        describe_circuit=describe_circuit,
        find_device=catalogue.find,
        check_options=catalogue.registry.check_request,
        estimate_cost=Estimates(catalogue.registry),
        limits=limits,
        credentials=CredentialVault(settings),
        webhook_secrets=SealedSecrets(partial(load_key, settings)),
        check_webhook_target=TargetGuard(settings.webhook_allow_private).check,
    )
    app.events.recorder = GroupCommit(app.events.recorder)
    if isinstance(catalogue, WorkerCatalogue):
        catalogue.attach(adverts_for(app.recorder))
    keep_private(settings.data_dir)  # the files the store and the vault just created
    return app


def open_executor(settings: Settings, app: Qorch, registry: Registry | None = None) -> Executor:
    """The executor for `app`, calling providers through `registry` (the one the application's
    catalogue was built from, when it is at hand)."""
    vault = app.credentials if isinstance(app.credentials, CredentialVault) else None
    registry = registry or open_registry(settings)
    return Executor(
        app,
        concurrency=settings.worker_concurrency,
        batch_size=settings.batch_size,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.poll_interval,
        vault=vault,
        provider_config=registry.config,
        quotas=quotas_from(settings),
        registry=registry,
        advertiser=open_advertiser(settings, app, registry),
    )


def open_deliverer(settings: Settings, app: Qorch) -> Deliverer:
    """The webhook deliverer that runs beside `app`'s executor."""
    from qorch.adapters.webhooks.deliverer import Deliverer
    from qorch.adapters.webhooks.sender import Sender

    timeout = settings.webhook_timeout_seconds
    return Deliverer(
        app,
        Sender(TargetGuard(settings.webhook_allow_private), timeout=timeout),
        poll_interval=settings.poll_interval,
        backoff=Backoff(settings.webhook_retry_seconds, settings.webhook_retry_max_seconds),
        lease_seconds=max(settings.lease_seconds, 4 * timeout),
    )


@dataclass
class Service:
    settings: Settings
    app: Qorch
    catalogue: DeviceCatalogue
    views: ViewDatabase
    projector: Projector
    limits: Limits
    quotas: Quotas

    @property
    def registry(self) -> Registry:
        return self.catalogue.registry

    def close(self) -> None:
        self.views.close()
        self.app.close()


def open_service(settings: Settings) -> Service:
    catalogue = open_catalogue(settings)
    app = open_application(settings, catalogue)
    warm_parsers()  # the parser processes start beside the API, not on the first submit
    views = ViewDatabase(settings.views_path)
    keep_private(settings.data_dir)
    projector = Projector(app, views)
    projector.rebuild()  # catch up with what was recorded while this process was not running
    return Service(settings, app, catalogue, views, projector, app.limits, catalogue.quotas)


def init_event_store(settings: Settings) -> str:
    """Creates the event store's tables and says where; on PostgreSQL under an advisory lock,
    so that several concurrent `qorch db init` runs do not trip over each other's CREATEs."""
    if not is_postgres(settings):
        open_application(settings).close()  # SQLite creates its tables when opened
        return str(settings.events_path)
    with init_lock(settings):
        app = open_application(settings)
        try:
            app.recorder.create_table()  # type: ignore[attr-defined]
            adverts = adverts_for(app.recorder).table  # workers' capabilities (GPU)
            if adverts is not None:
                adverts.create()
        finally:
            app.close()
    return "PostgreSQL tables created (or already there)"


def check_event_store(settings: Settings) -> None:
    """Raises TablesMissing, with a hint, when the PostgreSQL tables were never created."""
    if is_postgres(settings):
        app = open_application(settings)
        try:
            check_tables(app)
        finally:
            app.close()


def rebuilt_views(
    app: Qorch, path: Path, *, from_scratch: bool = False
) -> tuple[ViewDatabase, int]:
    """The views at `path` caught up with the whole log, and the log position they reached.
    `from_scratch`: `path` is a new file, thrown away if the rebuild fails, so it is filled
    without a journal on disk, on two cores where it can be (`rebuild_beside`), else by the
    projector alone (see `ViewDatabase.rebuilding`)."""
    if not from_scratch:
        views = ViewDatabase(path)
        return views, Projector(app, views).rebuild()
    position = rebuild_beside(app, path)
    if position is not None:
        return ViewDatabase(path), position
    remove_database(path)
    views = ViewDatabase(path)
    with views.rebuilding():
        return views, Projector(app, views).rebuild()
