"""The composition root: builds the application, read models and executor from settings."""

from __future__ import annotations

from dataclasses import dataclass

from qorch.adapters.circuit_facts import configure_parsing, describe_circuit, warm_parsers
from qorch.adapters.devices import DeviceCatalogue
from qorch.adapters.executor.executor import Executor
from qorch.adapters.private_files import keep_private
from qorch.adapters.providers import Registry
from qorch.adapters.store import event_store_env
from qorch.adapters.vault import CredentialVault
from qorch.domain.application import Qorch
from qorch.projections.database import ViewDatabase
from qorch.projections.projector import Projector
from qorch.settings import Settings, provider_config


def open_catalogue(settings: Settings) -> DeviceCatalogue:
    return DeviceCatalogue(open_registry(settings), quotas=settings.quotas)


def open_registry(settings: Settings) -> Registry:
    return Registry(provider_config(settings), names=settings.providers)


def open_application(settings: Settings, catalogue: DeviceCatalogue | None = None) -> Qorch:
    keep_private(settings.data_dir)
    configure_parsing(settings.limits, settings.parser)
    catalogue = catalogue or open_catalogue(settings)
    app = Qorch(
        event_store_env(settings),
        describe_circuit=describe_circuit,
        find_device=catalogue.find,
        check_options=catalogue.registry.check_request,
        limits=settings.limits,
        credentials=CredentialVault(settings),
    )
    keep_private(settings.data_dir)  # the files the store and the vault just created
    return app


def open_executor(settings: Settings, app: Qorch) -> Executor:
    vault = app.credentials if isinstance(app.credentials, CredentialVault) else None
    return Executor(
        app,
        concurrency=settings.worker_concurrency,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.poll_interval,
        vault=vault,
        provider_config=provider_config(settings),
        quotas=settings.quotas,
        registry=open_registry(settings),
    )


@dataclass
class Service:
    settings: Settings
    app: Qorch
    catalogue: DeviceCatalogue
    views: ViewDatabase
    projector: Projector

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
    return Service(settings, app, catalogue, views, projector)
