"""Logs recorded when SubmitKey, EndedSession and ApiKey wrote their __init__ out still replay,
and their events are stored again byte for byte now that eventsourcing builds __init__."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from qorch.domain.submission import SubmitKey
from qorch.domain.user import ApiKey, EndedSession

USER = UUID("5d0c6a3e-8f5e-4a53-9a51-6f1c3b9d2e10")
JOB = UUID("0b7a3a52-4a44-4f36-9d4b-3c1f6f0c2a11")
LOG = Path(__file__).with_name("small_aggregate_events.txt")


def old_log() -> list[StoredEvent]:
    records = []
    for line in LOG.read_text().splitlines():
        if line.startswith("#"):
            continue
        originator_id, topic, version, state = line.split(" ", 3)
        records.append(StoredEvent(UUID(originator_id), int(version), topic, state.encode()))
    return records


def test_old_records_replay_to_the_same_aggregates():
    app: Application[UUID] = Application()
    app.recorder.insert_events(old_log())

    key: SubmitKey = app.repository.get(SubmitKey.create_id(USER, "k-1"))
    session: EndedSession = app.repository.get(EndedSession.create_id("s-1"))
    api_key: ApiKey = app.repository.get(ApiKey.create_id("h-1"))

    assert (key.user_id, key.key, key.job_id, key.fingerprint, key.used_at, key.version) == (
        USER,
        "k-1",
        USER,
        "f2",
        1700000100.0,
        2,
    )
    assert (session.user_id, session.session_id) == (USER, "s-1")
    assert (api_key.key_hash, api_key.user_id) == ("h-1", USER)


def test_every_old_event_decodes_to_its_class_and_is_stored_again_byte_for_byte():
    app: Application[UUID] = Application()
    kinds = set()

    for record in old_log():
        event = app.mapper.to_domain_event(record)
        assert isinstance(event, (SubmitKey.Event, EndedSession.Event, ApiKey.Event))
        kinds.add(type(event).__qualname__)
        assert app.mapper.to_stored_event(event) == record

    assert kinds == {"SubmitKey.Used", "SubmitKey.Reused", "EndedSession.Ended", "ApiKey.Issued"}


def test_new_aggregates_record_the_same_events_as_the_old_code():
    app: Application[UUID] = Application()
    key = SubmitKey(user_id=USER, key="k-1", job_id=JOB, fingerprint="f1", used_at=1700000000.5)
    key.reuse(job_id=USER, fingerprint="f2", used_at=1700000100.0)
    new = [
        *key.collect_events(),
        *EndedSession(user_id=USER, session_id="s-1").collect_events(),
        *ApiKey(key_hash="h-1", user_id=USER).collect_events(),
    ]

    for record, event in zip(old_log(), new, strict=True):
        again = app.mapper.to_stored_event(event)
        assert (again.originator_id, again.topic, again.originator_version) == (
            record.originator_id,
            record.topic,
            record.originator_version,
        )
        # Same fields in the same order; only the timestamp differs.
        assert list(app.mapper.to_domain_event(again).__dict__) == list(
            app.mapper.to_domain_event(record).__dict__
        )
