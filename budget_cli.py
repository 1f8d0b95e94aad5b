"""`qorch budget set/show/clear NAME`: an operator limits what a user's runs on paid devices may
cost (domain/budget.py); no request a user can make changes a budget."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from qorch.settings import Settings


def add_parser(commands: Any) -> None:
    budget = commands.add_parser(
        "budget", help="limit what a user's runs on paid devices may cost (users cannot change it)"
    )
    budget_commands = budget.add_subparsers(dest="budget_command", required=True)
    set_budget = budget_commands.add_parser(
        "set",
        help="set a user's limit in USD: real runs on paid devices whose estimate is more than "
        "what is left are refused (402); replaces the limit on the same provider",
    )
    set_budget.add_argument("--usd", type=float, required=True, help="the limit in US dollars")
    set_budget.add_argument(
        "--period",
        choices=("total", "month"),
        default="total",
        help="total (default): over all time; month: per calendar month (UTC)",
    )
    show_budget = budget_commands.add_parser(
        "show", help="a user's limits, and what is reserved, spent and left in their period"
    )
    clear_budget = budget_commands.add_parser("clear", help="remove a user's limit")
    for command in (set_budget, show_budget, clear_budget):
        command.add_argument("name", help="the user's name, or their id")
        command.add_argument("--data-dir")
    for command in (set_budget, clear_budget):
        command.add_argument(
            "--provider", help="only runs on this provider's devices (default: all providers)"
        )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """`budget set`, `budget clear` or `budget show` for one user; prints where the budget
    stands after the change."""
    from qorch.adapters.providers import PACKAGES
    from qorch.bootstrap import open_application
    from qorch.cli import one_user
    from qorch.domain.errors import Conflict, RequestError

    provider = getattr(args, "provider", None)
    if provider is not None and provider not in PACKAGES:
        known = ", ".join(PACKAGES)
        print(f"qorch budget: unknown provider {provider!r}; one of {known}", file=sys.stderr)
        return 2
    app = open_application(settings)
    try:
        user = one_user(app, args.name, "qorch budget")
        if user is None:
            return 2
        try:
            if args.budget_command == "set":
                app.set_budget(user.id, args.usd, args.period, provider)
            elif args.budget_command == "clear":
                app.clear_budget(user.id, provider)
        except (RequestError, Conflict) as error:
            print(f"qorch budget {args.budget_command}: {error}", file=sys.stderr)
            return 2
        rows = app.budget_status(user.id)
        print(f"budget of {user.name!r} ({user.id}):")
        for row in rows:
            print("  " + budget_line(row))
        if not rows:
            print("  no limits: runs on paid devices are not limited")
        return 0
    finally:
        app.close()


def budget_line(row: dict[str, Any]) -> str:
    from qorch.domain.errors import usd

    scope = f"on {row['provider']}" if row["provider"] else "on all providers"
    period = "in total" if row["period"] == "total" else f"in {row['period_key']} (UTC month)"
    amounts = ", ".join(
        f"{name} {usd(row[f'{name}_usd'])}" for name in ("limit", "reserved", "spent", "left")
    )
    return f"{scope} {period}: {amounts}"
