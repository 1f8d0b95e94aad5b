"""The repository root is the `qorch` package, and it never shadows the standard library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_stdlib_http_and_qorch_http_both_import_from_the_repository_root():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import http.client, http.cookies, qorch.http.app, starlette.applications, http; "
            "print(http.__file__)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "site-packages" not in result.stdout
    assert not result.stdout.strip().startswith(str(ROOT))


def test_http_folder_has_no_init_file():
    assert not (ROOT / "http" / "__init__.py").exists()


def test_cli_prints_a_new_key_alone_on_its_last_line(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "qorch", "users", "create", "ada", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("qk_") and " " not in key


def test_every_python_folder_is_a_listed_package():
    """A wheel holds only the packages pyproject.toml lists: a new sub-package must be there."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    skipped = {"tests", "bench", ".venv", "qorch-data"}
    folders = {
        "qorch" + "".join(f".{part}" for part in path.relative_to(ROOT).parts)
        for path in [ROOT, *ROOT.rglob("*")]
        if path.is_dir()
        and any(path.glob("*.py"))
        and not ({*path.relative_to(ROOT).parts} & skipped)
        and not any(part.startswith((".", "__")) for part in path.relative_to(ROOT).parts)
    }
    assert folders == listed
