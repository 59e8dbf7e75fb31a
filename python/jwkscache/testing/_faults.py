"""Faults the issuer can be told to commit, and their bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["fail", "latency", "hang", "drop", "body", "redirect"]
FAULT_KINDS: tuple[FaultKind, ...] = ("fail", "latency", "hang", "drop", "body", "redirect")
ANY_PATH = "*"


@dataclass
class Fault:
    """One scheduled misbehaviour.

    Attributes:
        kind: What happens.
        path: The request path it applies to (``"*"``: any path).
        remaining: How many more requests it applies to; ``None``: until reset.
        status: Status code sent (``fail``, ``body``, ``redirect``).
        seconds: How long a ``hang`` lasts before the normal answer.
        location: Where a ``redirect`` points.
        body: The body sent (``fail``, ``body``).
        content_type: ``Content-Type`` of that body (``None``: no header).
        headers: More headers sent with it.
    """

    kind: FaultKind
    path: str
    remaining: int | None = 1
    status: int = 200
    seconds: float = 0.0
    location: str = ""
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def applies_to(self, path: str) -> bool:
        """Whether this fault is for a request to ``path``."""
        return self.path in (ANY_PATH, path)


class FaultPlan:
    """Queued one-shot faults (first in, first out), standing bodies, latency and counts.

    Not thread-safe: the issuer holds its lock around every call.
    """

    def __init__(self) -> None:
        self.queue: list[Fault] = []
        self.standing: list[Fault] = []
        self.latency = 0.0
        self.counts: dict[FaultKind, int] = dict.fromkeys(FAULT_KINDS, 0)

    def add(self, fault: Fault) -> None:
        """Schedule a fault: counted ones queue up, ``remaining=None`` ones stand."""
        if fault.remaining is None:
            self.standing.append(fault)
        elif fault.remaining > 0:
            self.queue.append(fault)

    def take(self, path: str) -> Fault | None:
        """The fault to apply to a request for ``path`` (used up by one), or ``None``."""
        for index, fault in enumerate(self.queue):
            if fault.applies_to(path):
                assert fault.remaining is not None
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self.queue[index]
                self.counts[fault.kind] += 1
                return fault
        for fault in reversed(self.standing):
            if fault.applies_to(path):
                self.counts[fault.kind] += 1
                return fault
        return None

    def take_latency(self) -> float:
        """The delay to add to a response (counted when not zero)."""
        if self.latency > 0:
            self.counts["latency"] += 1
        return self.latency

    def reset(self) -> None:
        """Forget every scheduled fault, the latency and the counts."""
        self.queue.clear()
        self.standing.clear()
        self.latency = 0.0
        self.counts = dict.fromkeys(FAULT_KINDS, 0)
