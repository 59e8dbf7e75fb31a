"""How the tests that run pytest (pytester) load the jwkscache plugin."""

from __future__ import annotations

from importlib.metadata import entry_points

PLUGIN = "jwkscache.testing.pytest_plugin"


def plugin_args() -> list[str]:
    """``-p`` for the plugin, unless the installed ``pytest11`` entry point loads it already."""
    group = entry_points(group="pytest11")
    installed = any(ep.value == PLUGIN for ep in group)
    return ["-W", "error"] + ([] if installed else ["-p", PLUGIN])
