"""The RFC 6750 answer of a ``BearerError`` as a Django ``JsonResponse``."""

from __future__ import annotations

from django.http import JsonResponse

from jwkscache.bearer import BearerError


def bearer_response(error: BearerError) -> JsonResponse:
    """The JSON response for ``error``: its status, headers and body, ``Vary: Authorization``."""
    headers = {**error.headers, "Vary": "Authorization"}
    return JsonResponse(error.body, status=error.status_code, headers=headers)
