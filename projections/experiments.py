"""Experiments view: one document per experiment, with circuit and job counts."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from qorch.domain.experiment import Experiment
from qorch.projections.batch import Batch, Handlers, id_text, json_value


def created(event: Any, batch: Batch) -> None:
    when = event.timestamp.isoformat()
    doc = {
        "id": id_text(event.originator_id),
        "user_id": id_text(event.user_id),
        "name": json_value(event.name),  # (these three: see `updated`)
        "description": json_value(event.description),
        "tags": json_value(list(event.tags)),
        "creation_date": when,
        "last_action_date": when,
        "circuits_count": 0,
        "jobs_count": 0,
    }
    batch.experiments.add(doc["id"], doc)


def updated(event: Any, batch: Batch) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc.update(
            name=json_value(event.name),
            description=json_value(event.description),
            tags=json_value(list(event.tags)),
        )

    touch(batch, id_text(event.originator_id), event.timestamp.isoformat(), change)


def touch(batch: Batch, experiment_id: str, when: str, change: Any = None) -> None:
    doc = batch.experiments.get(experiment_id)
    if doc is None:
        return
    if change is not None:
        change(doc)
    doc["last_action_date"] = max(doc["last_action_date"], when)
    batch.experiments.update(experiment_id)


def count(batch: Batch, experiment_id: str, field: str, when: str) -> None:
    def increment(doc: dict[str, Any]) -> None:
        doc[field] += 1

    touch(batch, experiment_id, when, increment)


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
