"""Response headers under test control, and the conditional-request (304) rules."""

from __future__ import annotations

import datetime
import email.utils
import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

ExpiresValue = str | int | float | datetime.datetime
ETagValue = bool | str
LastModifiedValue = bool | str | int | float | datetime.datetime


class Unset(enum.Enum):
    """Marker for "argument not given" where ``None`` already means "no header"."""

    UNSET = "UNSET"


UNSET = Unset.UNSET


@dataclass
class HeaderSettings:
    """The headers the JWKS is served with.

    Attributes:
        cache_control: ``Cache-Control`` value.
        expires: ``Expires``: a string as sent, a ``datetime``, or a number of seconds from
            the time of each response.
        etag: ``True`` for an ETag computed from the body, a string for a fixed one.
        last_modified: ``True`` for the time the key set last changed, else a string as sent,
            a ``datetime`` or a Unix time.
        content_type: ``Content-Type`` value.
        age: ``Age`` in seconds.
        extra: Any other headers.
    """

    cache_control: str | None = None
    expires: ExpiresValue | None = None
    etag: ETagValue | None = None
    last_modified: LastModifiedValue | None = None
    content_type: str | None = "application/json"
    age: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def copy(self) -> HeaderSettings:
        """An independent copy."""
        return replace(self, extra=dict(self.extra))

    def update(
        self,
        *,
        cache_control: str | Unset | None = UNSET,
        expires: ExpiresValue | Unset | None = UNSET,
        etag: ETagValue | Unset | None = UNSET,
        last_modified: LastModifiedValue | Unset | None = UNSET,
        content_type: str | Unset | None = UNSET,
        age: int | Unset | None = UNSET,
        extra: Mapping[str, str | None] | None = None,
    ) -> None:
        """Change the given settings; leave the others alone."""
        if not isinstance(cache_control, Unset):
            self.cache_control = cache_control
        if not isinstance(expires, Unset):
            self.expires = expires
        if not isinstance(etag, Unset):
            self.etag = None if etag is False else etag
        if not isinstance(last_modified, Unset):
            self.last_modified = None if last_modified is False else last_modified
        if not isinstance(content_type, Unset):
            self.content_type = content_type
        if not isinstance(age, Unset):
            self.age = age
        for name, value in (extra or {}).items():
            if value is None:
                self.extra.pop(name, None)
            else:
                self.extra[name] = value


def http_date(timestamp: float) -> str:
    """An IMF-fixdate (RFC 9110 section 5.6.7), e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    return email.utils.formatdate(timestamp, usegmt=True)


def parse_http_date(value: str) -> float | None:
    """A Unix time from an HTTP date, or ``None`` when it is not one."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _quoted(tag: str) -> str:
    return tag if tag.endswith('"') else f'"{tag}"'


@dataclass(frozen=True)
class Validators:
    """The validators of one response: what a conditional request is compared with."""

    etag: str | None
    last_modified: str | None


def validators(settings: HeaderSettings, body: bytes, changed_at: float) -> Validators:
    """The ETag and Last-Modified values for a body under these settings.

    Args:
        settings: The current header settings.
        body: The body being served (the automatic ETag is its hash).
        changed_at: When the key set last changed (the automatic Last-Modified).
    """
    etag: str | None = None
    if settings.etag is True:
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    elif isinstance(settings.etag, str):
        etag = _quoted(settings.etag)
    last_modified: str | None = None
    value = settings.last_modified
    if value is True:
        last_modified = http_date(changed_at)
    elif isinstance(value, str):
        last_modified = value
    elif isinstance(value, datetime.datetime):
        last_modified = http_date(value.timestamp())
    elif isinstance(value, (int, float)):
        last_modified = http_date(value)
    return Validators(etag, last_modified)


def cache_headers(settings: HeaderSettings, valid: Validators, now: float) -> list[tuple[str, str]]:
    """The caching headers of a response (also sent with a 304)."""
    headers: list[tuple[str, str]] = []
    if settings.cache_control is not None:
        headers.append(("Cache-Control", settings.cache_control))
    expires = settings.expires
    if isinstance(expires, str):
        headers.append(("Expires", expires))
    elif isinstance(expires, datetime.datetime):
        headers.append(("Expires", http_date(expires.timestamp())))
    elif isinstance(expires, (int, float)):
        headers.append(("Expires", http_date(now + expires)))
    if settings.age is not None:
        headers.append(("Age", str(settings.age)))
    if valid.etag is not None:
        headers.append(("ETag", valid.etag))
    if valid.last_modified is not None:
        headers.append(("Last-Modified", valid.last_modified))
    headers.extend(settings.extra.items())
    return headers


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def not_modified(request_headers: Mapping[str, str], valid: Validators) -> bool:
    """Whether a conditional GET may be answered with 304 (RFC 9110 section 13.2.2).

    Args:
        request_headers: The request's headers, names in lower case.
        valid: The validators of the current representation.
    """
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        # When If-None-Match is present, If-Modified-Since is ignored.
        if valid.etag is None:
            return False
        tags = [t.strip() for t in if_none_match.split(",")]
        return "*" in tags or _opaque(valid.etag) in {_opaque(t) for t in tags}
    if_modified_since = request_headers.get("if-modified-since")
    if if_modified_since is None or valid.last_modified is None:
        return False
    since = parse_http_date(if_modified_since)
    modified = parse_http_date(valid.last_modified)
    return since is not None and modified is not None and modified <= since
