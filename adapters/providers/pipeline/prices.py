"""The versioned price table used by dry runs (a data file, not code)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PRICES_PATH = Path(__file__).parent.parent / "data" / "prices.json"


@cache
def load_prices(path: Path = PRICES_PATH) -> dict[str, Any]:
    prices: dict[str, Any] = json.loads(path.read_text())
    return prices
