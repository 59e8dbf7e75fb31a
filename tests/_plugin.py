"""How the tests that run pytest (pytester) load the jwkscache plugin."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

PLUGIN = "jwkscache.testing.pytest_plugin"


def plugin_args() -> list[str]:
    """``-p`` for the plugin, unless the installed ``pytest11`` entry point loads it already."""
    if sys.version_info >= (3, 10):
        group = entry_points(group="pytest11")
    else:  # pragma: no cover - Python 3.9's entry_points() is a dict
        group = entry_points().get("pytest11", [])
    installed = any(ep.value == PLUGIN for ep in group)
    return ["-W", "error"] + ([] if installed else ["-p", PLUGIN])
