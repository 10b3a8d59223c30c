"""Short-name registries ("dcgan" -> zoo.dcgan:DCGAN), imported lazily so that one entry's
dependencies never slow down or break another."""

from __future__ import annotations

import importlib

from zoo.errors import ZooError


def resolve(registry: dict[str, str], name: str, kind: str, hint: str = "") -> type:
    """The class registered as ``name``; an unknown name raises a ZooError listing the valid ones."""
    if name not in registry:
        raise ZooError(f"unknown {kind} '{name}'; choose one of: {', '.join(sorted(registry))}{hint}")
    module, cls = registry[name].split(":")
    return getattr(importlib.import_module(module), cls)


def name_of(registry: dict[str, str], cls: type) -> str | None:
    """The registered name of ``cls`` (or of its nearest registered ancestor)."""
    for klass in cls.__mro__:
        path = f"{klass.__module__}:{klass.__name__}"
        for name, target in registry.items():
            if target == path:
                return name
    return None
