"""The project's scripts (``scripts/*.py``) as modules, for the tests that use their functions."""

import importlib.util
import sys

from .conftest import ROOT


def load(name: str):
    """``scripts/NAME.py`` imported once as the module ``NAME``."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


training_data = load("training_data")
