"""Where a client finds its server and key: the arguments, then `QORCH_URL` / `QORCH_API_KEY`,
then a TOML file (`$QORCH_CONFIG`, else `$XDG_CONFIG_HOME/qorch/config.toml`, else
`~/.config/qorch/config.toml`) with `url = "..."` and `api_key = "..."`. The URL defaults to
`qorch serve`'s own address; a key must be given somewhere."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from qorch.client.errors import ConfigError

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "QORCH_URL"
KEY_ENV = "QORCH_API_KEY"
FILE_ENV = "QORCH_CONFIG"


@dataclass(frozen=True)
class Config:
    url: str
    api_key: str = ""

    def __repr__(self) -> str:
        return f"Config(url={self.url!r}, api_key={'***' if self.api_key else ''!r})"


def config_path() -> Path:
    if os.environ.get(FILE_ENV):
        return Path(os.environ[FILE_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "qorch" / "config.toml"


def from_file(path: Path | None = None) -> dict[str, str]:
    """The file's `url` and `api_key` (those it has); {} when there is no file."""
    path = path or config_path()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(0, "bad_config", f"cannot read {path}: {error}") from None
    found = {}
    for name in ("url", "api_key"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(0, "bad_config", f"{path}: {name} must be a string", name)
        if value:
            found[name] = value
    return found


def resolve(url: str | None = None, api_key: str | None = None, *, need_key: bool = True) -> Config:
    """The server and key to use; ConfigError, naming where a key may go, when there is none."""
    url = url or os.environ.get(URL_ENV)
    api_key = api_key or os.environ.get(KEY_ENV)
    if not url or not api_key:
        stored = from_file()
        url = url or stored.get("url")
        api_key = api_key or stored.get("api_key")
    if need_key and not api_key:
        raise ConfigError(
            0,
            "no_api_key",
            f"no API key: set {KEY_ENV}, or api_key in {config_path()} "
            f"(`qorch users create NAME` prints one)",
        )
    return Config((url or DEFAULT_URL).rstrip("/"), api_key or "")
