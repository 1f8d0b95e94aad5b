"""Which claimable jobs an executor starts next: round-robin across users, each user's own jobs
by priority (higher first) then age, and no user above a cap of running jobs.

Pure functions: the executor hands in what it knows and starts what comes back.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Candidate:
    job_id: UUID
    user: str
    priority: int = 0
    seq: int = 0
    """The log position the job was opened at: older first among equal priorities."""


def fair_pick(
    candidates: Iterable[Candidate],
    running: Mapping[str, int],
    slots: int,
    per_user: int,
    after: str | None = None,
) -> list[Candidate]:
    """Up to `slots` candidates, one per user per round; users in a fixed order (by id) that
    starts after `after` (the user served last), so every user with a job waiting is served
    within one round. A user already running `per_user` jobs (0: no cap) gets none."""
    if slots <= 0:
        return []
    queues: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        queues.setdefault(candidate.user, []).append(candidate)
    users = sorted(queues)
    if after is not None:
        start = bisect_right(users, after)
        users = users[start:] + users[:start]
    # Only a user's first `slots` jobs can be picked this time: no need to sort them all.
    best = {
        user: heapq.nsmallest(slots, queue, key=lambda c: (-c.priority, c.seq))[::-1]
        for user, queue in queues.items()
    }
    taken = {user: running.get(user, 0) for user in users}
    picked: list[Candidate] = []
    while len(picked) < slots:
        progressed = False
        for user in users:
            if len(picked) == slots:
                break
            if best[user] and (per_user <= 0 or taken[user] < per_user):
                picked.append(best[user].pop())
                taken[user] += 1
                progressed = True
        if not progressed:
            break
    return picked
