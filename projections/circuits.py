"""Circuits view: source, format, metrics and parameters of each stored circuit."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from qorch.domain.circuit import Circuit
from qorch.projections import experiments
from qorch.projections.batch import Batch, Handlers, id_text
from qorch.projections.database import dumps, narrowed


def stored(event: Any, batch: Batch) -> None:
    when = event.timestamp.isoformat()
    doc = {
        "id": id_text(event.originator_id),
        "user_id": id_text(event.user_id),
        "experiment_id": id_text(event.experiment_id),
        "hash": event.content_hash,
        "name": event.name,
        "format": event.format,
        "qasm": event.source,
        "qubits": event.qubits,
        "parameters": list(event.parameters),
        "has_measurements": event.has_measurements,
        "metrics": event.metrics,
        "creation_date": when,
    }
    batch.insert(
        "INSERT INTO circuits (id, user_id, experiment_id, content_hash, created, doc)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (doc["id"], doc["user_id"], doc["experiment_id"], doc["hash"], when, dumps(doc)),
    )
    experiments.count(batch, doc["experiment_id"], "circuits_count", when)
    batch.add_usage(doc["user_id"], len(event.source))


HANDLERS: Handlers = {Circuit.Stored: stored}


def get_circuit(db: sqlite3.Connection, user_id: str, circuit_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT doc FROM circuits WHERE id = ? AND user_id = ?", (circuit_id, user_id)
    ).fetchone()
    return json.loads(row[0]) if row else None


def list_circuits(
    db: sqlite3.Connection,
    user_id: str,
    experiment_id: str | None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    params: list[Any] = [user_id]
    query = narrowed(
        "SELECT doc FROM circuits WHERE user_id = ?", params, {"experiment_id = ?": experiment_id}
    )
    query += " ORDER BY created DESC, id LIMIT ? OFFSET ?"
    return [json.loads(row[0]) for row in db.execute(query, [*params, limit, offset])]
