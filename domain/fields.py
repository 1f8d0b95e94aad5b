"""Rules for the free-text fields a user records (names, descriptions, tags, keys), and the one
way free-form JSON is recorded: as an opaque JSON text, never as objects the event store's
transcoder would walk (it reads any object shaped `{"_type_", "_data_"}` as a type tag).

Checked before an event is triggered, never inside event methods: an event already in the log
must replay even after a limit is lowered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json, to_json

from qorch.domain.errors import RequestError


@dataclass(frozen=True)
class TextLimits:
    max_name: int = 200
    max_description: int = 10_000
    max_tags: int = 50
    max_tag: int = 64
    max_key: int = 256
    """Client-chosen keys: idempotency keys, the haiqu-sdk's circuit hashes."""
    max_options: int = 64 * 1024
    """Bytes of a run's backend options (and of a haiqu-sdk program) as JSON."""


def checked_text(field: str, value: Any, max_length: int, *, required: bool = False) -> str:
    """A string of at most `max_length` characters, without NUL (SQLite and PostgreSQL differ
    on it); `required` refuses an empty or blank one."""
    if not isinstance(value, str):
        raise RequestError(field, "must be a string")
    if len(value) > max_length:
        raise RequestError(field, f"must be at most {max_length} characters (got {len(value)})")
    if "\x00" in value:
        raise RequestError(field, "must not contain NUL characters")
    if required and not value.strip():
        raise RequestError(field, "must not be empty")
    return value


def checked_tags(field: str, tags: Iterable[Any], limits: TextLimits) -> list[str]:
    checked = list(tags) if not isinstance(tags, str | bytes | dict) else None
    if checked is None:
        raise RequestError(field, "must be a list of strings")
    if len(checked) > limits.max_tags:
        raise RequestError(field, f"at most {limits.max_tags} tags")
    return [checked_text(f"{field}[{i}]", tag, limits.max_tag) for i, tag in enumerate(checked)]


def opaque_json(value: Any) -> str:
    """Free-form JSON as it is recorded: one text the store never looks into."""
    return to_json(value).decode()


def from_opaque_json(text: str) -> Any:
    return from_json(text)


def checked_json(field: str, value: Any, limits: TextLimits) -> str:
    """Free-form JSON (a run's backend options, a haiqu-sdk program) as recorded, within a size
    limit."""
    text = opaque_json(value)
    if len(text) > limits.max_options:
        raise RequestError(field, f"must be at most {limits.max_options} bytes of JSON")
    return text
