"""A raw socket server on 127.0.0.1 that answers each connection with a script.

Not HTTP-aware beyond reading the request head: a script writes whatever bytes it wants
(a slow trickle, a body that never ends, bad chunk sizes, a reset), which a real HTTP server
such as LocalIssuer would never send. Each connection takes the next script from the queue;
the last one repeats. Optionally TLS, with a context chosen per connection.
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import ipaddress
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Script = Callable[["Connection"], object]


class Connection:
    """One accepted connection, as a script sees it."""

    def __init__(self, sock: socket.socket, server: RawServer) -> None:
        self.sock = sock
        self.server = server

    def send(self, data: bytes) -> bool:
        """Sends `data`; False once the client has gone (or the server is closing)."""
        if self.server.closing.is_set():
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def trickle(self, data: bytes, every: float) -> None:
        """Sends `data` a byte at a time, `every` seconds apart, until the client goes."""
        for byte in data:
            if not self.send(bytes([byte])) or self.server.closing.wait(every):
                return

    def reset(self) -> None:
        """Closes with a TCP RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def response(
    body: bytes,
    status: str = "200 OK",
    headers: dict[str, str] | None = None,
    *,
    version: str = "HTTP/1.1",
    length: bool = True,
) -> bytes:
    """A whole response: status line, headers (Content-Length unless `length` is False)."""
    lines = [f"{version} {status}"]
    all_headers = {"Content-Type": "application/json", "Connection": "close", **(headers or {})}
    if length:
        all_headers["Content-Length"] = str(len(body))
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def respond(body: bytes, **options: object) -> Script:
    """A script that sends one response and closes."""
    data = response(body, **options)  # type: ignore[arg-type]
    return lambda connection: connection.send(data)


def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed (about 1000:1)."""
    return gzip.compress(b"\0" * size, compresslevel=9)


class RawServer:
    """Accepts connections on 127.0.0.1:0 and runs the next script on each.

    Args:
        scripts: One per connection, in order; the last repeats.
        tls: Server contexts per connection, in order (the last repeats); None: plain TCP.
    """

    def __init__(self, scripts: list[Script], tls: list[ssl.SSLContext] | None = None) -> None:
        self.scripts = list(scripts)
        self.tls = tls
        self.closing = threading.Event()
        self.requests: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self._accepting = threading.Thread(target=self._accept, daemon=True, name="RawServer")
        self._accepting.start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, path: str = "/jwks.json") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stops accepting, cuts open connections and waits for their threads."""
        self.closing.set()
        self._accepting.join(2)
        self._listener.close()
        with self._lock:
            open_sockets = list(self._open)
            threads = list(self._threads)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(2)

    def _accept(self) -> None:
        index = 0
        while not self.closing.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock, index), daemon=True)
            with self._lock:
                self.connections += 1
                self._open.add(sock)
                self._threads.append(thread)
            thread.start()
            index += 1

    def _serve(self, sock: socket.socket, index: int) -> None:
        try:
            sock.settimeout(10)
            if self.tls:
                context = self.tls[min(index, len(self.tls) - 1)]
                try:
                    sock = context.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError):
                    return  # the client refused the certificate: that is the test
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                head += chunk
            with self._lock:
                self.requests.append(head)
            script = self.scripts[min(index, len(self.scripts) - 1)]
            script(Connection(sock, self))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()


class Certificates:
    """A test CA and server certificates made at test time (EC P-256), written to `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.now = datetime.datetime.now(datetime.timezone.utc)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile test CA")])
        ca = (
            self._builder(self.ca_name, self.ca_name, self.ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.ca_key, hashes.SHA256())
        )  # fmt: skip
        self.ca_file = str(directory / "ca.pem")
        Path(self.ca_file).write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def _builder(
        self,
        subject: x509.Name,
        issuer: x509.Name,
        public_key: ec.EllipticCurvePublicKey,
        days: tuple[int, int] = (-1, 2),
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now + datetime.timedelta(days=days[0]))
            .not_valid_after(self.now + datetime.timedelta(days=days[1]))
        )

    def server_context(
        self, name: str, *, days: tuple[int, int] = (-1, 2), self_signed: bool = False
    ) -> ssl.SSLContext:
        """A server context with a leaf certificate for `name` (an IP or a DNS name)."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        try:
            alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            alt = x509.DNSName(name)
        issuer, signing_key = (subject, key) if self_signed else (self.ca_name, self.ca_key)
        leaf = (
            self._builder(subject, issuer, key.public_key(), days)
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .sign(signing_key, hashes.SHA256())
        )
        stem = self.directory / f"{name}-{days[0]}-{days[1]}-{self_signed}"
        cert_file, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context


def wait(seconds: float) -> Script:
    """A script that says nothing for `seconds` (or until the server closes)."""
    return lambda connection: connection.server.closing.wait(seconds)
