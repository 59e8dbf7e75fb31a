"""``LocalIssuer``: a real OIDC issuer on 127.0.0.1 for tests."""

from __future__ import annotations

import copy
import datetime
import json
import os
import pathlib
import shutil
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from ._faults import Fault, FaultKind, FaultPlan
from ._headers import (
    UNSET,
    ETagValue,
    ExpiresValue,
    HeaderSettings,
    LastModifiedValue,
    Unset,
    cache_headers,
    not_modified,
    validators,
)
from ._keys import IssuerKey, PrivateKey, generate_private_key, key_type_for, make_key
from ._presets import Preset, get_preset
from ._records import RequestRecord
from ._server import IssuerServer, Reply, Request, status_text
from ._tls import TLSFiles
from ._tokens import (
    Audience,
    TimeValue,
    kubernetes_audience,
    legacy_service_account_claims,
    service_account_claims,
    sign,
    standard_claims,
)

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
_JSON = "application/json"
# The body of a Kubernetes API server's 401 (a metav1.Status).
_UNAUTHORIZED = (
    b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
    b'"message":"Unauthorized","reason":"Unauthorized","code":401}'
)


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


class LocalIssuer:
    """A real OIDC issuer on ``127.0.0.1``: discovery, a JWKS, token minting and faults.

    The server runs in a daemon thread from construction until :meth:`close` (or the end of
    a ``with`` block). Every method is thread-safe.

    Args:
        preset: ``"generic"``, ``"eks"``, ``"kubernetes"``, ``"appsso"`` or a :class:`Preset`.
        tls: Serve HTTPS with a certificate from a CA generated at start (see ``ca_file``).
        bearer_token: Answer 401 to requests without ``Authorization: Bearer <token>``.
        jwks_path: The JWKS path on the server (default: the preset's, under the issuer path).
        issuer_path: The issuer's path on the server (default: the preset's).
        kid: Key ID of the first signing key (default: its RFC 7638 thumbprint; the
            ``kubernetes`` preset derives it as the API server does).
        key_size: RSA modulus size of the signing keys, in bits.
        alg: The algorithm of the signing keys (the first and each :meth:`rotate`'s):
            ``"RS256"`` (default) or another RSA one, ``"ES256"``/``"ES384"``/``"ES512"``
            (an EC key on P-256/P-384/P-521, as a kube-apiserver with an ECDSA key signs), or
            ``"EdDSA"`` (Ed25519).
        cache_control: ``Cache-Control`` of the JWKS (default: the preset's; ``None``: none).
        content_type: ``Content-Type`` of the JWKS (default: the preset's).
        etag: ``True`` for an ETag computed from the body, a string for a fixed one,
            ``None`` for none (default: the preset's).
        last_modified: ``True`` for the time the key set last changed, or a fixed value,
            ``None`` for none (default: the preset's).
        expires: ``Expires`` of the JWKS (default: the preset's); see :meth:`set_headers`.

    Example:
        >>> with LocalIssuer() as issuer:  # doctest: +SKIP
        ...     token = issuer.mint({"scope": "read"}, audience="api")
        ...     keys = jwt.PyJWKClient(issuer.jwks_uri)
    """

    def __init__(
        self,
        preset: str | Preset = "generic",
        *,
        tls: bool = False,
        bearer_token: str | None = None,
        jwks_path: str | None = None,
        issuer_path: str | None = None,
        kid: str | None = None,
        key_size: int = 2048,
        alg: str = "RS256",
        cache_control: str | Unset | None = UNSET,
        content_type: str | None = None,
        etag: ETagValue | Unset | None = UNSET,
        last_modified: LastModifiedValue | Unset | None = UNSET,
        expires: ExpiresValue | Unset | None = UNSET,
    ) -> None:
        self._preset = get_preset(preset)
        self._alg = alg
        self._kty, self._crv = key_type_for(alg)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._key_size = key_size
        self._issuer_path = (
            issuer_path if issuer_path is not None else self._preset.resolve_issuer_path()
        ).rstrip("/")
        self._jwks_path = jwks_path or self._issuer_path + self._preset.jwks_path
        self._discovery_path = self._issuer_path + DISCOVERY_SUFFIX

        self._initial_headers = HeaderSettings(
            cache_control=self._preset.cache_control,
            expires=self._preset.expires,
            etag=self._preset.etag or None,
            last_modified=self._preset.last_modified or None,
            content_type=content_type or self._preset.content_type,
            extra=dict(self._preset.extra_headers),
        )
        self._initial_headers.update(
            cache_control=cache_control, etag=etag, last_modified=last_modified, expires=expires
        )
        self._headers = self._initial_headers.copy()
        self._initial_bearer = bearer_token
        self._bearer = bearer_token
        self._discovery_overrides: dict[str, Any] = {}

        self._initial_key = make_key(
            self._new_private_key(), kid=kid, kid_style=self._preset.kid_style, alg=alg
        )
        self._keys: dict[str, IssuerKey] = {}
        self._current = ""
        self._changed_at = 0
        self._jwks_body: bytes | None = None
        self._reset_keys()

        self._faults = FaultPlan()
        self._log: list[RequestRecord] = []
        self._fetches = 0
        self._discoveries = 0

        self._tls = TLSFiles() if tls else None
        try:
            context = self._tls.server_context() if self._tls else None
            self._server = IssuerServer(self._respond, context)
        except BaseException:
            if self._tls:
                self._tls.remove()
            raise
        self._base_url = f"{'https' if tls else 'http'}://127.0.0.1:{self._server.port}"
        self._closed = False

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> LocalIssuer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"<LocalIssuer {self._preset.name!r} {self.issuer} {state}>"

    def close(self) -> None:
        """Stop the server and free the port, promptly even while a handler hangs.

        Hanging and delayed responses are cut short (their connections dropped), open
        connections are closed and the TLS files are deleted. Calling it again does nothing.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._server.stop()
        if self._tls:
            self._tls.remove()

    # -- addresses -----------------------------------------------------------------------

    @property
    def preset(self) -> Preset:
        """The preset this issuer imitates."""
        return self._preset

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1."""
        return self._server.port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with TLS), no trailing slash."""
        return self._base_url

    @property
    def issuer(self) -> str:
        """The issuer URL: the base URL plus the issuer path (the ``iss`` of minted tokens)."""
        return self._base_url + self._issuer_path

    @property
    def jwks_path(self) -> str:
        """The path the JWKS is served at."""
        return self._jwks_path

    @property
    def jwks_uri(self) -> str:
        """The full URL of the JWKS."""
        return self._base_url + self._jwks_path

    @property
    def discovery_path(self) -> str:
        """The path of the OpenID discovery document."""
        return self._discovery_path

    @property
    def discovery_url(self) -> str:
        """``{issuer}/.well-known/openid-configuration``."""
        return self._base_url + self._discovery_path

    @property
    def ca_file(self) -> str | None:
        """Path of the PEM CA certificate to trust for HTTPS, ``None`` without TLS."""
        return str(self._tls.ca_file) if self._tls else None

    def url(self, path: str) -> str:
        """The base URL plus ``path`` (``iss.url("/other")``)."""
        return self._base_url + path

    def client_ssl_context(self) -> Any:
        """An ``ssl.SSLContext`` that trusts this issuer's CA (``None`` without TLS)."""
        return self._tls.client_context() if self._tls else None

    # -- documents -----------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The key set currently served (a copy)."""
        with self._lock:
            return {"keys": [copy.deepcopy(k.jwk) for k in self._keys.values() if k.published]}

    def discovery(self) -> dict[str, Any]:
        """The discovery document currently served (a copy)."""
        with self._lock:
            algs = sorted(
                {
                    k.alg
                    for k in self._keys.values()
                    if k.published and k.jwk.get("use", "sig") == "sig" and k.jwk["kty"] != "oct"
                }
            )
            document: dict[str, Any] = {
                "issuer": self.issuer,
                "jwks_uri": self.jwks_uri,
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": algs or ["RS256"],
            }
            for name, value in self._preset.discovery_extra.items():
                document[name] = (
                    value.replace("{issuer}", self.issuer)
                    if isinstance(value, str)
                    else copy.deepcopy(value)
                )
            document.update(copy.deepcopy(self._discovery_overrides))
            return {k: v for k, v in document.items() if v is not None}

    def set_discovery(self, **members: Any) -> None:
        """Override discovery document members (``issuer=``, ``jwks_uri=`` ...).

        A ``None`` value removes the member; :meth:`reset` restores the document.
        """
        with self._lock:
            self._discovery_overrides.update(members)

    # -- keys ----------------------------------------------------------------------------

    @property
    def current_kid(self) -> str:
        """The ``kid`` of the key :meth:`mint` signs with by default."""
        with self._lock:
            return self._current

    @property
    def kids(self) -> list[str]:
        """The ``kid`` of every published key, in JWKS order."""
        with self._lock:
            return [k.kid for k in self._keys.values() if k.published]

    def private_key(self, kid: str | None = None) -> Any:
        """The ``cryptography`` private key (``bytes`` for ``oct``) of a key, current by default.

        Raises:
            KeyError: No key has that ``kid``.
        """
        with self._lock:
            return self._key(kid).private

    def rotate(self, *, retire_previous: bool = False) -> str:
        """Start signing with a new key (of the issuer's ``alg``); the previous one stays
        published, verify-only.

        Args:
            retire_previous: Also stop publishing the previous signing key.

        Returns:
            The new key's ``kid``.
        """
        key = make_key(self._new_private_key(), kid_style=self._preset.kid_style, alg=self._alg)
        with self._lock:
            previous = self._current
            self._add(key)
            self._current = key.kid
            if retire_previous:
                self._keys[previous].published = False
            self._key_set_changed()
        return key.kid

    def retire(self, kid: str) -> None:
        """Stop publishing a key. Tokens can still be minted with it (``mint(kid=...)``).

        Retiring the current signing key leaves it current: minted tokens then carry a
        ``kid`` the JWKS no longer has.

        Raises:
            KeyError: No key has that ``kid``.
        """
        with self._lock:
            self._key(kid).published = False
            self._key_set_changed()

    def publish(self, kid: str) -> None:
        """Publish a key again (one that :meth:`retire` removed).

        Raises:
            KeyError: No key has that ``kid``.
        """
        with self._lock:
            self._key(kid).published = True
            self._key_set_changed()

    def add_key(
        self,
        kty: str = "RSA",
        *,
        use: str | None = "sig",
        alg: str | None = None,
        kid: str | None = None,
        key_size: int = 2048,
        crv: str | None = None,
        publish_only: bool = True,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Publish one more key, by default one no token is signed with.

        Useful to check that clients skip keys they can't use: ``add_key("EC")``,
        ``add_key("oct")``, ``add_key(use="enc")``, ``add_key(extra={"alg": "RSA-OAEP"})``.

        Args:
            kty: ``"RSA"``, ``"EC"``, ``"OKP"`` or ``"oct"`` (an HMAC secret, published as is).
            use: The ``use`` member; ``None`` leaves it out.
            alg: The ``alg`` member (default: RS256, ES256/384/512, EdDSA or HS256).
            kid: The key ID (default: RFC 7638 thumbprint, or the preset's derivation).
            key_size: RSA modulus size in bits.
            crv: ``P-256`` (default), ``P-384``, ``P-521``, ``secp256k1``; ``Ed25519``
                (default) or ``Ed448`` for OKP.
            publish_only: ``False`` makes it the current signing key as well.
            extra: More JWK members (``x5c``, ``key_ops`` ...); ``None`` removes a member.

        Returns:
            The key's ``kid``.
        """
        private = generate_private_key(kty, key_size=key_size, crv=crv, alg=alg)
        key = make_key(
            private,
            kid=kid,
            kid_style=self._preset.kid_style,
            use=use,
            alg=alg,
            extra=dict(extra or {}),
        )
        with self._lock:
            self._add(key)
            if not publish_only:
                self._current = key.kid
            self._key_set_changed()
        return key.kid

    # -- tokens --------------------------------------------------------------------------

    def mint(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        kid: str | None = None,
        expires_in: float | datetime.timedelta | None = 300,
        audience: Audience | None = None,
        subject: str | None = None,
        headers: Mapping[str, Any] | None = None,
        not_before: TimeValue | None = None,
        issued_at: TimeValue | None = None,
        issuer: str | None = None,
    ) -> str:
        """Sign a token (RS256 with the current key unless told otherwise).

        Defaults: ``iss`` (this issuer), ``iat`` and ``nbf`` (now), ``exp`` (``iat`` +
        ``expires_in``) and a random ``jti``. ``claims`` override them; a claim set to
        ``None`` is left out (``mint({"exp": None})``).

        Args:
            claims: More claims.
            kid: Sign with this key (any key the issuer holds, published or not); its
                ``alg`` is used.
            expires_in: Seconds from ``iat`` to ``exp``; negative for an expired token,
                ``None`` for no ``exp``.
            audience: The ``aud`` claim (a string or a list).
            subject: The ``sub`` claim.
            headers: Header members; ``{"kid": None}`` leaves ``kid`` out,
                ``{"alg": "none"}`` makes an unsigned token.
            not_before: ``nbf`` (Unix time or ``datetime``), default ``iat``.
            issued_at: ``iat`` (Unix time or ``datetime``), default now.
            issuer: ``iss``, default :attr:`issuer`.

        Returns:
            The compact JWT.

        Raises:
            KeyError: No key has that ``kid``.
        """
        with self._lock:
            key = self._key(kid)
        payload = standard_claims(
            issuer=issuer if issuer is not None else self.issuer,
            expires_in=expires_in,
            audience=audience,
            subject=subject,
            not_before=not_before,
            issued_at=issued_at,
        )
        payload.update(claims or {})
        return sign(payload, key, headers)

    def mint_service_account(
        self,
        namespace: str = "default",
        name: str = "default",
        *,
        audience: Audience | None = None,
        pod: str | None = None,
        node: str | None = None,
        secret: str | None = None,
        warn_after: TimeValue | None = None,
        expires_in: float | datetime.timedelta = 3600,
        kid: str | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """Sign a Kubernetes bound service-account token (a projected token's shape).

        ``sub`` is ``system:serviceaccount:NAMESPACE:NAME``; the ``kubernetes.io`` claim holds
        the namespace, the service account and the optional pod, node and secret, each with
        a uid, and ``warnafter`` if given; the header has no ``typ``, as the API server's.

        Args:
            namespace: The service account's namespace.
            name: The service account's name.
            audience: The audiences (default: the issuer, as the API server's default);
                a single audience is serialized as a string, as go-jose does.
            pod: The pod the token is bound to.
            node: The node the pod runs on.
            secret: The secret the token is bound to (then give no pod, as Kubernetes).
            warn_after: ``kubernetes.io.warnafter``: when an admission-extended token's real
                lifetime ends (a datetime or seconds since the epoch).
            expires_in: Lifetime in seconds (Kubernetes' default is an hour).
            kid: Sign with this key instead of the current one.
            claims: More claims.

        Returns:
            The compact JWT.
        """
        private = service_account_claims(
            namespace, name, pod=pod, node=node, secret=secret, warn_after=warn_after
        )
        private.update(claims or {})
        return self.mint(
            private,
            kid=kid,
            expires_in=expires_in,
            audience=kubernetes_audience(audience if audience is not None else self.issuer),
            subject=f"system:serviceaccount:{namespace}:{name}",
            headers={"typ": None},
        )

    def mint_legacy_service_account(
        self,
        namespace: str = "default",
        name: str = "default",
        *,
        secret: str | None = None,
        kid: str | None = None,
    ) -> str:
        """Sign a legacy secret-based service-account token (before bound tokens).

        Its claims are flat (``kubernetes.io/serviceaccount/namespace``,
        ``.../service-account.name``, ``.../service-account.uid``, ``.../secret.name``),
        ``iss`` is ``kubernetes/serviceaccount`` whatever this issuer's URL, and it has no
        ``exp``, ``iat``, ``aud`` or ``jti``: it is valid until its secret is deleted.

        Args:
            namespace: The service account's namespace.
            name: The service account's name.
            secret: The secret's name (default: ``NAME-token-xxxxx``, as Kubernetes names it).
            kid: Sign with this key instead of the current one.

        Returns:
            The compact JWT.
        """
        claims = legacy_service_account_claims(namespace, name, secret or f"{name}-token-x7k2p")
        unset: dict[str, Any] = {"iat": None, "nbf": None, "jti": None}
        return self.mint(
            {**claims, **unset},
            kid=kid,
            expires_in=None,
            issuer=claims["iss"],
            headers={"typ": None},
        )

    # -- headers and auth ----------------------------------------------------------------

    def set_headers(
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
        """Change the JWKS response headers; arguments not given stay as they are.

        ``None`` removes a header. With an ETag, a request whose ``If-None-Match`` matches
        gets a 304; with a Last-Modified, so does one whose ``If-Modified-Since`` is not
        older (when it sends no ``If-None-Match``).

        Args:
            cache_control: ``Cache-Control``; also sent with the discovery document.
            expires: ``Expires``: a string as sent, a ``datetime``, or a number of seconds
                from the time of each response.
            etag: ``True`` for an ETag computed from the body (it changes with the keys), a
                string for a fixed one.
            last_modified: ``True`` for the time the key set last changed, else a string, a
                ``datetime`` or a Unix time.
            content_type: ``Content-Type``.
            age: ``Age`` in seconds.
            extra: Other headers (``{"Pragma": "no-cache"}``); ``None`` removes one.
        """
        with self._lock:
            self._headers.update(
                cache_control=cache_control,
                expires=expires,
                etag=etag,
                last_modified=last_modified,
                content_type=content_type,
                age=age,
                extra=extra,
            )

    def set_bearer_token(self, token: str | None) -> None:
        """Require ``Authorization: Bearer <token>`` on every path (``None``: no auth)."""
        with self._lock:
            self._bearer = token

    # -- faults --------------------------------------------------------------------------

    def write_pod_files(
        self, directory: str | os.PathLike[str], namespace: str = "default", name: str = "default"
    ) -> str:
        """Write what the kubelet mounts in a pod, and accept its token as bearer.

        Into ``directory`` (a stand-in for ``/var/run/secrets/kubernetes.io/serviceaccount``):
        ``token`` (a new service-account token for ``NAMESPACE:NAME``, audience this
        issuer), ``ca.crt`` (this server's CA, with ``tls=True``) and ``namespace``. From now
        on this server answers 401 to any other bearer token, as an API server does. Call it
        again to imitate the kubelet rotating the token.

        Returns:
            The new token.
        """
        token = self.mint_service_account(namespace, name)
        folder = pathlib.Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "namespace").write_text(namespace)
        if self._tls is not None:
            shutil.copyfile(self._tls.ca_file, folder / "ca.crt")
        # As the kubelet: the new file replaces the old one in a single rename.
        (folder / "token.new").write_text(token)
        os.replace(folder / "token.new", folder / "token")
        self.set_bearer_token(token)
        return token

    def _schedule(self, fault: Fault) -> None:
        with self._lock:
            self._faults.add(fault)

    def _path(self, path: str | None) -> str:
        return self._jwks_path if path is None else path

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        *,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests with an error status.

        Faults apply to the JWKS path unless ``path`` names another (``"*"``: any path).
        Counted faults (all but ``serve_body(times=None)``) queue up and are used in the
        order they were scheduled.

        Args:
            n: How many requests fail.
            status: The status code.
            body: The body (default: the reason phrase, as text).
            headers: More headers, e.g. ``{"Retry-After": "1"}``.
            path: The path it applies to.
        """
        payload = status_text(status) if body is None else body
        self._schedule(
            Fault(
                "fail",
                self._path(path),
                remaining=n,
                status=status,
                body=payload.encode() if isinstance(payload, str) else payload,
                content_type="text/plain; charset=utf-8" if body is None else None,
                headers=dict(headers or {}),
            )
        )

    def set_latency(self, seconds: float) -> None:
        """Delay every response, on every path, by ``seconds`` (``0`` to stop)."""
        with self._lock:
            self._faults.latency = max(0.0, float(seconds))

    def hang_next(self, n: int = 1, seconds: float = 30, *, path: str | None = None) -> None:
        """Wait ``seconds`` before answering the next ``n`` requests (then answer normally).

        Use it with a client timeout shorter than ``seconds``. :meth:`close` cuts the wait
        short.
        """
        self._schedule(Fault("hang", self._path(path), remaining=n, seconds=float(seconds)))

    def drop_next(self, n: int = 1, *, path: str | None = None) -> None:
        """Close the connection of the next ``n`` requests without answering."""
        self._schedule(Fault("drop", self._path(path), remaining=n))

    def serve_body(
        self,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str | None = _JSON,
        times: int | None = None,
        path: str | None = None,
    ) -> None:
        """Serve this body instead of the JWKS (truncated JSON, HTML, a huge document ...).

        The body goes out with the current caching headers.

        Args:
            body: The bytes to serve (a string is UTF-8 encoded).
            status: The status code.
            content_type: ``Content-Type`` (``None``: none).
            times: For how many requests; ``None``: until :meth:`reset_faults`.
            path: The path it applies to.
        """
        data = body.encode() if isinstance(body, str) else bytes(body)
        self._schedule(
            Fault(
                "body",
                self._path(path),
                remaining=times,
                status=status,
                body=data,
                content_type=content_type,
            )
        )

    def redirect_next(
        self, location: str, n: int = 1, status: int = 302, *, path: str | None = None
    ) -> None:
        """Redirect the next ``n`` requests to ``location`` (a URL or a path)."""
        self._schedule(
            Fault("redirect", self._path(path), remaining=n, status=status, location=location)
        )

    @property
    def fault_counts(self) -> dict[FaultKind, int]:
        """How many responses each kind of fault shaped.

        Keys: ``"fail"``, ``"latency"``, ``"hang"``, ``"drop"``, ``"body"``, ``"redirect"``.
        """
        with self._lock:
            return dict(self._faults.counts)

    def reset_faults(self) -> None:
        """Cancel scheduled faults and latency, and zero :attr:`fault_counts`."""
        with self._lock:
            self._faults.reset()

    # -- observability -------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received, oldest first (a copy).

        A request is logged before its answer is sent, so it is here as soon as a client
        has its response.
        """
        with self._lock:
            return list(self._log)

    @property
    def fetch_count(self) -> int:
        """Requests to the JWKS path, whatever their answer."""
        with self._lock:
            return self._fetches

    @property
    def discovery_count(self) -> int:
        """Requests to the discovery path, whatever their answer."""
        with self._lock:
            return self._discoveries

    def wait_for_fetches(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until :attr:`fetch_count` reaches ``count`` (for background refreshes).

        Returns:
            Whether it did within ``timeout`` seconds.
        """
        with self._changed:
            return self._changed.wait_for(lambda: self._fetches >= count, timeout)

    def reset(self) -> None:
        """Back to the state at start, keeping the first key (no new key is generated).

        Faults, latency, the request log and counters are cleared; headers, bearer token
        and discovery document return to the constructor's; keys added by :meth:`rotate`
        and :meth:`add_key` are dropped and the first key is published and current again.
        """
        with self._lock:
            self._faults.reset()
            self._log.clear()
            self._fetches = 0
            self._discoveries = 0
            self._headers = self._initial_headers.copy()
            self._bearer = self._initial_bearer
            self._discovery_overrides.clear()
            self._reset_keys()

    # -- internals -----------------------------------------------------------------------

    def _new_private_key(self) -> PrivateKey:
        return generate_private_key(self._kty, key_size=self._key_size, crv=self._crv)

    def _key(self, kid: str | None) -> IssuerKey:
        try:
            return self._keys[self._current if kid is None else kid]
        except KeyError:
            raise KeyError(
                f"no key with kid {kid!r}; the issuer holds {list(self._keys)}"
            ) from None

    def _add(self, key: IssuerKey) -> None:
        if key.kid in self._keys:
            raise ValueError(f"a key with kid {key.kid!r} already exists")
        self._keys[key.kid] = key

    def _reset_keys(self) -> None:
        self._initial_key.published = True
        self._keys = {self._initial_key.kid: self._initial_key}
        self._current = self._initial_key.kid
        self._key_set_changed()

    def _key_set_changed(self) -> None:
        self._jwks_body = None
        # Whole seconds, strictly increasing, so If-Modified-Since always sees a change.
        self._changed_at = max(int(time.time()), self._changed_at + 1)

    def _respond(self, request: Request) -> Reply:
        with self._lock:
            latency = self._faults.take_latency()
            reply = self._reply(request)
            reply.delay += latency
            if request.path == self._jwks_path:
                self._fetches += 1
            elif request.path == self._discovery_path:
                self._discoveries += 1
            self._log.append(
                RequestRecord(
                    path=request.path,
                    method=request.method,
                    headers=request.headers,
                    time=request.time,
                    status=0 if reply.drop else reply.status,
                    query=request.query,
                )
            )
            self._changed.notify_all()
            return reply

    def _reply(self, request: Request) -> Reply:
        fault = self._faults.take(request.path)
        if fault is None:
            return self._answer(request)
        if fault.kind == "drop":
            return Reply(0, drop=True)
        if fault.kind == "hang":
            reply = self._answer(request)
            reply.delay += fault.seconds
            return reply
        if fault.kind == "redirect":
            return Reply(fault.status, [("Location", fault.location)])
        headers = list(fault.headers.items())
        if fault.content_type is not None:
            headers.insert(0, ("Content-Type", fault.content_type))
        if fault.kind == "body":
            valid = validators(self._headers, fault.body, self._changed_at)
            headers.extend(cache_headers(self._headers, valid, time.time()))
        return Reply(fault.status, headers, fault.body)

    def _authorized(self, request: Request) -> bool:
        if self._bearer is None:
            return True
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self._bearer

    def _answer(self, request: Request) -> Reply:
        if not self._authorized(request):
            return Reply(
                401,
                [("Content-Type", _JSON), ("WWW-Authenticate", 'Bearer realm="LocalIssuer"')],
                _UNAUTHORIZED,
            )
        if request.path not in (self._jwks_path, self._discovery_path):
            return Reply(404, [("Content-Type", "text/plain")], b"404 page not found\n")
        if request.method not in ("GET", "HEAD"):
            return Reply(405, [("Allow", "GET, HEAD")])
        if request.path == self._discovery_path:
            headers = [("Content-Type", _JSON)]
            if self._headers.cache_control is not None:
                headers.append(("Cache-Control", self._headers.cache_control))
            return Reply(200, headers, _json_bytes(self.discovery()))
        if self._jwks_body is None:
            self._jwks_body = _json_bytes(self.jwks())
        body = self._jwks_body
        valid = validators(self._headers, body, self._changed_at)
        headers = cache_headers(self._headers, valid, time.time())
        if not_modified(request.headers, valid):
            return Reply(304, headers)
        if self._headers.content_type is not None:
            headers.insert(0, ("Content-Type", self._headers.content_type))
        return Reply(200, headers, body)
