"""Job resources (`job://{id}`) and their update notifications.

Two subscription mechanisms, as the SDK serves them:

- 2026-07-28 clients open a `subscriptions/listen` stream naming the URIs; the SDK's
  `ListenHandler` delivers the events published on its bus. `OwnedListen` wraps it so a stream
  may only name the caller's own jobs.
- Earlier protocol versions send `resources/subscribe` on a session; updates go out as
  `notifications/resources/updated` on that session.

`JobWatch` follows the projection: whenever the views move on, it compares each watched job's
status and timeline with what it last saw and notifies on a change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import ListenHandler, ResourceUpdated, SubscriptionBus
from mcp.shared.exceptions import MCPError

from qorch.bootstrap import Service
from qorch.domain.errors import NotFound
from qorch.domain.user import User
from qorch.http import queries
from qorch.http.schemas import JobsQuery
from qorch.projections import jobs

log = logging.getLogger("qorch.mcp")

SCHEME = "job://"
TEMPLATE = types.ResourceTemplate(
    name="job",
    title="A job, complete",
    uri_template=SCHEME + "{job_id}",
    description="A job's status, request and complete results as JSON: nothing paged or left "
    "out. Subscribe to it to be notified when its status changes.",
    mime_type="application/json",
)
LISTED_JOBS = 20
SEND_TIMEOUT = 5.0

Caller = Callable[[ServerRequestContext[Any, Any]], User]
Fingerprint = tuple[str, int]


def job_uri(job_id: str) -> str:
    return SCHEME + job_id


def job_id_of(uri: str) -> str:
    if not uri.startswith(SCHEME) or not uri[len(SCHEME) :].strip("/"):
        raise MCPError(types.INVALID_PARAMS, f"not a job resource: {uri!r} (job://JOB_ID)")
    return uri[len(SCHEME) :].strip("/")


def owned_fingerprint(service: Service, user: User, job_id: str) -> Fingerprint:
    doc = jobs.get_job(service.views.connection(), str(user.id), job_id)
    if doc is None:
        raise MCPError(types.INVALID_PARAMS, str(NotFound("job", job_id)))
    return doc["status"], len(doc["events"])


async def read_job_resource(service: Service, user: User, uri: str) -> types.ReadResourceResult:
    job_id = job_id_of(uri)
    try:
        job = await queries.job(service, user, job_id)
    except NotFound as error:
        raise MCPError(types.INVALID_PARAMS, str(error)) from None
    text = json.dumps(job, separators=(",", ":"))
    contents = types.TextResourceContents(uri=uri, text=text, mime_type="application/json")
    return types.ReadResourceResult(contents=[contents])


def list_job_resources(service: Service, user: User) -> types.ListResourcesResult:
    docs = queries.job_list(service, user, JobsQuery.model_validate({"limit": LISTED_JOBS}))
    return types.ListResourcesResult(
        resources=[
            types.Resource(
                uri=job_uri(doc["id"]),
                name=f"job {doc['id']}",
                description=f"{doc['status']} on {doc['device_id']}, "
                f"{len(doc['circuit_ids'])} circuit(s), created {doc['creation_date']}"
                + (
                    f"; partial results: {doc['failed_executions']} execution(s) failed"
                    if doc.get("partial")
                    else ""
                ),
                mime_type="application/json",
            )
            for doc in docs
        ]
    )


@dataclass
class Watched:
    user: User
    seen: Fingerprint
    sessions: set[ServerSession] = field(default_factory=set)
    listeners: int = 0


class JobWatch:
    def __init__(self, bus: SubscriptionBus) -> None:
        self.bus = bus
        self.watched: dict[str, Watched] = {}

    def _entry(self, user: User, job_id: str, seen: Fingerprint) -> Watched:
        entry = self.watched.get(job_id)
        if entry is None:
            entry = self.watched[job_id] = Watched(user, seen)
        return entry

    def subscribe_session(
        self, service: Service, user: User, job_id: str, session: ServerSession
    ) -> None:
        seen = owned_fingerprint(service, user, job_id)
        self._entry(user, job_id, seen).sessions.add(session)

    def unsubscribe_session(self, job_id: str, session: ServerSession) -> None:
        entry = self.watched.get(job_id)
        if entry is not None:
            entry.sessions.discard(session)
            self._forget_if_unwatched(job_id)

    def add_listener(self, service: Service, user: User, job_ids: list[str]) -> None:
        """Watches the jobs for a listen stream; refuses them all if one is not the user's."""
        seen = {job_id: owned_fingerprint(service, user, job_id) for job_id in job_ids}
        for job_id in job_ids:
            self._entry(user, job_id, seen[job_id]).listeners += 1

    def remove_listener(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            entry = self.watched.get(job_id)
            if entry is not None:
                entry.listeners -= 1
                self._forget_if_unwatched(job_id)

    def _forget_if_unwatched(self, job_id: str) -> None:
        entry = self.watched.get(job_id)
        if entry is not None and not entry.sessions and entry.listeners <= 0:
            del self.watched[job_id]

    async def run(self, service: Service) -> None:
        """Notifies on every change of a watched job, for as long as the server runs."""
        while True:
            position = service.projector.position
            if self.watched:
                try:
                    await self.check(service)
                except Exception:  # never take the server down over a notification
                    log.exception("checking watched jobs failed")
            if service.projector.position == position:
                await service.projector.wait_for_change(1.0)

    async def check(self, service: Service) -> None:
        db = service.views.connection()
        for job_id, entry in list(self.watched.items()):
            doc = jobs.get_job(db, str(entry.user.id), job_id)
            if doc is None:
                continue
            now = (doc["status"], len(doc["events"]))
            if now == entry.seen:
                continue
            entry.seen = now
            await self._notify(job_id, entry)
            if doc["status"] in jobs.FINAL:
                entry.sessions.clear()  # nothing more will change
                self._forget_if_unwatched(job_id)

    async def _notify(self, job_id: str, entry: Watched) -> None:
        uri = job_uri(job_id)
        if entry.listeners > 0:
            await self.bus.publish(ResourceUpdated(uri=uri))
        for session in list(entry.sessions):
            try:
                with anyio.fail_after(SEND_TIMEOUT):
                    await session.send_resource_updated(uri)
            except Exception:  # a session that went away: stop notifying it
                log.info("dropping the subscription of a closed session to %s", uri)
                entry.sessions.discard(session)


class OwnedListen:
    """`subscriptions/listen` limited to the caller's own jobs, which it watches meanwhile."""

    def __init__(
        self, inner: ListenHandler, watch: JobWatch, service: Callable[[], Service], caller: Caller
    ) -> None:
        self.inner = inner
        self.watch = watch
        self.service = service
        self.caller = caller

    async def __call__(
        self,
        ctx: ServerRequestContext[Any, Any],
        params: types.SubscriptionsListenRequestParams,
    ) -> types.SubscriptionsListenResult:
        uris = list(params.notifications.resource_subscriptions or [])
        job_ids = [job_id_of(uri) for uri in uris]
        if job_ids:
            self.watch.add_listener(self.service(), self.caller(ctx), job_ids)
        try:
            return await self.inner(ctx, params)
        finally:
            self.watch.remove_listener(job_ids)
