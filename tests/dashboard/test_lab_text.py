"""What a person types into the Lab: parameter sets as CSV (or JSON), observables as lines of
Pauli terms (or JSON), and what a finished job gives back to run it again."""

from __future__ import annotations

import math

import pytest

from qorch.domain.errors import RequestError
from qorch.http.dashboard.charts import histogram_svg
from qorch.http.dashboard.lab_form import LabForm, credential_fields, form_field
from qorch.http.dashboard.lab_text import (
    observables_text,
    parameters_text,
    parse_observables,
    parse_parameters,
)
from qorch.http.dashboard.sweeps import varying


def test_csv_with_a_header_binds_columns_by_name_to_each_circuits_parameters():
    text = "theta, phi\n0.5, 1\n1.5, 2\n"
    assert parse_parameters(text, [["phi", "theta"], ["theta"], []]) == [
        [[1.0, 0.5], [2.0, 1.5]],
        [[0.5], [1.5]],
        [[]],
    ]
    assert parse_parameters("0.1\n0.2", [["theta"]]) == [[[0.1], [0.2]]]
    assert parse_parameters("  ", [["theta"]]) is None
    assert parse_parameters("[[0.3]]", [["theta"]]) == [[0.3]]  # JSON goes through as given


@pytest.mark.parametrize(
    ("text", "names", "says"),
    [
        ("theta\n0.1\nabc", [["theta"]], "row 3: 'abc' is not a number"),
        ("theta\n0.1, 2", [["theta"]], "row 2: 2 values, expected 1"),
        ("a\n0.1", [["theta"]], "no column for theta"),
        ("theta\nnan", [["theta"]], "finite"),
        ("[1, 2", [["theta"]], "not valid JSON"),
        ("theta,theta\n1,2", [["theta"]], "twice"),
    ],
)
def test_bad_parameter_text_is_refused_naming_the_row(text: str, names: list, says: str):
    with pytest.raises(RequestError) as refused:
        parse_parameters(text, names)
    assert refused.value.field == "parameters" and says in refused.value.message


def test_observables_are_lines_of_terms_for_every_chosen_circuit():
    text = "0.5*ZZ + 0.5 XX\n-ZI - 2.5e-1*IY\n\nIZ"
    one = [
        [["ZZ", "XX"], [0.5, 0.5]],
        [["ZI", "IY"], [-1.0, -0.25]],
        [["IZ"], [1.0]],
    ]
    assert parse_observables(text, 2) == [one, one]
    assert observables_text([one, one]) == "0.5*ZZ + 0.5*XX\n-ZI - 0.25*IY\nIZ"
    assert parse_observables(observables_text([one]), 1) == [one]
    for bad, says in (("ZZ XX", "join terms"), ("0.5*ZQ", "cannot read"), ("[", "JSON")):
        with pytest.raises(RequestError) as refused:
            parse_observables(bad, 1)
        assert refused.value.field == "observables" and says in refused.value.message


def test_a_jobs_inputs_come_back_as_text_that_reads_the_same():
    sets = [[0.1 * k, math.pi / 7] for k in range(3)]
    text = parameters_text([sets, sets], [["a", "b"], ["a", "b"]])
    assert text.splitlines()[0] == "a,b"
    assert parse_parameters(text, [["a", "b"], ["a", "b"]]) == [sets, sets]
    mixed = parameters_text([sets, [[1.0]]], [["a", "b"], ["c"]])
    assert mixed.startswith("[")  # different names: JSON, as it was recorded
    assert varying(sets) == [0]


def test_the_options_field_refuses_credentials_and_never_shows_them_again():
    form = LabForm("exp", ["c"], options='{"ionq_api_key": "sekrit", "seed_simulator": 1}')
    with pytest.raises(RequestError) as refused:
        form.request_body([[]], {}, dry_run=False)
    assert refused.value.field == "options" and "credential" in refused.value.message
    assert "sekrit" not in repr(form.shown())
    body = LabForm("exp", ["c"], options='{"seed_simulator": 1}').request_body(
        [[]], {"ionq_api_key": "typed"}, dry_run=False
    )
    assert body["options"] == {"seed_simulator": 1, "ionq_api_key": "typed"}
    dry = LabForm("exp", ["c"]).request_body([[]], {"ionq_api_key": "typed"}, dry_run=True)
    assert dry["options"] == {} and dry["dry_run"] is True  # an estimate sends none
    assert form_field("options.ionq_api_key") == "credentials"
    assert form_field("observables[0][1]") == "observables"
    assert form_field("circuits[0]") == "circuits"


def test_credential_fields_come_from_the_catalogue(server):
    devices = server.app.state.service.catalogue.list()
    fields = credential_fields(devices)
    assert fields["ionq"] == ["ionq_api_key"]
    assert fields["braket"][:2] == ["aws_access_key_id", "aws_secret_access_key"]
    assert "aws_session_token" in fields["braket"]
    assert "local" not in fields


def test_a_wide_distribution_shows_its_top_outcomes_and_an_other_bar():
    distribution = {format(k, "012b"): (k + 1) / (4096 * 4097 / 2) for k in range(4096)}
    svg = str(histogram_svg(distribution, top=8))
    shown = [format(k, "012b") for k in range(4088, 4096)]
    assert [f'data-outcome="{o}"' in svg for o in shown] == [True] * 8
    assert svg.count('class="bar"') == 8 and svg.count('class="bar other"') == 1
    other = svg.split('class="bar other"')[1].split('data-value="')[1].split('"')[0]
    assert float(other) == pytest.approx(1 - sum(distribution[o] for o in shown))
    assert "The 8 most likely of 4096 outcomes" in svg
