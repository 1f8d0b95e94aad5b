"""A user opens the usage page in a real headless chromium, against a real `qorch serve` whose
IonQ client talks to the loopback fake: the chart and the tables show what `GET /usage` and
the MCP tool `get_usage` answer. Screenshots land in tests/artifacts/dashboard/."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.browsers import launched_chromium, screenshot, sign_in
from tests.e2e.servers import Server, free_port
from tests.e2e.test_actual_costs import mcp_usage
from tests.e2e.test_providers import IONQ, IONQ_KEY, Client
from tests.fakes.ionq_api import FakeIonQ

pytestmark = pytest.mark.slow
AMOUNTS = ("jobs", "tasks", "shots", "estimated_usd", "actual_usd")


@pytest.fixture
def browser() -> Iterator[Any]:
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with FakeIonQ(IONQ_KEY) as ionq_api:
        ionq_api.report_cost(4.5)
        env = {"QORCH_IONQ_API_URL": ionq_api.url, "QORCH_PROVIDER_POLL_INTERVAL": "0.1"}
        server = Server(tmp_path / "data", free_port(), env=env)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def number(text: str | None) -> float | None:
    return None if text in (None, "None") else float(text)  # type: ignore[arg-type]


def cells(row: Any) -> dict[str, float | None]:
    return {
        field: number(row.locator(f'td[data-field="{field}"]').get_attribute("data-value"))
        for field in AMOUNTS
    }


def test_the_usage_page_charts_and_lists_what_the_api_and_mcp_answer(server: Server, browser: Any):
    budget = ["budget", "set", "local", "--usd", "100", "--period", "month", "--provider", "ionq"]
    subprocess.run(
        [sys.executable, "-m", "qorch", *budget, "--data-dir", str(server.data_dir)], check=True
    )
    client = Client(server)
    experiment = client.experiment()
    for device, options in (("ionq_aria_1", IONQ), ("ionq_aria_1", IONQ), ("aer_simulator", {})):
        job = client.final(client.run(experiment, device, options=options, shots=200))
        assert job["status"] == "Done", job.get("error")
    period = time.strftime("%Y-%m", time.gmtime())
    api = client.call("GET", "/usage", params={"period": period}).json()
    with ThreadPoolExecutor(1) as thread:  # Playwright's event loop holds this thread
        by_mcp = thread.submit(mcp_usage, server, period).result()
    by_mcp.pop("context")
    assert by_mcp == api

    page = sign_in(browser, server.url, server.key)
    page.click('header nav a[href="/dashboard/usage"]')
    page.wait_for_selector("svg.spend-chart")
    screenshot(page, "20-usage")

    assert page.inner_text("#usage-period") == period
    for row in api["rows"]:
        shown = page.locator(
            f'#usage-rows tr[data-day="{row["day"]}"][data-device="{row["device_id"]}"]'
        )
        assert shown.get_attribute("data-provider") == row["provider"]
        assert cells(shown) == {field: row[field] for field in AMOUNTS}
    assert page.locator("#usage-rows tbody tr").count() == len(api["rows"])
    for row in api["providers"]:
        shown = page.locator(f'#providers-table tr[data-provider="{row["provider"]}"]')
        assert cells(shown) == {field: row[field] for field in AMOUNTS}
    assert cells(page.locator("#usage-totals")) == {f: api["totals"][f] for f in AMOUNTS}
    assert api["totals"]["actual_usd"] == 9.0 and api["totals"]["jobs"] == 3
    [ionq] = [row for row in api["providers"] if row["provider"] == "ionq"]
    assert ionq["estimated_usd"] > 0 and ionq["budget_left_usd"] == 91.0
    left = page.locator(
        '#providers-table tr[data-provider="ionq"] td[data-field="budget_left_usd"]'
    )
    assert number(left.get_attribute("data-value")) == 91.0
    [limit] = api["budget"]
    shown = page.locator('#budget-table tr[data-provider="ionq"] td[data-field="left_usd"]')
    assert number(shown.get_attribute("data-value")) == limit["left_usd"] == 91.0

    # The chart: one stack per day of the month, the day's spend split by provider.
    days = page.locator("svg.spend-chart g.day")
    assert days.count() == int(api["to"][8:])
    today = page.locator(f'svg.spend-chart g.day[data-day="{api["rows"][0]["day"]}"]')
    spend = {
        bar.get_attribute("data-provider"): float(bar.get_attribute("data-usd") or "nan")
        for bar in today.locator("rect.spend").all()
    }
    assert spend == {"ionq": 9.0, "local": 0.0}
    assert float(today.get_attribute("data-usd") or "nan") == 9.0
    ionq_bar = today.locator('rect.spend[data-provider="ionq"]')
    assert float(ionq_bar.get_attribute("height") or 0) > 100  # the tallest day fills the chart

    page.fill("#period", "2001-02")
    page.click("#show-usage")
    page.wait_for_selector("#usage-period:text('2001-02')")
    assert page.locator("#usage-rows tbody tr").count() == 0
    assert page.locator("svg.spend-chart g.day").count() == 28
