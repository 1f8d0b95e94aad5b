"""Headless Debian chromium driven by Playwright (never `playwright install`: no downloads)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """Debian's chromium; skips locally when it is missing, fails under CI=true."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = None if found else "Debian's chromium is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "playwright is not installed (pip install -e '.[dev]')"
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(missing)
        pytest.skip(missing)
    assert found is not None
    return found


@contextmanager
def launched_chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(browser: Any, base_url: str, key: str) -> Any:
    """A fresh browser context (its own cookies), signed in; answers its page."""
    page = browser.new_context(base_url=base_url).new_page()
    page.set_default_timeout(15_000)
    page.goto("/")
    page.fill("#api_key", key)
    page.click("#sign-in")
    page.wait_for_url("**/dashboard/jobs")
    return page
