"""What the command line prints and logs never shows an API key."""

from __future__ import annotations

import logging

import pytest

from qorch.cli import RedactKeys, redact


@pytest.mark.parametrize(
    "path",
    [
        "/jobs?HAIQU_API_KEY=qk_abc-DEF_123&limit=5",
        "/jobs?haiqu_api_key=qk_abc-DEF_123",
        "/jobs?HAIQU%5FAPI%5FKEY=qk_abc-DEF_123",
        "/jobs?other=qk_abc-DEF_123",
    ],
)
def test_keys_in_query_strings_are_redacted(path: str):
    assert "abc-DEF_123" not in redact(path)
    assert "[redacted]" in redact(path)


def test_the_access_log_filter_redacts_the_arguments_it_formats():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/jobs?HAIQU_API_KEY=qk_secret", "1.1", 200),
        None,
    )
    assert RedactKeys().filter(record)
    assert "qk_secret" not in record.getMessage()
