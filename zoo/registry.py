"""Short-name registries ("dcgan" -> zoo.dcgan:DCGAN), imported lazily so that one entry's
dependencies never slow down or break another."""

from __future__ import annotations

import importlib
import inspect

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


def init_parameters(cls: type) -> set[str]:
    """Constructor parameter names of ``cls`` and of the ancestors its ``**kwargs`` forward to."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters
        names |= {p for p, v in params.items() if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL) and p != "self"}
        if not any(v.kind == v.VAR_KEYWORD for v in params.values()):
            break
    return names
