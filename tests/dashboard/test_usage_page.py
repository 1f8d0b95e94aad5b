"""The dashboard's usage page, served in-process: the month's spend as a chart and the same
numbers as `GET /usage`, nobody else's; every label escaped."""

from __future__ import annotations

import re
import time

from qorch.http.dashboard.usage import spend_chart
from tests.conftest import BELL_QASM2, Account
from tests.dashboard.test_dashboard_pages import browser


def test_the_usage_page_shows_the_numbers_get_usage_answers(alice: Account, bob: Account):
    alice.wait_for(alice.run(circuits_qasm=[BELL_QASM2], shots=250)["id"])
    month = time.strftime("%Y-%m", time.gmtime())

    page = browser(alice).get("/dashboard/usage")

    assert page.status_code == 200
    usage = alice.get("/usage").json()
    html = page.text
    assert f'<span id="usage-period">{month}</span>' in html
    [row] = usage["rows"]
    cells = re.search(
        rf'<tr data-day="{row["day"]}" data-provider="local"[^>]*>(.*?)</tr>', html, re.S
    )
    assert cells is not None
    shown = dict(re.findall(r'data-field="(\w+)" data-value="([^"]*)"', cells.group(1)))
    assert shown == {
        key: str(row[key]) for key in ("jobs", "tasks", "shots", "estimated_usd", "actual_usd")
    }
    assert 'class="spend-chart"' in html and f'data-day="{row["day"]}"' in html
    assert 'href="/dashboard/usage"' in html  # the navigation links to it

    assert 'data-provider="local"' not in browser(bob).get("/dashboard/usage").text


def test_a_period_that_is_not_a_month_gets_a_page_naming_period(alice: Account):
    page = browser(alice).get("/dashboard/usage", params={"period": "<b>2026-13</b>"})

    assert page.status_code == 422
    assert "period: must be a month as YYYY-MM" in page.text
    assert "<b>2026-13</b>" not in page.text and "&lt;b&gt;2026-13&lt;/b&gt;" in page.text


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(alice: Account):
    answer = alice.client.get("/dashboard/usage", follow_redirects=False)
    assert answer.status_code in (302, 303, 307)
    assert answer.headers["location"].endswith("/dashboard/sign-in")


def test_the_chart_escapes_every_label():
    hostile = '<script>alert("x")</script>'
    report = {
        "period": "2026-11",
        "from": "2026-11-01",
        "to": "2026-11-30",
        "rows": [{"day": "2026-11-03", "provider": hostile, "actual_usd": 2.0}],
    }

    svg = str(spend_chart(report, {hostile: "#000000"}))

    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="day"') == 30
    assert 'data-usd="2.0"' in svg
