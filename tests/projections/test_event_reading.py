"""The views read the log with their own `EventReader`: every event it reads is the one the
application's mapper reads, and what the mapper cannot read fails the same way."""

from __future__ import annotations

import copy
import math
import os
import random
import struct
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import (
    JSONTranscoder,
    MapperDeserialisationError,
    StoredEvent,
    Transcoding,
)

from qorch.adapters.log_follower import notifications_after, uuid_from_hex
from qorch.bootstrap import open_application
from qorch.domain.application import Qorch
from qorch.projections.reading import EventReader, iso_text
from qorch.settings import Settings
from tests.domain.test_job_log_compatibility import old_log
from tests.projections.test_batched_views import a_busy_log


def typed(value: Any) -> Any:
    """The value with the type of everything in it, so that equal means read alike (scalars by
    their repr: a float to the last bit, NaN as NaN, a timestamp with its time zone)."""
    if isinstance(value, dict):
        return (type(value), [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list | tuple):
        return (type(value), [typed(item) for item in value])
    return (type(value), repr(value))


def read_alike(mapper: Any, records: list[StoredEvent], *, alone: bool = False) -> None:
    """Every record reads as the mapper reads it; `alone`: without the mapper's help."""
    own = mapper
    if alone:
        own = copy.copy(mapper)
        own.to_domain_event = not_read
    reader = EventReader(own)
    for record in records:
        expected = outcome(mapper.to_domain_event, record)
        assert outcome(reader.to_domain_event, record) == expected, record


def not_read(record: StoredEvent) -> Any:
    raise AssertionError("read by the mapper")


def outcome(read: Callable[[StoredEvent], Any], record: StoredEvent) -> Any:
    """The class and values of the event read, or the error that reading it raised."""
    try:
        event = read(record)
    except Exception as error:
        return (type(error), str(error))
    return (type(event), typed(vars(event)))


def test_every_event_of_a_busy_log_reads_as_the_mapper_reads_it(app: Qorch):
    a_busy_log(app)
    records = app.recorder.select_notifications(start=1, limit=10_000)

    assert EventReader(app.mapper).fast
    read_alike(app.mapper, list(records))


def test_the_views_read_pages_of_the_log_as_the_recorder_answers_them(app: Qorch):
    a_busy_log(app)
    head = app.recorder.max_notification_id()
    assert head is not None

    for position, limit in ((0, 10_000), (0, 7), (head - 3, 7), (head, 7)):
        read = notifications_after(app, position, limit)
        expected = app.recorder.select_notifications(position, limit, inclusive_of_start=False)
        assert [dict(typed(vars(n))[1]) for n in read] == [
            dict(typed(vars(n))[1]) for n in expected
        ]
        assert read == expected


def test_events_of_earlier_class_versions_are_upcast_as_the_mapper_upcasts_them():
    read_alike(Application[UUID]().mapper, old_log())


def test_what_the_mapper_cannot_read_fails_with_the_mappers_error(app: Qorch):
    reader = EventReader(app.mapper)
    for state in (
        b'{"name":{"_type_":"nope","_data_":1}}',  # a type tag nobody registered
        b'{"user_id":{"_type_":"uuid_hex","_data_":"-0000000000000000000000000000001"}}',
        b'{"name": ',
    ):
        record = StoredEvent(
            UUID(int=1), 2, "qorch.domain.experiment:Experiment.Updated", state=state
        )
        with pytest.raises(MapperDeserialisationError) as read:
            reader.to_domain_event(record)
        with pytest.raises(MapperDeserialisationError) as expected:
            app.mapper.to_domain_event(record)
        assert str(read.value) == str(expected.value)


def test_a_compressed_log_is_read_by_the_mapper(tmp_path: Path):
    os.environ["COMPRESSOR_TOPIC"] = "eventsourcing.compressor:ZlibCompressor"
    try:
        compressed = open_application(Settings(data_dir=tmp_path / "data"))
    finally:
        del os.environ["COMPRESSOR_TOPIC"]
    try:
        a_busy_log(compressed)
        assert compressed.mapper.compressor is not None
        assert not EventReader(compressed.mapper).fast
        records = compressed.recorder.select_notifications(start=1, limit=10_000)
        read_alike(compressed.mapper, list(records))
    finally:
        compressed.close()


def test_a_uuid_read_from_its_hex_digits_is_the_uuid():
    uuid = UUID("0b7a3a52-4a44-4f36-9d4b-3c1f6f0c2a11")

    read = uuid_from_hex(uuid.hex)

    assert (read, hash(read), str(read), read.is_safe) == (
        uuid,
        hash(uuid),
        str(uuid),
        uuid.is_safe,
    )
    for wrong in ("0b7a3a52", "-" + uuid.hex[1:], uuid.hex[:-1] + "g", 42):
        with pytest.raises(ValueError):
            uuid_from_hex(wrong)  # type: ignore[arg-type]


TOPIC = "qorch.domain.experiment:Experiment.Updated"


def records(*states: bytes) -> list[StoredEvent]:
    return [StoredEvent(UUID(int=1), 2, TOPIC, state) for state in states]


class Pair:
    """A value the library writes as a tagged object that holds other tagged objects."""

    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second

    def __repr__(self) -> str:
        return f"Pair({self.first!r}, {self.second!r})"


class PairAsList(Transcoding):
    type = Pair
    name = "pair"

    def encode(self, obj: Pair) -> list[Any]:
        return [obj.first, obj.second]

    def decode(self, data: list[Any]) -> Pair:
        return Pair(*data)


def test_what_the_librarys_encoder_writes_reads_as_the_mapper_reads_it():
    mapper = Application[UUID]().mapper
    assert isinstance(mapper.transcoder, JSONTranscoder)
    mapper.transcoder.register(PairAsList())
    rng = random.Random(7)
    floats = [float.fromhex(x) for x in ("0x1p-1074", "0x1.fffffffffffffp+1023", "0x1p-1022")]
    floats += [math.nan, math.inf, -math.inf, 0.0, -0.0, 0.1, 1 / 3, 1e22, 1e23, 2.0**53 + 2]
    floats += [rng.random() * 10 ** rng.randint(-300, 300) for _ in range(3000)]
    floats += struct.unpack("<3000d", rng.randbytes(3000 * 8))  # any bits: NaNs, subnormals
    ints = [0, -1, 2**63, -(2**64), 10**4000, -(10**4299)]
    ints += [rng.getrandbits(rng.randint(1, 300)) for _ in range(300)]
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    uuid, now = UUID(int=rng.getrandbits(128)), datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    times = [now, now.replace(microsecond=0), now.replace(tzinfo=None)]
    times += [now.astimezone(timezone(timedelta(hours=5, minutes=30))), now.replace(year=9)]
    states = [
        {"floats": floats, "ints": ints, "text": text, text[:5000]: text[-5000:]},
        {"timestamp": now, "ids": [uuid, [uuid, {"id": uuid}]], "times": times},
        {"amount": Decimal("-1.50"), "pairs": [Pair(uuid, {"at": now}), Pair(Pair(1, 2), [])]},
        {"empty": {}, "nothing": [], "nested": [[[{"a": {"b": [None, True, False]}}]]]},
        {"like_a_tag": {"_type_": "uuid_hex", "_data_": uuid.hex, "more": 1}},
        {"like_a_tag": {"_type_": uuid.hex}, "other": {"_data_": "x", "y": 2}},
    ]
    read_alike(mapper, records(*map(mapper.transcoder.encode, states)), alone=True)


def test_where_the_parser_would_read_otherwise_the_mapper_reads_the_event():
    mapper = Application[UUID]().mapper
    hex_digits = UUID(int=5).hex
    deep = b"[" * 300 + b"]" * 300
    states = [
        b'{"name":"\\ud800","other":"\\udc00x\\ud83d\\ude00"}',  # lone surrogates, escaped
        b'{"deep":' + deep + b"}",
        b' \n\t{"name":"spaces around"}\r\n ',
        b'{"name":1,"name":{"_type_":"uuid_hex","_data_":"' + hex_digits.encode() + b'"}}',
        b'{"id":{"\\u005ftype_":"uuid_hex","_dat\\u0061_":"' + hex_digits.encode() + b'"}}',
        b'{"_type_":"uuid_hex","_data_":"' + hex_digits.encode() + b'"}',  # the state, tagged
        b'{"id":{"_type_":"uuid_hex","_data_":["' + hex_digits.encode() + b'"]}}',
        b'{"id":{"_type_":"uuid_hex","_data_":"{' + hex_digits.encode() + b'}"}}',
        b'{"at":{"_type_":"datetime_iso","_data_":"2026-01-02 03:04:05.000000Z"}}',
        b'{"at":{"_type_":"datetime_iso","_data_":7}}',
        b'{"id":{"_type_":1,"_data_":"' + hex_digits.encode() + b'"}}',
        b'{"name":"a"} {"name":"b"}',
        b"[1]",
        b'{"name":NaN,"n":-Infinity}',
        b'{"name":"\xff"}',
    ]
    read_alike(mapper, records(*states))
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        read_alike(mapper, records(b'{"big":' + b"7" * 5000 + b"}"))
    finally:
        sys.set_int_max_str_digits(limit)
    text = StoredEvent(UUID(int=1), 2, TOPIC, '{"name":"text"}')  # type: ignore[arg-type]
    read_alike(mapper, [text])


def test_the_text_of_the_timestamps_read_last_is_given_back_as_it_was_read():
    mapper = Application[UUID]().mapper
    reader = EventReader(mapper)
    start = datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC)
    times = [start + timedelta(seconds=n, microseconds=n) for n in range(1000)]
    events = [
        reader.to_domain_event(record)
        for record in records(*(mapper.transcoder.encode({"timestamp": time}) for time in times))
    ]

    for event in events[-256:]:
        # remembered, not written again: the same text each time
        assert iso_text(event.timestamp) is iso_text(event.timestamp)
    for event, time in zip(events, times, strict=True):
        assert iso_text(event.timestamp) == time.isoformat()
    assert iso_text(start) == start.isoformat()
    for other in ("2026-01-02 03:04:05.000001+00:00", "2026-01-02T03:04:05.000000+00:00"):
        state = b'{"timestamp":{"_type_":"datetime_iso","_data_":"%s"}}' % other.encode()
        timestamp = reader.to_domain_event(records(state)[0]).timestamp
        assert iso_text(timestamp) == timestamp.isoformat() != other  # written as isoformat writes
