"""The Jinja2 environment: autoescaping on for every template, so user text renders as text."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def _when(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else "—"


def _pretty(value: Any, limit: int = 20_000) -> str:
    text = json.dumps(value, sort_keys=True)
    if len(text) > 100:
        text = json.dumps(value, indent=1, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text)} characters in all)"


def _num(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, int | float) else str(value)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        auto_reload=False,
    )
    env.filters.update(when=_when, pretty=_pretty, num=_num)
    return env


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = environment().get_template(name).render(**context)
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": (
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
