"""``release_gil``: every policy verifies correctly from many threads, busy neighbours included.

The policies differ in speed only (measured by ``jwkscache bench``, never asserted here);
these tests check that decodes stay correct and complete whatever the policy: results and
errors reach the right thread, next to a thread spinning in Python bytecode too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import jwkscache
from conftest import Signer
from jwkscache import exceptions as exc


@pytest.mark.parametrize("release_gil", [None, True, False])
@pytest.mark.parametrize("busy_neighbour", [False, True])
def test_threads_decode_correctly_under_every_policy(
    signer: Signer,
    other_signer: Signer,
    mint: Callable[..., str],
    release_gil: bool | None,
    busy_neighbour: bool,
) -> None:
    cache = jwkscache.JWKSCache.from_jwks(
        {"keys": [signer.jwk]}, token_cache_size=0, release_gil=release_gil
    )
    forged = other_signer.mint({"sub": "forged"})
    tokens = [mint({"sub": f"thread-{n}"}) for n in range(4)]
    outcomes: dict[int, list[Any]] = {n: [] for n in range(4)}
    stop = threading.Event()

    def spin() -> None:
        counter = 0
        while not stop.is_set():
            counter += 1

    def work(n: int) -> None:
        for _ in range(25):
            outcomes[n].append(cache.decode(tokens[n])["sub"])
            try:
                cache.decode(forged)
            except exc.InvalidSignatureError as error:
                outcomes[n].append(type(error))

    spinner = threading.Thread(target=spin, daemon=True)
    if busy_neighbour:
        spinner.start()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
    finally:
        stop.set()
    assert not any(worker.is_alive() for worker in workers)
    for n in range(4):
        assert outcomes[n] == [f"thread-{n}", exc.InvalidSignatureError] * 25


@pytest.mark.parametrize("value", ["yes", 1.5])
def test_release_gil_takes_a_bool_or_none(jwks: dict[str, Any], value: Any) -> None:
    with pytest.raises(TypeError):
        jwkscache.JWKSCache.from_jwks(jwks, release_gil=value)
