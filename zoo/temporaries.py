"""Files written under a temporary name beside their target, then renamed into place (checkpoints, dataset
caches), so that a reader never sees half a file; and telling the temporaries of a killed writer, which a
later run removes, from those of a live one."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

#: ``<file>.tmp<pid>-<host>``, or ``<file>.tmp<pid>`` as earlier versions named them
TEMPORARY_SUFFIX = re.compile(r"\.tmp(?P<pid>\d+)(?:-(?P<host>[^/]+))?$")
#: a temporary another machine wrote counts as abandoned after this long without a write (seconds)
ABANDONED_AFTER = 24 * 3600


def temporary(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place; the name tells a later run which process on
    which machine writes it, so that it can tell a live writer from a killed one (``writer_gone``)."""
    return path.with_name(f"{path.name}.tmp{os.getpid()}-{socket.gethostname()}")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def writer_gone(path: Path, pid: int, host: str | None) -> bool:
    """Whether the writer of temporary ``path`` is dead: its process is gone (when this machine wrote it) or,
    when another machine sharing the folder wrote it, nothing was written to it for ``ABANDONED_AFTER`` s."""
    if host in (None, socket.gethostname()):
        return not process_alive(pid)
    return time.time() - path.stat().st_mtime > ABANDONED_AFTER


def temporaries(folder: Path, target: re.Pattern) -> dict[Path, bool]:
    """The temporaries in ``folder`` whose target's name matches ``target``, each with whether its writer is
    gone; any other file is left out."""
    found = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        suffix = TEMPORARY_SUFFIX.search(path.name)
        if not suffix or not target.fullmatch(path.name[: suffix.start()]):
            continue
        try:
            found[path] = writer_gone(path, int(suffix["pid"]), suffix["host"])
        except FileNotFoundError:  # renamed into place or removed meanwhile
            continue
    return found


def remove_abandoned(folder: Path, target: re.Pattern) -> None:
    """Deletes the temporaries in ``folder`` (of files named like ``target``) whose writer is gone."""
    for path, gone in temporaries(folder, target).items():
        if gone:
            path.unlink(missing_ok=True)
