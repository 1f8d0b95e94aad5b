"""What the views' tests share: an application over a fresh data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qorch.bootstrap import open_application
from qorch.domain.application import Qorch
from qorch.settings import Settings


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Qorch]:
    application = open_application(Settings(data_dir=tmp_path / "data"))
    yield application
    application.close()
