"""Reads the log's events for the views: the events the application's mapper reads, faster.

A replay spends as long reading events as applying them, and most of the reading is the JSON
transcoder's hook and the UUIDs it parses. `EventReader.to_domain_event(stored)` answers the
event the mapper answers (same class, same values, same upcasts): it decodes the state with a hook
that looks each type tag up once and builds a UUID from its 32 hex digits directly, and keeps
the text of each timestamp it reads for the views to write (`iso_text`). The mapper itself reads
what this does not expect (a cipher or a compressor, a transcoder that is not the library's JSON
one, a type tag it does not know) and any event this fails to read, so an unreadable event fails
with the mapper's own error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any, cast

from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

from qorch.adapters.log_follower import uuid_from_hex

Kind = tuple[type, int]
"""An event class and its class version."""


class EventReader:
    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.fast = (
            isinstance(transcoder, JSONTranscoder) and not mapper.cipher and not mapper.compressor
        )
        if not self.fast:
            return
        assert isinstance(transcoder, JSONTranscoder)
        decoders: dict[str, Callable[[Any], Any]] = {}
        for name, transcoding in transcoder.names.items():
            decoders[name] = FAST.get(type(transcoding), transcoding.decode)

        def hook(obj: dict[str, Any]) -> Any:
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return decoders[obj["_type_"]](obj["_data_"])  # unknown: KeyError, the mapper's
            return obj

        # The decoder's scanner itself: `decode` wraps it in two calls and two regular
        # expressions that look for the spaces the library never writes around a state.
        decoder = json.JSONDecoder(object_hook=hook)
        self.scan: Callable[[str, int], tuple[Any, int]] = decoder.scan_once  # type: ignore[attr-defined]
        self.kinds: dict[str, Kind] = {}

    def to_domain_event(self, stored: StoredEvent) -> Any:
        if self.fast:
            try:
                return self._read(stored)
            except Exception:  # noqa: S110 - read again by the mapper, which says what is wrong
                pass
        return self.mapper.to_domain_event(stored)

    def _read(self, stored: StoredEvent) -> Any:
        kind = self.kinds.get(stored.topic)
        if kind is None:
            cls = resolve_topic(stored.topic)
            kind = self.kinds[stored.topic] = (cls, getattr(cls, "class_version", 1))
        cls, class_version = kind
        text = stored.state.decode()
        state, end = self.scan(text, 0)
        if end != len(text) or type(state) is not dict:
            raise ValueError("an event's state is one JSON object")
        convert = find_id_convertor(cls, cast(Hashable, type(stored.originator_id)))
        state["originator_id"] = convert(stored.originator_id)
        state["originator_version"] = stored.originator_version
        version = state.pop("class_version", 1)
        while version < class_version:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
            version += 1
        event: Any = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event


def datetime_from_iso(data: str) -> datetime:
    if type(data) is not str:
        raise TypeError("not an ISO datetime")
    value = datetime.fromisoformat(data)
    if ISOFORMAT.fullmatch(data):
        if len(_TEXTS) >= 4096:
            _TEXTS.clear()
        _TEXTS[id(value)] = (value, data)
    return value


def iso_text(value: datetime) -> str:
    """`value.isoformat()`: formatting a timestamp costs four times reading it, and the views
    write the timestamp of every event, so the text a timestamp was read from is remembered
    (kept with it, so that an id used again by another object is not mistaken for it)."""
    known = _TEXTS.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    return value.isoformat()


ISOFORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.(?!000000)\d{6}\+00:00", re.ASCII)
"""Text that `isoformat` writes again, unchanged, for the UTC timestamp read from it."""
_TEXTS: dict[int, tuple[datetime, str]] = {}


FAST: dict[type, Callable[[Any], Any]] = {
    UUIDAsHex: uuid_from_hex,
    DatetimeAsISO: datetime_from_iso,
}
"""The library's transcodings this reads itself (as their `decode` does, with fewer checks)."""
