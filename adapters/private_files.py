"""qorch's data directory is readable by its own account only: the directory (and any below
it) 0700, every file 0600. The command line also sets the umask to 0o077 at start, so new files
are private from the first byte; this repairs what was made before (an older version, another
umask) and what an in-process caller created under a wider umask. SQLite creates its -wal and
-shm files with the mode of their database, so those follow."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600


def keep_private(data_dir: Path) -> None:
    data_dir.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)
    _restrict(data_dir, PRIVATE_DIRECTORY)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            _restrict(Path(root) / name, PRIVATE_DIRECTORY)
        for name in files:
            _restrict(Path(root) / name, PRIVATE_FILE)


def _restrict(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):  # e.g. a -shm file removed meanwhile
        current = path.lstat()
        if stat.S_ISLNK(current.st_mode):
            return  # never follow a link out of the data directory
        if stat.S_IMODE(current.st_mode) & ~mode:
            os.chmod(path, stat.S_IMODE(current.st_mode) & mode)
