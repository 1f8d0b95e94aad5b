"""Group commit: saves made at the same time by different threads share one transaction.

Every save still returns only after its own events are durable (the transaction that holds them
has committed, fsync included), so a job id is answered only once its Submitted is on disk. What
changes is that concurrent saves — submits from many clients, claims and outcomes of many jobs —
pay for one commit together instead of one each: while a commit is in flight the next saves
queue, and the first of them then commits the whole queue in one transaction.

A combined transaction that fails (one save lost a race on optimistic concurrency, say) is rolled
back and every save of it is tried again on its own, so each caller sees exactly the outcome its
save would have had alone.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, StoredEvent

MAX_EVENTS_PER_COMMIT = 2000
"""Bounds one transaction (and the time the first caller of a round waits for the others)."""


class _Pending:
    __slots__ = ("error", "events", "finished", "ids", "wake")

    def __init__(self, events: list[StoredEvent]) -> None:
        self.events = events
        self.ids: Sequence[int] | None = None
        self.error: BaseException | None = None
        self.finished = False
        self.wake = threading.Event()

    def finish(self, ids: Sequence[int] | None, error: BaseException | None = None) -> None:
        self.ids, self.error, self.finished = ids, error, True
        self.wake.set()


class GroupCommit(AggregateRecorder):
    """The event store's recorder, with `insert_events` committing concurrent calls together;
    everything else is the wrapped recorder's."""

    def __init__(self, recorder: AggregateRecorder) -> None:
        self.recorder = recorder
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leading = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.recorder, name)

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if any(value is not None for value in kwargs.values()):
            # e.g. a tracking record: it belongs to this transaction alone
            return self.recorder.insert_events(stored_events, **kwargs)
        pending = _Pending(list(stored_events))
        with self._lock:
            self._queue.append(pending)
            lead = not self._leading
            self._leading = True
        if not lead:
            pending.wake.wait()
        if not pending.finished:  # this thread commits the next round
            self._commit_round()
        if pending.error is not None:
            raise pending.error
        return pending.ids

    def _commit_round(self) -> None:
        with self._lock:
            batch: list[_Pending] = []
            count = 0
            # The leader's own save is first in the queue, so it is always in this round.
            while self._queue and (
                not batch or count + len(self._queue[0].events) <= MAX_EVENTS_PER_COMMIT
            ):
                batch.append(self._queue.pop(0))
                count += len(batch[-1].events)
        try:
            self._commit(batch)
        except BaseException as error:
            for pending in batch:
                if not pending.finished:
                    pending.finish(None, error)
            raise
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].wake.set()  # it leads the next round
                else:
                    self._leading = False

    def _commit(self, batch: list[_Pending]) -> None:
        if len(batch) > 1:
            try:
                ids = self.recorder.insert_events([e for p in batch for e in p.events])
            except Exception:
                pass  # each save on its own: only the one that failed fails
            else:
                start = 0
                for pending in batch:
                    end = start + len(pending.events)
                    pending.finish(None if ids is None else ids[start:end])
                    start = end
                return
        for pending in batch:
            try:
                pending.finish(self.recorder.insert_events(pending.events))
            except Exception as error:
                pending.finish(None, error)
