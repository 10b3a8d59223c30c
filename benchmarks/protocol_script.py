"""``python benchmarks/NAME.py ...``: a protocol module that ``benchmarks/quality.py NAME`` delegates to, run on its
own with the same options (the module's ``add_arguments`` and ``main_with``)."""

from __future__ import annotations

import argparse
from types import ModuleType


def run_protocol(module: ModuleType, argv: list[str] | None = None) -> None:
    """Parses ``argv`` (default: the command line) with ``module.add_arguments`` and runs ``module.main_with``."""
    parser = argparse.ArgumentParser(description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    module.main_with(parser.parse_args(argv))
