"""Hostile issuers (issue 12, item 2), each a raw socket server on 127.0.0.1.

Every case serves a good JWK Set first, then misbehaves on the refetch (`refresh()`). For
each: the verdict (refused with a reason that names it, or accepted where the bytes are a
good set), the time the refetch took against `timeout`, the peak RSS growth during it
against `max_body_bytes`, the reason logged, and that the last good keys still verify while
a forged token does not. Set JWKSCACHE_HOSTILE_REPORT=<file> to append each observation as a
JSON line (the figures in docs/security.md).

Cases already covered over LocalIssuer are not repeated: a JWK Set or a key naming a member
twice (tests/test_cache_edges.py), non-JSON and truncated bodies, redirects and dropped
connections (tests/test_cache_http.py).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest

import jwkscache
from _raw_server import (
    Certificates,
    Connection,
    RawServer,
    Script,
    gzip_bomb,
    respond,
    response,
    wait,
)
from conftest import Signer
from jwkscache.exceptions import SigningKeyNotFoundError

TIMEOUT = 1.0
# Generous: the bound is `timeout`; the rest is scheduling on a loaded 2-core machine.
TIME_BOUND = TIMEOUT + 2.0
# Peak RSS growth allowed during one refetch: the body cap (512 KiB) and parsing, many times
# over, but far under what reading any of these bodies whole would take (10-100 MB).
RSS_BOUND_MB = 40


def rss_kb(field_name: str) -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(rf"{field_name}:\s+(\d+)", status)
    assert match is not None
    return int(match.group(1))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Case:
    """One hostile issuer: its misbehaviour and what jwkscache must do about it."""

    script: Callable[[dict[str, Any]], Script]
    refused: str | None  # a regex the error must match; None: the set is accepted
    options: dict[str, Any] = field(default_factory=dict)
    tls: str | None = None  # "wrong-host", "expired", "self-signed"


def trickle_body(jwks: dict[str, Any]) -> Script:
    def script(connection: Connection) -> None:
        if connection.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"):
            connection.trickle(json.dumps(jwks).encode(), every=0.2)

    return script


def trickle_head(jwks: dict[str, Any]) -> Script:
    data = response(json.dumps(jwks).encode())
    return lambda connection: connection.trickle(data, every=0.2)


def endless(chunked: bool) -> Callable[[dict[str, Any]], Script]:
    def make(jwks: dict[str, Any]) -> Script:
        def script(connection: Connection) -> None:
            head = "Transfer-Encoding: chunked\r\n" if chunked else ""
            if not connection.send(f"HTTP/1.1 200 OK\r\n{head}\r\n".encode()):
                return
            block = b" " * 65536
            frame = b"10000\r\n" + block + b"\r\n" if chunked else block
            while connection.send(frame):
                pass

        return script

    return make


def chunked(raw: bytes) -> Callable[[dict[str, Any]], Script]:
    def make(jwks: dict[str, Any]) -> Script:
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        return lambda connection: connection.send(head + raw)

    return make


def ten_megabytes(length: bool) -> Callable[[dict[str, Any]], Script]:
    def make(jwks: dict[str, Any]) -> Script:
        filler = [{"kty": "oct", "kid": f"pad{i}", "k": "A" * 1000} for i in range(10_000)]
        body = json.dumps({"keys": [*jwks["keys"], *filler]}).encode()
        assert len(body) > 10_000_000
        if length:
            return respond(body)
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        frames = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536])
            for i in range(0, len(body), 65536)
        )
        data = head + frames + b"0\r\n\r\n"  # built here: the server shares the measured process
        return lambda connection: connection.send(data)

    return make


def huge_modulus(jwks: dict[str, Any]) -> Script:
    big = {"kty": "RSA", "kid": "big", "alg": "RS256", "n": b64(b"\xff" * 1_000_000), "e": "AQAB"}
    return respond(json.dumps({"keys": [big, *jwks["keys"]]}).encode())


def many_keys(jwks: dict[str, Any]) -> Script:
    genuine = jwks["keys"][0]
    copies = [{**genuine, "kid": f"copy{i}"} for i in range(9_999)]
    return respond(json.dumps({"keys": [genuine, *copies]}).encode())


def reset_mid_body(jwks: dict[str, Any]) -> Script:
    body = json.dumps(jwks).encode()

    def script(connection: Connection) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        if connection.send(head + body[: len(body) // 2]):
            connection.reset()

    return script


def body_of(raw: bytes, **options: Any) -> Callable[[dict[str, Any]], Script]:
    return lambda jwks: respond(raw, **options)


def jwks_with(**options: Any) -> Callable[[dict[str, Any]], Script]:
    return lambda jwks: respond(json.dumps(jwks).encode(), **options)


def http10_until_close(truncate: bool) -> Callable[[dict[str, Any]], Script]:
    def make(jwks: dict[str, Any]) -> Script:
        body = json.dumps(jwks).encode()
        body = body[: len(body) // 2] if truncate else body
        return respond(body, version="HTTP/1.0", length=False)

    return make


NESTED = b'{"keys":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
BAD_UTF8 = b'{"keys":[{"kty":"RSA","kid":"\xff\xfe","n":"AQAB","e":"AQAB"}]}'
LIMIT = "byte limit"

CASES: dict[str, Case] = {
    "slowloris body": Case(trickle_body, "timed out"),
    "slowloris headers": Case(trickle_head, "timed out"),
    "silent after the request": Case(lambda jwks: wait(30), "timed out"),
    "endless chunked body": Case(endless(chunked=True), LIMIT),
    "endless body without length": Case(endless(chunked=False), LIMIT),
    "gzip bomb (100 MB of zeros)": Case(
        lambda jwks: respond(gzip_bomb(100_000_000), headers={"Content-Encoding": "gzip"}), LIMIT
    ),
    "10 MB JSON with Content-Length": Case(ten_megabytes(length=True), LIMIT),
    "10 MB JSON chunked": Case(ten_megabytes(length=False), LIMIT),
    "JSON nested 100,000 deep": Case(body_of(NESTED), "recursion limit"),
    "invalid UTF-8": Case(body_of(BAD_UTF8), "usable JWK Set"),
    "a 1 MB modulus, default max_body_bytes": Case(huge_modulus, LIMIT),
    "a 1 MB modulus, max_body_bytes 4 MB": Case(huge_modulus, None, {"max_body_bytes": 4_000_000}),
    "10,000 keys, max_body_bytes 8 MB": Case(many_keys, None, {"max_body_bytes": 8_000_000}),
    "redirect to itself": Case(
        lambda jwks: respond(
            b"", status="301 Moved Permanently", headers={"Location": "/jwks.json"}
        ),
        "redirects are not followed",
    ),
    "Content-Type text/html": Case(jwks_with(headers={"Content-Type": "text/html"}), None),
    "Content-Type application/octet-stream": Case(
        jwks_with(headers={"Content-Type": "application/octet-stream"}), None
    ),
    "HTTP/1.0 without Content-Length": Case(http10_until_close(truncate=False), None),
    "HTTP/1.0 closed mid-body": Case(http10_until_close(truncate=True), "usable JWK Set"),
    "chunk size not hex": Case(chunked(b"zz\r\n{}\r\n0\r\n\r\n"), "(?i)invalid chunk size"),
    "chunk size overflowing 64 bits": Case(
        chunked(b"ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n"), "invalid chunk size: overflow"
    ),
    "chunk longer than its data, then close": Case(
        chunked(b"10000\r\n{}"), "end of file before message length reached"
    ),
    "connection reset mid-body": Case(reset_mid_body, "Connection reset by peer"),
    "TLS: certificate for another host": Case(
        jwks_with(), "(?i)certificate|NotValidForName", tls="wrong-host"
    ),
    "TLS: expired certificate": Case(jwks_with(), "(?i)expired", tls="expired"),
    "TLS: self-signed certificate": Case(
        jwks_with(), "(?i)UnknownIssuer|certificate", tls="self-signed"
    ),
}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("hostile-tls"))


def tls_contexts(certificates: Certificates, kind: str) -> list[Any]:
    good = certificates.server_context("127.0.0.1")
    bad = {
        "wrong-host": lambda: certificates.server_context("wrong.example"),
        "expired": lambda: certificates.server_context("127.0.0.1", days=(-10, -1)),
        "self-signed": lambda: certificates.server_context("127.0.0.1", self_signed=True),
    }[kind]()
    return [good, bad]


@pytest.fixture
def observe() -> Iterator[Callable[..., None]]:
    path = os.environ.get("JWKSCACHE_HOSTILE_REPORT")
    lines: list[str] = []
    yield lambda **record: lines.append(json.dumps(record))
    if path:
        with open(path, "a") as report:
            report.writelines(line + "\n" for line in lines)


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_issuer(
    name: str,
    signer: Signer,
    other_signer: Signer,
    jwks: dict[str, Any],
    certificates: Certificates,
    caplog: pytest.LogCaptureFixture,
    observe: Callable[..., None],
) -> None:
    case = CASES[name]
    tls = tls_contexts(certificates, case.tls) if case.tls else None
    scripts = [respond(json.dumps(jwks).encode()), case.script(jwks)]
    with RawServer(scripts, tls=tls) as server:
        options: dict[str, Any] = {"timeout": TIMEOUT, "min_ttl": 0, **case.options}
        if tls:
            options["ca_file"] = certificates.ca_file
        cache = jwkscache.JWKSCache(server.url(), **options)
        genuine = signer.mint({"sub": "alice"})
        assert cache.decode(genuine)["sub"] == "alice"

        Path("/proc/self/clear_refs").write_text("5")  # resets the peak RSS (VmHWM)
        baseline = rss_kb("VmRSS")
        error: BaseException | None = None
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="jwkscache"):
            try:
                cache.refresh()
            except jwt.PyJWKClientConnectionError as caught:
                error = caught
        elapsed = time.monotonic() - start
        peak_mb = (rss_kb("VmHWM") - baseline) / 1024
        observe(
            case=name,
            seconds=round(elapsed, 3),
            peak_rss_growth_mb=round(peak_mb, 1),
            verdict="refused" if error else "accepted",
            reason=str(error)[-160:] if error else None,
        )

        assert elapsed < TIME_BOUND, f"{name}: {elapsed:.2f}s"
        assert peak_mb < RSS_BOUND_MB, f"{name}: {peak_mb:.1f} MB"
        assert server.connections == 2  # the refetch was one attempt, never retried at once
        if case.refused is None:
            assert error is None, error
            assert cache.stats()["fetches"] == 2
        else:
            assert error is not None, f"{name}: accepted"
            assert re.search(case.refused, str(error)), str(error)
            logged = [r.getMessage() for r in caplog.records if "refresh failed" in r.getMessage()]
            assert logged, "the failure is logged"
            assert re.search(case.refused, logged[-1]), logged[-1]
        # The last good keys (or the new set's genuine key) still verify; nothing else does.
        assert cache.decode(genuine)["sub"] == "alice"
        with pytest.raises(jwt.InvalidSignatureError):
            cache.decode(other_signer.mint({"sub": "mallory"}))
        # A kid only the hostile body named: not found, or, after a failed refetch, an
        # outage (the issuer could not be asked); never accepted.
        unknown = SigningKeyNotFoundError if error is None else jwt.PyJWKClientConnectionError
        for kid in ("big", "copy500", "pad1"):
            with pytest.raises(unknown):
                cache.decode(signer.mint({"sub": "mallory"}, headers={"kid": kid}))
        cache.close()
