"""The deliverer's tables beside the event store (the events file on SQLite, the store's schema
on PostgreSQL), written through the recorder's own connections, so that they are backed up,
restored and deleted with the log they describe, and every process of a shared log finds them.

- `qorch_webhook_position`: the log position the deliverers have followed to, with what they
  know at that position (the endpoints and open callbacks). Any deliverer may write it, and a
  write only moves it forward: it is a function of the log up to that position.
- `qorch_webhook_deliveries`: one row per delivery, as its events left it: what
  `GET /webhooks/{id}/deliveries` lists, and the deliveries a deliverer starting up still has to
  make. Each deliverer applies the Delivery events it follows; a row only takes an event newer
  than the last it took (`version`), so applying one twice, or late, changes nothing.

Rows follow the events (the aggregates decide); a row that lags only delays an attempt, which
the Delivery then refuses or allows as its own state says.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Recorder

from qorch.adapters.side_tables import SideTables, Statement, side_tables_for
from qorch.domain.webhook import Delivery, DeliveryStatus

NAME = "deliverer"
POSITION = "qorch_webhook_position"
DELIVERIES = "qorch_webhook_deliveries"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {position} (name TEXT PRIMARY KEY, position BIGINT NOT NULL,"
    " state TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {deliveries} (id TEXT PRIMARY KEY, webhook_id TEXT NOT NULL,"
    " kind TEXT NOT NULL, user_id TEXT NOT NULL, job_id TEXT NOT NULL, position BIGINT NOT NULL,"
    " event_type TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " last_error TEXT, last_status_code INTEGER, next_at DOUBLE PRECISION NOT NULL,"
    " created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,"
    " version INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS qorch_webhook_deliveries_by_webhook"
    " ON {deliveries} (webhook_id, position)",
    "CREATE INDEX IF NOT EXISTS qorch_webhook_deliveries_by_status ON {deliveries} (status)",
)
COLUMNS = (
    "id",
    "webhook_id",
    "kind",
    "user_id",
    "job_id",
    "position",
    "event_type",
    "status",
    "attempts",
    "last_error",
    "last_status_code",
    "next_at",
    "created_at",
    "updated_at",
    "version",
)
UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
NEWER = " WHERE id = ? AND version < ?"


class WebhookTables:
    def __init__(self, tables: SideTables) -> None:
        self.tables = tables

    # --- the tracked position ---

    def load(self) -> tuple[int, dict[str, Any]] | None:
        rows = self.tables.query("SELECT position, state FROM {position} WHERE name = ?", (NAME,))
        return (int(rows[0][0]), json.loads(rows[0][1])) if rows else None

    def save(self, position: int, state: dict[str, Any]) -> None:
        self.tables.run(
            [
                (
                    "INSERT INTO {position} AS stored (name, position, state) VALUES (?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET position = excluded.position,"
                    " state = excluded.state WHERE stored.position < excluded.position",
                    (NAME, position, json.dumps(state)),
                )
            ]
        )

    # --- the deliveries ---

    def apply(self, events: Sequence[Delivery.Event]) -> None:
        """Brings the rows up to these Delivery events (in log order), in one transaction."""
        statements = [statement for event in events if (statement := _statement(event))]
        if statements:
            self.tables.run(statements)

    def deliveries(
        self, webhook_id: str, user_id: str, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """A webhook's deliveries, newest job event first."""
        rows = self.tables.query(
            f"SELECT {', '.join(COLUMNS)} FROM {{deliveries}} WHERE webhook_id = ? AND"
            " user_id = ? ORDER BY position DESC LIMIT ? OFFSET ?",
            (webhook_id, user_id, limit, offset),
        )
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]

    def unfinished(self) -> list[tuple[str, float, str]]:
        """(id, when it is due, its user) of every delivery not yet delivered or given up."""
        rows = self.tables.query(
            "SELECT id, next_at, user_id FROM {deliveries} WHERE status IN (?, ?)", UNFINISHED
        )
        return [(str(row[0]), float(row[1]), str(row[2])) for row in rows]


def _statement(event: Delivery.Event) -> Statement | None:
    """The row change a Delivery event makes."""
    at, version, row_id = (
        event.timestamp.timestamp(),
        event.originator_version,
        str(event.originator_id),
    )
    if isinstance(event, Delivery.Opened):
        values = (
            row_id,
            str(event.endpoint_id),
            event.kind,
            str(event.user_id),
            str(event.job_id),
            event.position,
            event.event_type,
            DeliveryStatus.PENDING,
            0,
            None,
            None,
            event.created_at,
            event.created_at,
            at,
            version,
        )
        marks = ", ".join("?" * len(COLUMNS))
        return (
            f"INSERT INTO {{deliveries}} ({', '.join(COLUMNS)}) VALUES ({marks})"
            " ON CONFLICT (id) DO NOTHING",
            values,
        )
    params: tuple[Any, ...]
    if isinstance(event, Delivery.AttemptStarted):
        change, params = "attempts = attempts + 1, next_at = ?", (event.lease_until,)
        status = DeliveryStatus.SENDING
    elif isinstance(event, Delivery.Succeeded):
        change, params = "last_error = NULL, last_status_code = ?", (event.status_code,)
        status = DeliveryStatus.DELIVERED
    elif isinstance(event, Delivery.AttemptFailed):
        change = "last_error = ?, last_status_code = ?, next_at = ?"
        params = (event.error, event.status_code, event.next_at)
        status = DeliveryStatus.PENDING
    elif isinstance(event, Delivery.GaveUp):
        change, params = "last_error = ?, last_status_code = ?", (event.error, event.status_code)
        status = DeliveryStatus.FAILED
    else:
        return None
    return (
        f"UPDATE {{deliveries}} SET status = ?, {change}, updated_at = ?, version = ?" + NEWER,
        (status, *params, at, version, row_id, version),
    )


def tables_for(recorder: Recorder) -> WebhookTables | None:
    """The tables in this event store; None for a store that keeps none (in memory)."""
    tables = side_tables_for(recorder, {"position": POSITION, "deliveries": DELIVERIES}, SCHEMA)
    return None if tables is None else WebhookTables(tables)
