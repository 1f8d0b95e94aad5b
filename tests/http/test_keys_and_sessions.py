"""Signing out ends a dashboard session on the server, in every API process on the same data;
an API key can be rotated (the user and their objects stay) or revoked, and a revoked or
replaced key gets 401 everywhere: REST, the haiqu-sdk routes, the dashboard."""

from __future__ import annotations

import re
from collections.abc import Iterator
from uuid import UUID

import pytest
from starlette.testclient import TestClient

from qorch.domain.application import Qorch
from qorch.http.app import create_app
from tests.conftest import Account, settings_for


def browser(app: object, key: str) -> TestClient:
    client = TestClient(app)  # type: ignore[arg-type]
    answer = client.post("/dashboard/sign-in", data={"api_key": key})
    assert answer.status_code == 200 and answer.url.path == "/dashboard/jobs", answer.text
    return client


def signed_in(client: TestClient) -> bool:
    answer = client.get("/dashboard/jobs", follow_redirects=False)
    return answer.status_code == 200


def with_cookie_of(client: TestClient, app: object) -> TestClient:
    """Another browser holding a copy of the session cookie (as a thief would)."""
    copy = TestClient(app)  # type: ignore[arg-type]
    copy.cookies.set("qorch_session", client.cookies["qorch_session"])
    return copy


def sign_out(client: TestClient) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/jobs").text)
    assert token
    answer = client.post("/dashboard/sign-out", data={"csrf_token": token[1]})
    assert answer.status_code == 200 and answer.url.path == "/dashboard/sign-in"


def app_of(account: Account) -> Qorch:
    return account.client.app.state.service.app  # type: ignore[attr-defined]


def test_sign_out_ends_the_session_even_for_a_copy_of_its_cookie(alice: Account):
    client = browser(alice.client.app, alice.key)
    stolen = with_cookie_of(client, alice.client.app)
    assert signed_in(stolen)
    sign_out(client)
    assert not signed_in(stolen)
    assert stolen.get("/dashboard/events").status_code == 401
    assert not signed_in(client)


def test_sign_out_ends_only_that_session(alice: Account):
    laptop, phone = browser(alice.client.app, alice.key), browser(alice.client.app, alice.key)
    sign_out(laptop)
    assert signed_in(phone)


@pytest.fixture
def second_process(server: TestClient) -> Iterator[TestClient]:
    """A second API process (no worker) on the same data directory."""
    settings = settings_for(server.app.state.service.settings.data_dir)  # type: ignore[attr-defined]
    with TestClient(create_app(settings.with_overrides(run_worker=False))) as client:
        yield client


def test_a_sign_out_in_one_api_process_ends_the_session_in_another(
    alice: Account, second_process: TestClient
):
    client = browser(alice.client.app, alice.key)
    elsewhere = with_cookie_of(client, second_process.app)
    assert signed_in(elsewhere)
    sign_out(client)
    assert not signed_in(elsewhere)


def test_a_rotated_key_keeps_the_user_and_their_objects_and_the_old_key_stops(alice: Account):
    app = app_of(alice)
    session = browser(alice.client.app, alice.key)
    new_key = app.rotate_key(UUID(alice.user_id))
    assert new_key != alice.key
    old = alice.client.get("/experiments", headers={"Authorization": alice.key})
    assert old.status_code == 401
    assert old.json()["error"]["code"] == "unauthorized"
    assert alice.client.get("/user", headers={"Authorization": alice.key}).status_code == 401
    answer = alice.client.get("/experiments", headers={"Authorization": new_key})
    assert answer.status_code == 200
    assert alice.experiment_id in [e["id"] for e in answer.json()["experiments"]]
    user = app.authenticate(new_key)
    assert user is not None and str(user.id) == alice.user_id
    assert app.authenticate(alice.key) is None
    assert not signed_in(session)  # a session signed in with the replaced key ends too
    assert signed_in(browser(alice.client.app, new_key))
    newer = app.rotate_key(UUID(alice.user_id))
    assert app.authenticate(new_key) is None
    assert app.authenticate(newer) is not None


def test_a_revoked_key_gets_401_everywhere(alice: Account):
    app = app_of(alice)
    session = browser(alice.client.app, alice.key)
    app.revoke_key(UUID(alice.user_id))
    for method, path in [
        ("GET", "/experiments"),
        ("GET", "/jobs"),
        ("GET", "/user"),  # a haiqu-sdk route
        ("POST", "/ai/list_qpus_and_simulators"),
    ]:
        answer = alice.client.request(method, path, headers={"Authorization": alice.key})
        assert answer.status_code == 401, (path, answer.text)
    query = alice.client.get("/experiments", params={"HAIQU_API_KEY": alice.key})
    assert query.status_code == 401
    assert not signed_in(session)
    refused = TestClient(alice.client.app).post("/dashboard/sign-in", data={"api_key": alice.key})
    assert refused.status_code == 401
    # a new key after a revocation works again, for the same user
    key = app.rotate_key(UUID(alice.user_id))
    answer = alice.client.get(f"/experiments/{alice.experiment_id}", headers={"Authorization": key})
    assert answer.status_code == 200


def test_a_revoked_user_stays_revoked(alice: Account):
    app = app_of(alice)
    app.revoke_key(UUID(alice.user_id))
    app.revoke_key(UUID(alice.user_id))  # harmless to repeat
    assert app.authenticate(alice.key) is None


def test_users_are_found_by_name_for_the_command_line(alice: Account):
    app = app_of(alice)
    user = app.authenticate(alice.key)
    assert user is not None
    assert [u.id for u in app.users_named(user.name)] == [user.id]
    assert app.users_named("no such user " + alice.user_id) == []
