"""The views read the log with their own `EventReader`: every event it reads is the one the
application's mapper reads, and what the mapper cannot read fails the same way."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from qorch.adapters.log_follower import notifications_after, uuid_from_hex
from qorch.bootstrap import open_application
from qorch.domain.application import Qorch
from qorch.projections.reading import EventReader
from qorch.settings import Settings
from tests.domain.test_job_log_compatibility import old_log
from tests.projections.test_batched_views import a_busy_log


def typed(value: Any) -> Any:
    """The value with the type of everything in it, so that equal means read alike."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return (type(value), [typed(item) for item in value])
    return (type(value), value)


def read_alike(mapper: Any, records: list[StoredEvent]) -> None:
    reader = EventReader(mapper)
    for record in records:
        expected, read = mapper.to_domain_event(record), reader.to_domain_event(record)
        assert type(read) is type(expected)
        assert typed(vars(read)) == typed(vars(expected))


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
        assert [typed(vars(n)) for n in read] == [typed(vars(n)) for n in expected]
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
