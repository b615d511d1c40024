"""The rule families.  Importing this package imports every module in it, and each module
registers its rules with ``@rule`` -- so a new family is a new file here, nothing else."""

from __future__ import annotations

import importlib
import pkgutil


def _import_families() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{info.name}")


_import_families()
