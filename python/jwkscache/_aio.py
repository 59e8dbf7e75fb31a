"""``JWKSCache.decode_async``: the cache-hit path inline, any fetch in a thread.

A fetch runs in a worker thread, but never in more than ``FETCH_THREADS`` at once per event
loop: while the issuer hangs, every request needing new keys waits on the loop (costing no
thread), and the framework's shared thread pool (anyio's 40 threads, which FastAPI and
Starlette run ``def`` endpoints in) stays free. The fetch itself is single-flight in the
core, so the threads that do run all wait on the same request to the issuer.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import anyio
    from anyio.lowlevel import RunVar

    from jwkscache._core import JWKSCache

T = TypeVar("T")

#: The most worker threads verifying with a fetch at once, per event loop.
FETCH_THREADS = 4

_anyio_limiter: RunVar[anyio.CapacityLimiter] | None = None
_asyncio_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def fetch_limiter() -> anyio.CapacityLimiter:
    """The current event loop's limiter of fetch threads (anyio's; needs anyio)."""
    global _anyio_limiter
    import anyio
    from anyio.lowlevel import RunVar

    if _anyio_limiter is None:
        _anyio_limiter = RunVar("jwkscache_fetch_limiter")
    try:
        return _anyio_limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(FETCH_THREADS)
        _anyio_limiter.set(limiter)
        return limiter


async def _to_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:  # anyio (Starlette, FastAPI) also serves trio; asyncio otherwise.
        import anyio.to_thread
    except ImportError:
        loop = asyncio.get_running_loop()
        semaphore = _asyncio_limiters.get(loop)
        if semaphore is None:
            semaphore = _asyncio_limiters[loop] = asyncio.Semaphore(FETCH_THREADS)
        async with semaphore:
            return await asyncio.to_thread(func, *args, **kwargs)
    return await anyio.to_thread.run_sync(lambda: func(*args, **kwargs), limiter=fetch_limiter())


async def decode_async(cache: JWKSCache, token: str | bytes, **kwargs: Any) -> dict[str, Any]:
    """Verifies ``token`` without blocking the event loop on the network."""
    claims = cache._decode_no_io(token, **kwargs)
    if claims is not None:
        return claims
    result: dict[str, Any] = await _to_thread(cache.decode, token, **kwargs)
    return result
