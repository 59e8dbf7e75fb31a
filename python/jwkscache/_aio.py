"""``JWKSCache.decode_async``: the cache-hit path inline, any fetch in a thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from jwkscache._core import JWKSCache

T = TypeVar("T")


async def _to_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:  # anyio (Starlette, FastAPI) also serves trio; asyncio otherwise.
        import anyio.to_thread
    except ImportError:
        import asyncio

        return await asyncio.to_thread(func, *args, **kwargs)
    return await anyio.to_thread.run_sync(lambda: func(*args, **kwargs))


async def decode_async(cache: JWKSCache, token: str | bytes, **kwargs: Any) -> dict[str, Any]:
    """Verifies ``token`` without blocking the event loop on the network."""
    claims = cache._decode_no_io(token, **kwargs)
    if claims is not None:
        return claims
    result: dict[str, Any] = await _to_thread(cache.decode, token, **kwargs)
    return result
