"""The folder where ``agentlist dev`` keeps its servers' data between runs.

By default ``.agentlist/`` beside the ``langgraph.json`` it serves (in the current directory for
the example graphs, which live in the installed package), ignored by git. One ``agentlist dev``
at a time may use a folder: it holds an exclusive lock on ``dev.lock`` there, which the kernel
releases however the process ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from pathlib import Path
from typing import IO, Final

FOLDER_NAME: Final = ".agentlist"
LOCK_FILE: Final = "dev.lock"


class FolderInUseError(RuntimeError):
    """Another ``agentlist dev`` holds the folder."""


def project_folder(config: Path | None, cwd: Path) -> Path:
    """``.agentlist/`` beside ``config``; in ``cwd`` for the built-in example graphs (None)."""
    return (config.resolve().parent if config is not None else cwd) / FOLDER_NAME


def prepare(folder: Path, *, ignored_by_git: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    gitignore = folder / ".gitignore"
    if ignored_by_git and not gitignore.exists():
        gitignore.write_text("*\n")


def lock(folder: Path) -> IO[str]:
    """Hold ``folder`` for this process until the returned file is closed (or the process
    ends). Raises :class:`FolderInUseError` when another process holds it."""
    path = folder / LOCK_FILE
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise FolderInUseError(
            f"{folder} is in use by another agentlist dev (pid {holder}):"
            " stop it first, or choose another --data-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def untraversable_parent(folder: Path) -> Path | None:
    """The nearest existing folder on the way to ``folder`` that other users cannot enter
    (Postgres runs as ``nobody`` when the launcher is root); None when all can be."""
    # The folder itself is opened up by the launcher; its parents are the user's (a parent
    # still to be made is made with the umask's usual 755).
    for part in folder.parents:
        with contextlib.suppress(OSError):
            if not part.stat().st_mode & stat.S_IXOTH:
                return part
    return None
