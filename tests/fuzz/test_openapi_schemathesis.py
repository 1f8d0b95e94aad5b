"""Schemathesis against /openapi.json of an in-process qorch: no request answers 5xx.

The document is fetched from a running app (its real lifespan: store, projector, executor), every
operation is fuzzed with schemathesis' positive (schema-conforming) and negative (schema-violating)
generation, sent with a valid API key through Starlette's TestClient, and checked with
schemathesis' `not_a_server_error`. Examples per operation and mode are bounded so that the whole
module stays within a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from starlette.testclient import TestClient

from qorch.http.app import create_app
from qorch.http.openapi import openapi_document
from tests.conftest import Account, new_account, settings_for
from tests.fuzz.test_recorded_json_properties import every_route_answers

MAX_EXAMPLES = 25
# Built from the same function the endpoint serves; test_document_is_what_the_app_serves checks it.
SCHEMA = schemathesis.openapi.from_dict(openapi_document())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = settings_for(Path(tmp_path_factory.mktemp("qorch-fuzz")))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def account(app_client: TestClient) -> Account:
    return new_account(app_client)


def test_document_is_what_the_app_serves(app_client: TestClient):
    answer = app_client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.json() == openapi_document()
    # schemathesis accepts the document: every operation loads without an InvalidSchema error.
    loaded = schemathesis.openapi.from_dict(answer.json()).get_all_operations()
    assert all(result.ok() for result in loaded)  # type: ignore[union-attr]
    assert len(OPERATIONS) >= 10


def send(client: TestClient, case: Any, headers: dict[str, str]) -> Any:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers"),
        "params": kwargs.get("params"),
        "cookies": kwargs.get("cookies") or None,
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content"] = data if isinstance(data, bytes | str) else str(data)
    return client.request(**request)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_server_errors(app_client: TestClient, account: Account, operation: Any, mode: Any):
    strategy = operation.as_strategy(generation_mode=mode)
    # Half the examples aim at the caller's own experiment, so that reads and submits get past
    # the "unknown id" answer and into the deeper code paths.
    experiment_id = st.sampled_from([account.experiment_id, None])

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, experiment=experiment_id)
    def check(case: Any, experiment: str | None) -> None:
        if experiment is not None:
            if case.path_parameters and "experiment_id" in case.path_parameters:
                case.path_parameters["experiment_id"] = experiment
            if isinstance(case.body, dict) and "experiment_id" in case.body:
                case.body["experiment_id"] = experiment
        response = send(app_client, case, account.headers)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
            f" -> {response.status_code}: {response.text[:500]}"
        )
        case.validate_response(response, checks=[not_a_server_error])

    check()


def test_the_server_starts_again_on_the_fuzzed_data(app_client: TestClient, account: Account):
    """Runs after the fuzzing above (file order): whatever it recorded is read back by a new
    server on the same data, and every route of the user still answers."""
    settings_ = app_client.app.state.service.settings  # type: ignore[attr-defined]
    with TestClient(create_app(settings_), raise_server_exceptions=False) as again:
        assert again.get("/health").json()["status"] == "ok"
        every_route_answers(Account(again, account.user_id, account.key, account.experiment_id))
