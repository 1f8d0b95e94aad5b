"""Reads the log's events for the views: the events the application's mapper reads, faster.

A replay spends as long reading events as applying them. `EventReader.to_domain_event(stored)`
answers the event the mapper answers (same class, same values of the same types, same upcasts):
it parses the state with pydantic-core's JSON parser (in half the time of the json module's
scanner), then converts the type-tagged objects the library's transcoder writes, as its hook
would, with each type tag looked up once, the UUIDs of recent hex digits built once and shared
(they are immutable), and the text of each timestamp kept for the views to write (`iso_text`).
The mapper itself reads what this does not expect (a cipher or a compressor, a transcoder that
is not the library's JSON one, a type tag it does not know) and any event this fails to read, so
an unreadable event fails with the mapper's own error.

The parser reads what the library's encoder writes as the json module reads it (the tests check
floats to the last bit, big integers, NaN and the infinities, every code point, escapes,
duplicate keys, whitespace around the state); where the two would differ it fails instead, and
the mapper reads the event: escaped lone surrogates, integers of over 4,300 digits, nesting over
200 deep.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
    find_id_convertor,
    pass_through_convertor,
)
from eventsourcing.utils import resolve_topic
from pydantic_core import from_json

from qorch.adapters.log_follower import uuid_from_hex

Kind = tuple[type, int, type, Callable[[Any], Any] | None]
"""An event class, its class version, and the type of the originator id last read with it and
the mapper's convertor for that type (None: the id as it is)."""

_new = object.__new__
_set = object.__setattr__


class EventReader:
    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.fast = (
            isinstance(transcoder, JSONTranscoder) and not mapper.cipher and not mapper.compressor
        )
        self.kinds: dict[str, Kind] = {}
        if not self.fast:
            return
        assert isinstance(transcoder, JSONTranscoder)
        decoders: dict[str, Callable[[Any], Any]] = {}
        for name, transcoding in transcoder.names.items():
            decoders[name] = FAST.get(type(transcoding), transcoding.decode)

        # The transcoder's hook, applied as the json module applies it: to every object, the
        # innermost first. Tagged objects that hold a string (most) are converted at once.
        def decoded(obj: dict[str, Any]) -> Any:
            if len(obj) == 2:
                data = obj.get("_data_")
                tag = obj.get("_type_")
                if type(data) is str and type(tag) is str:
                    return decoders[tag](data)
            convert(obj)
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return decoders[obj["_type_"]](obj["_data_"])  # unknown: KeyError, the mapper's
            return obj

        def convert(obj: dict[str, Any]) -> None:
            for key, value in obj.items():
                kind = type(value)
                if kind is dict:
                    if len(value) == 2:
                        data = value.get("_data_")
                        tag = value.get("_type_")
                        if type(data) is str and type(tag) is str:
                            obj[key] = decoders[tag](data)
                            continue
                    obj[key] = decoded(value)
                elif kind is list:
                    convert_items(value)

        def convert_items(items: list[Any]) -> None:
            for index, value in enumerate(items):
                kind = type(value)
                if kind is dict:
                    items[index] = decoded(value)
                elif kind is list:
                    convert_items(value)

        kinds = self.kinds
        read_by_mapper = mapper.to_domain_event

        def to_domain_event(stored: StoredEvent) -> Any:
            try:
                originator_id = stored.originator_id
                kind = kinds.get(stored.topic)
                if kind is None or kind[2] is not type(originator_id):
                    kind = self._kind(stored.topic, type(originator_id))
                cls, class_version, _, convert_id = kind
                data = stored.state
                if type(data) is not bytes:  # (text, which the parser reads and the mapper not)
                    raise TypeError("an event's state is bytes")
                state = from_json(data, cache_strings="keys")  # other strings aren't used again
                if type(state) is not dict:
                    raise ValueError("an event's state is one JSON object")
                convert(state)
                if len(state) == 2 and "_type_" in state and "_data_" in state:
                    raise ValueError("the state itself is a tagged value")
                if convert_id is not None:
                    originator_id = convert_id(originator_id)
                state["originator_id"] = originator_id
                state["originator_version"] = stored.originator_version
                version = state.pop("class_version", 1)
                while version < class_version:
                    getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
                    version += 1
                event: Any = _new(cls)
                _set(event, "__dict__", state)
                return event
            except Exception:  # noqa: S110 - read again by the mapper, which says what is wrong
                pass
            return read_by_mapper(stored)

        # (a function of the reader's own: replays call it for every event, and it then finds
        # what it uses without looking it up on the reader)
        self.to_domain_event = to_domain_event  # type: ignore[method-assign]

    def to_domain_event(self, stored: StoredEvent) -> Any:
        """The event the mapper reads from `stored` (read by the mapper itself, unless `fast`:
        then by the function that replaces this method)."""
        return self.mapper.to_domain_event(stored)

    def _kind(self, topic: str, id_type: type) -> Kind:
        cls = resolve_topic(topic)
        convert_id: Callable[[Any], Any] | None = find_id_convertor(cls, cast(Hashable, id_type))
        if convert_id is pass_through_convertor:
            convert_id = None
        kind = self.kinds[topic] = (cls, getattr(cls, "class_version", 1), id_type, convert_id)
        return kind


def uuid_from_known_hex(data: str) -> UUID:
    """`UUID(data)` for 32 hex digits: the one built when these digits were last read (a log
    names the same few users, experiments and circuits again and again)."""
    uuid = _UUIDS.get(data)
    if uuid is None:
        uuid = uuid_from_hex(data)
        if len(_UUIDS) >= 4096:
            _UUIDS.clear()
        _UUIDS[data] = uuid
    return uuid


_UUIDS: dict[str, UUID] = {}


def datetime_from_iso(data: str) -> datetime:
    value = _from_iso(data)  # not text: TypeError, as the library's decode
    if _round_trips(data):
        global _TEXTS, _OLD_TEXTS
        texts = _TEXTS
        if len(texts) >= 256:
            _OLD_TEXTS = texts
            texts = _TEXTS = {}
        texts[id(value)] = (value, data)
    return value


def iso_text(value: datetime) -> str:
    """`value.isoformat()`: formatting a timestamp costs four times reading it, and the views
    write the timestamp of every event, so the text a timestamp was read from is remembered
    (kept with it, so that an id used again by another object is not mistaken for it)."""
    known = _TEXTS.get(id(value)) or _OLD_TEXTS.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    return value.isoformat()


ISOFORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.(?!000000)\d{6}\+00:00", re.ASCII)
"""Text that `isoformat` writes again, unchanged, for the UTC timestamp read from it."""
_TEXTS: dict[int, tuple[datetime, str]] = {}
_OLD_TEXTS: dict[int, tuple[datetime, str]] = {}
_from_iso = datetime.fromisoformat
_round_trips = ISOFORMAT.fullmatch


FAST: dict[type, Callable[[Any], Any]] = {
    UUIDAsHex: uuid_from_known_hex,
    DatetimeAsISO: datetime_from_iso,
}
"""The library's transcodings this reads itself (as their `decode` does, with fewer checks)."""
