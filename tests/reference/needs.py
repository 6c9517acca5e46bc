"""needs.py — what the reference tests need installed: a test that cannot run says so in one
line and exits 77, which meson counts as skipped, not failed."""

import importlib
import sys

SKIPPED = 77


def modules(*required) -> None:
    """Imports the module of each (module, Debian package) pair; the first that is missing ends
    the program with "SKIP: PACKAGE missing"."""
    for module, package in required:
        try:
            importlib.import_module(module)
        except ImportError:
            print(f"SKIP: {package} missing")
            sys.exit(SKIPPED)
