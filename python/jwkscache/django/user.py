"""``request.user`` for a verified token: no database row, the token's claims."""

from __future__ import annotations

from typing import Any

from jwkscache.bearer import VerifiedToken


class TokenUser:
    """A user known by a verified token, shaped like Django's users where it matters.

    ``pk`` and ``username`` are the token's ``sub``; it has no permissions and no groups
    (check scopes instead).

    Attributes:
        token: The :class:`~jwkscache.bearer.VerifiedToken`.
    """

    is_active = True
    is_staff = False
    is_superuser = False
    is_authenticated = True
    is_anonymous = False

    def __init__(self, token: VerifiedToken) -> None:
        self.token = token

    @property
    def pk(self) -> str | None:
        """The token's ``sub``."""
        return self.token.subject

    id = pk

    @property
    def username(self) -> str:
        """The token's ``sub`` (``""`` without one)."""
        return self.token.subject or ""

    @property
    def claims(self) -> dict[str, Any]:
        """The verified claims."""
        return self.token.claims

    @property
    def scopes(self) -> frozenset[str]:
        """The token's scopes."""
        return self.token.scopes

    def has_scopes(self, *names: str) -> bool:
        """Whether the token carries every one of ``names``."""
        return self.token.has_scopes(*names)

    def get_username(self) -> str:
        """The token's ``sub``."""
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        """Always ``False``: a token carries scopes, not Django permissions."""
        return False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        """Always ``False``."""
        return False

    def has_module_perms(self, app_label: str) -> bool:
        """Always ``False``."""
        return False

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return f"TokenUser({self.username!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenUser) and other.token.claims == self.token.claims

    def __hash__(self) -> int:
        return hash(self.username)


class AnonymousTokenUser:
    """``request.user`` for a request without a token (``REQUIRED`` ``False``), when no
    other middleware (``django.contrib.auth``'s) has set one: like Django's
    ``AnonymousUser``, without importing the auth models.
    """

    pk = None
    id = None
    username = ""
    is_active = False
    is_staff = False
    is_superuser = False
    is_authenticated = False
    is_anonymous = True
    token = None
    claims: dict[str, Any] = {}  # noqa: RUF012 - read only, like Django's AnonymousUser
    scopes: frozenset[str] = frozenset()

    def has_scopes(self, *names: str) -> bool:
        """``True`` only when no scope is asked for."""
        return not names

    def get_username(self) -> str:
        """``""``."""
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        """Always ``False``."""
        return False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        """Always ``False``."""
        return False

    def has_module_perms(self, app_label: str) -> bool:
        """Always ``False``."""
        return False

    def __str__(self) -> str:
        return "AnonymousUser"

    def __repr__(self) -> str:
        return "AnonymousTokenUser()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnonymousTokenUser)

    def __hash__(self) -> int:
        return 1


ANONYMOUS = AnonymousTokenUser()
