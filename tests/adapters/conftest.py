from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qorch.bootstrap import open_application
from qorch.domain.application import Qorch
from tests.conftest import settings_for


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Qorch]:
    """The application on a fresh SQLite store in the test's directory."""
    application = open_application(settings_for(tmp_path))
    yield application
    application.close()
