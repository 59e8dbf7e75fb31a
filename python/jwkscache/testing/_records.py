"""The request log entry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestRecord:
    """One request the issuer received.

    Attributes:
        path: The request path, without the query string.
        method: The HTTP method.
        headers: The request headers, names in lower case (``"if-none-match"``).
        time: When the request arrived (Unix time, ``time.time()``).
        status: The status code answered; ``0`` when the connection was dropped.
        query: The query string, without the ``?`` (``""`` when none).
    """

    path: str
    method: str
    headers: dict[str, str]
    time: float
    status: int
    query: str = ""
