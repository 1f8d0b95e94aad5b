"""Checks of the free-form `options` every provider shares: one error shape, one way to read
integers, seeds, choices and flags. Each provider lists its own options and defaults."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from qorch.domain.execution import ProviderError

MAX_SEED = 2**63 - 1
"""Aer and Qiskit take 64-bit seeds (a provider with a smaller seed says so)."""

Check = Callable[[Any], str | None]
"""Answers what is wrong with a value, or None when it is fine."""


def option_error(name: str, problem: str, code: str = "invalid_option") -> ProviderError:
    return ProviderError(code, f"options.{name}: {problem}", field=f"options.{name}")


def check_known(
    options: Mapping[str, Any], supported: Iterable[str], devices: str, ignored: Iterable[str] = ()
) -> None:
    """Refuses an option the provider does not take (`devices` names them: "IBM devices")."""
    supported, ignored = tuple(supported), set(ignored)
    for name in options:
        if name not in supported and name not in ignored:
            raise option_error(
                name,
                f"not an option of {devices} (supported: {', '.join(supported) or 'none'})",
                "unsupported_option",
            )


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def option_integer(options: Mapping[str, Any], name: str, high: int, low: int = 0) -> int | None:
    """`options[name]` as an integer in low..high, None when absent."""
    value = options.get(name)
    if value is None:
        return None
    if not is_int(value) or not low <= value <= high:
        raise option_error(name, f"expected an integer in {low}..{high}")
    return int(value)


def choice(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"expected one of {', '.join(map(repr, allowed))}"

    return check


def flag(optional: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or (optional and value is None):
            return None
        return "expected true or false" + (" (or null)" if optional else "")

    return check


def checked(options: Mapping[str, Any], name: str, check: Check) -> Any:
    """`options[name]` when `check` accepts it (None when absent)."""
    value = options.get(name)
    if value is not None:
        problem = check(value)
        if problem is not None:
            raise option_error(name, problem)
    return value


def only_run(run_type: str, devices: str, instead: str) -> None:
    """Refuses a StatevectorRun on devices that only sample shots."""
    if run_type != "Run":
        raise ProviderError(
            "unsupported_option",
            f"run_type: {devices} only sample shots (Run), not {run_type}; {instead}",
            field="run_type",
        )
