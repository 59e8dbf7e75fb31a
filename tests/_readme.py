"""The README, by section: its examples are run by the tests."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def section(heading: str) -> str:
    """The text of a ``## `` section of the README, heading included."""
    text = README.read_text()
    start = text.index(f"## {heading}\n")
    following = re.search(r"^## ", text[start + 3 :], re.M)
    return text[start : start + 3 + following.start()] if following else text[start:]
