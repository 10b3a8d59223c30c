"""Reading pickles without running their code: an unpickler that builds only the globals of an allow list.

A pickle names the callables that rebuild its objects (``module.name``) and ``pickle.load`` imports and calls them:
a file can run anything. Formats that are pickles of classes (NVlabs' network snapshots, StackGAN's Python 2 data
pickles) are read here with each allowed global mapped to what rebuilds it; any other global, and any persistent
id, is one ZooError naming it, before anything of the file runs."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import IO, Any

from zoo.errors import ZooError


class AllowListUnpickler(pickle.Unpickler):
    """Builds only ``allowed[(module, name)]``; ``what`` says what the file is, for the refusal message."""

    def __init__(self, file: IO[bytes], allowed: dict[tuple[str, str], Callable | type], what: str, **kwargs: Any):
        super().__init__(file, **kwargs)
        self.allowed, self.what = allowed, what

    def find_class(self, module: str, name: str):
        found = self.allowed.get((module, name))
        if found is None:
            raise ZooError(f"refusing to load {module}.{name}: not a global {self.what} needs")
        return found

    def persistent_load(self, pid):
        raise ZooError(f"refusing a persistent id in {self.what}: {str(pid)[:80]}")
