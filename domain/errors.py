"""Errors the domain raises; entrypoints turn them into 4xx answers or tool errors."""

from __future__ import annotations


class RequestError(ValueError):
    """A request is invalid: names the offending field and the problem."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class NotFound(LookupError):
    """The object does not exist, or belongs to another user (the two are indistinguishable)."""

    def __init__(self, kind: str, object_id: object) -> None:
        super().__init__(f"{kind} {object_id} not found")
        self.kind = kind
        self.object_id = object_id


class Conflict(RuntimeError):
    """The command cannot apply to the object's current state (e.g. cancelling a finished job)."""


class InvalidCircuit(ValueError):
    """A circuit's source text could not be parsed; carries the parser's position when known."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column


class Unreadable(Conflict):
    """An object's stored history cannot be read back (an event the store cannot decode): the
    object cannot change until an operator repairs it; everything else goes on."""

    def __init__(self, object_id: object) -> None:
        super().__init__(
            f"the stored history of {object_id} cannot be read; it was set aside for an operator"
        )
        self.object_id = object_id


class Busy(RuntimeError):
    """The caller already has as much work under way as one user may (answered 429): retry
    after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BudgetExceeded(RuntimeError):
    """A run's estimated cost is more than what the user's budget has left (answered 402);
    nothing was recorded. Names the estimate, what is left, of which limit, for which period."""

    def __init__(
        self,
        *,
        estimate_usd: float,
        left_usd: float,
        limit_usd: float,
        period: str,
        period_key: str,
        provider: str | None,
        field: str = "device_id",
    ) -> None:
        scope = f"on {provider}" if provider else "on all providers"
        when = f"this month ({period_key}, UTC)" if period == "month" else "in total"
        self.message = (
            f"this run is estimated at {usd(estimate_usd)}, more than your budget has left: "
            f"{usd(left_usd)} of {usd(limit_usd)} {scope} {when}; nothing was recorded (a dry "
            "run shows the estimate; fewer shots or a cheaper device cost less)"
        )
        super().__init__(self.message)
        self.field = field
        self.estimate_usd = estimate_usd
        self.left_usd = left_usd
        self.limit_usd = limit_usd
        self.period = period
        self.period_key = period_key
        self.provider = provider


def usd(amount: float) -> str:
    """Cents when they say it all, else up to micro-dollars (a Garnet shot is $0.00145)."""
    if abs(amount - round(amount, 2)) < 1e-9:
        return f"${amount:,.2f}"
    return f"${amount:,.6f}".rstrip("0")
