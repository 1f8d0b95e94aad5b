"""The Lab's reads of the read models beyond projections/dashboard.py: circuits' parameters and
qubits by id, and an experiment's jobs summed up (by status, by device, spend)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any


def circuit_facts(
    db: sqlite3.Connection, user_id: str, circuit_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """{id: {name, qubits, parameters}} of the user's circuits among `circuit_ids`."""
    found: dict[str, dict[str, Any]] = {}
    wanted = list(dict.fromkeys(circuit_ids))
    for start in range(0, len(wanted), 500):  # SQLite binds at most 999 values
        chunk = wanted[start : start + 500]
        marks = ",".join("?" for _ in chunk)
        rows = db.execute(
            "SELECT id, json_extract(doc, '$.name'), json_extract(doc, '$.qubits'),"
            " json_extract(doc, '$.parameters') FROM circuits"
            f" WHERE user_id = ? AND id IN ({marks})",
            (user_id, *chunk),
        )
        for circuit_id, name, qubits, parameters in rows:
            found[circuit_id] = {
                "name": name or "",
                "qubits": int(qubits or 0),
                "parameters": json.loads(parameters) if parameters else [],
            }
    return found


@dataclass
class Overview:
    jobs: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    devices: list[tuple[str, int]] = field(default_factory=list)
    dry_runs: int = 0
    dry_run_usd: float = 0.0
    """What the experiment's dry runs estimated, all together."""
    estimated_usd: float = 0.0
    """What the experiment's real runs were estimated at (reserved at submit)."""
    actual_usd: float = 0.0
    """What the runs that reported or computed a cost actually cost."""
    costed_jobs: int = 0


def experiment_overview(db: sqlite3.Connection, user_id: str, experiment_id: str) -> Overview:
    overview = Overview()
    rows = db.execute(
        "SELECT status, device_id, COUNT(*),"
        " SUM(CASE WHEN json_extract(doc, '$.dry_run') THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN json_extract(doc, '$.dry_run') THEN 0"
        "     ELSE COALESCE(json_extract(doc, '$.estimated_usd'), 0) END),"
        " SUM(CASE WHEN json_extract(doc, '$.dry_run')"
        "     THEN COALESCE(json_extract(doc, '$.estimated_usd'), 0) ELSE 0 END),"
        " SUM(COALESCE(json_extract(doc, '$.actual_cost.usd'), 0)),"
        " SUM(CASE WHEN json_extract(doc, '$.actual_cost.usd') IS NULL THEN 0 ELSE 1 END)"
        " FROM jobs WHERE experiment_id = ? AND user_id = ? GROUP BY status, device_id",
        (experiment_id, user_id),
    )
    devices: dict[str, int] = {}
    for status, device_id, count, dry, estimated, dry_usd, actual, costed in rows:
        overview.jobs += count
        overview.statuses[status] = overview.statuses.get(status, 0) + count
        devices[device_id] = devices.get(device_id, 0) + count
        overview.dry_runs += dry or 0
        overview.estimated_usd += float(estimated or 0.0)
        overview.dry_run_usd += float(dry_usd or 0.0)
        overview.actual_usd += float(actual or 0.0)
        overview.costed_jobs += costed or 0
    overview.devices = sorted(devices.items(), key=lambda item: (-item[1], item[0]))
    return overview
