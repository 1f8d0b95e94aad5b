"""The event-sourced application: one method per command, grouped by what it acts on.

- users, API keys, dashboard sessions: domain/accounts.py
- experiments and circuits: domain/experiment_commands.py
- a user's jobs (submit, idempotent submit, restart, cancel): domain/job_commands.py
- budgets (set by an operator; runs on paid devices reserve from them): domain/budget_commands.py
- a worker's jobs (claim, lease, release, record outcomes): domain/worker_commands.py
- webhooks (endpoints, callback secret, run callbacks, deliveries): domain/webhook_commands.py

Adapters are injected (domain/application_base.py), so the domain imports no SDK and no web
code. Every command that records anything does so in a single `save()`.
"""

from __future__ import annotations

from qorch.domain.accounts import Accounts
from qorch.domain.application_base import (
    DEFAULT_DEVICE_ID,
    CheckOptions,
    DescribeCircuit,
    FindDevice,
    HoldNothing,
    Recorded,
)
from qorch.domain.budget_commands import BudgetCommands
from qorch.domain.job_commands import JobCommands, Submit, credentials_to_hold
from qorch.domain.webhook_commands import WebhookCommands
from qorch.domain.worker_commands import Claim, WorkerCommands

__all__ = [
    "DEFAULT_DEVICE_ID",
    "CheckOptions",
    "Claim",
    "DescribeCircuit",
    "FindDevice",
    "HoldNothing",
    "Qorch",
    "Recorded",
    "Submit",
    "credentials_to_hold",
]


class Qorch(Accounts, JobCommands, BudgetCommands, WorkerCommands, WebhookCommands):
    name = "qorch"
