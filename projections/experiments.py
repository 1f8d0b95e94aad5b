"""Experiments view: one document per experiment, with circuit and job counts."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from qorch.domain.experiment import Experiment
from qorch.projections.database import Handlers, dumps


def created(event: Any, db: sqlite3.Connection) -> None:
    when = event.timestamp.isoformat()
    doc = {
        "id": str(event.originator_id),
        "user_id": str(event.user_id),
        "name": event.name,
        "description": event.description,
        "tags": list(event.tags),
        "creation_date": when,
        "last_action_date": when,
        "circuits_count": 0,
        "jobs_count": 0,
    }
    db.execute(
        "INSERT INTO experiments (id, user_id, created, doc) VALUES (?, ?, ?, ?)",
        (doc["id"], doc["user_id"], when, dumps(doc)),
    )


def updated(event: Any, db: sqlite3.Connection) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc.update(name=event.name, description=event.description, tags=list(event.tags))

    touch(db, str(event.originator_id), event.timestamp.isoformat(), change)


def touch(db: sqlite3.Connection, experiment_id: str, when: str, change: Any = None) -> None:
    row = db.execute("SELECT doc FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
    if row is None:
        return
    doc = json.loads(row[0])
    if change is not None:
        change(doc)
    doc["last_action_date"] = max(doc["last_action_date"], when)
    db.execute("UPDATE experiments SET doc = ? WHERE id = ?", (dumps(doc), experiment_id))


def count(db: sqlite3.Connection, experiment_id: str, field: str, when: str) -> None:
    def increment(doc: dict[str, Any]) -> None:
        doc[field] += 1

    touch(db, experiment_id, when, increment)


HANDLERS: Handlers = {Experiment.Created: created, Experiment.Updated: updated}


def list_experiments(
    db: sqlite3.Connection, user_id: str, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT doc FROM experiments WHERE user_id = ? ORDER BY created DESC, id LIMIT ? OFFSET ?",
        (user_id, limit, offset),
    )
    return [json.loads(row[0]) for row in rows]


def get_experiment(
    db: sqlite3.Connection, user_id: str, experiment_id: str
) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT doc FROM experiments WHERE id = ? AND user_id = ?", (experiment_id, user_id)
    ).fetchone()
    return json.loads(row[0]) if row else None
