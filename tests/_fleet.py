"""N worker processes, each with its own JWKSCache on one shared Redis, released together.

``run_fleet`` starts the workers (``spawn``, or ``fork`` from a spawned launcher so the
forking process has no threads, as a gunicorn master with ``--preload``), waits for all of
them to be ready, releases them together with a barrier, and returns what each reports.

A worker runs a plan of steps:
- ``("decode", token)``: one decode; records ``"ok"`` or the exception's class name;
- ``("loop", seconds, tokens)``: decodes each token in turn for that long (every 20 ms),
  counting outcomes per token index;
- ``("sleep", seconds)``; ``("refresh",)``.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import Counter
from typing import Any

SECRET = b"fleet-secret-for-tests-0123456789"


def _cache(spec: dict[str, Any]) -> Any:
    import jwkscache
    from jwkscache.shared import RedisStore

    kwargs = dict(spec.get("cache", {}))
    if spec.get("redis_port") is not None:
        url = f"redis://127.0.0.1:{spec['redis_port']}/0"
        kwargs["shared"] = RedisStore.from_url(url, secret=spec.get("secret", SECRET))
    return jwkscache.JWKSCache(spec["url"], **kwargs)


def _outcome(cache: Any, token: str, audience: str | None) -> str:
    try:
        cache.decode(token, audience=audience)
    except Exception as error:
        return type(error).__name__
    return "ok"


def _run(spec: dict[str, Any], barrier: Any, results: Any, cache: Any = None) -> None:
    report: dict[str, Any] = {"pid": os.getpid()}
    try:
        cache = cache if cache is not None else _cache(spec)
        barrier.wait(timeout=60)
        outcomes: list[str] = []
        loops: list[dict[int, Counter[str]]] = []
        audience = spec.get("audience")
        for step in spec["plan"]:
            if step[0] == "decode":
                outcomes.append(_outcome(cache, step[1], audience))
            elif step[0] == "loop":
                end = time.monotonic() + step[1]
                counts: dict[int, Counter[str]] = {i: Counter() for i in range(len(step[2]))}
                while time.monotonic() < end:
                    for i, token in enumerate(step[2]):
                        counts[i][_outcome(cache, token, audience)] += 1
                    time.sleep(0.02)
                loops.append(counts)
            elif step[0] == "sleep":
                time.sleep(step[1])
            elif step[0] == "refresh":
                try:
                    cache.refresh()
                    outcomes.append("ok")
                except Exception as error:
                    outcomes.append(type(error).__name__)
        stats = cache.stats()
        report.update(
            outcomes=outcomes, loops=[{i: dict(c) for i, c in lp.items()} for lp in loops]
        )
        report.update(stats=stats)
    except BaseException as error:
        report["error"] = f"{type(error).__name__}: {error}"
    results.put(report)


def _launcher(spec: dict[str, Any], n: int, barrier: Any, results: Any) -> None:
    """In a spawned process without threads: fork ``n`` workers (preloading one cache)."""
    ctx = multiprocessing.get_context("fork")
    cache = _cache(spec) if spec.get("preload") else None
    workers = [ctx.Process(target=_run, args=(spec, barrier, results, cache)) for _ in range(n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)


class Fleet:
    """A running fleet; :meth:`join` collects the reports."""

    def __init__(self, spec: dict[str, Any], n: int, method: str = "spawn") -> None:
        ctx = multiprocessing.get_context("spawn")
        self.n = n
        self.barrier = ctx.Barrier(n + 1)
        self.results = ctx.Queue()
        if method == "fork":
            self.processes = [
                ctx.Process(target=_launcher, args=(spec, n, self.barrier, self.results))
            ]
        else:
            self.processes = [
                ctx.Process(target=_run, args=(spec, self.barrier, self.results)) for _ in range(n)
            ]
        for process in self.processes:
            process.start()

    def release(self) -> None:
        """Waits until every worker is ready, then lets them all go at once."""
        self.barrier.wait(timeout=120)

    def join(self, timeout: float = 240, expect: int | None = None) -> list[dict[str, Any]]:
        """The reports of the workers (``expect`` of them: a killed one does not report)."""
        reports = []
        deadline = time.monotonic() + timeout
        for _ in range(self.n if expect is None else expect):
            try:
                reports.append(self.results.get(timeout=max(0.1, deadline - time.monotonic())))
            except Exception:
                break
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
        self.results.close()
        self.results.join_thread()
        for report in reports:
            assert "error" not in report, report
        return reports


def run_fleet(spec: dict[str, Any], n: int, method: str = "spawn") -> list[dict[str, Any]]:
    """Starts ``n`` workers, releases them together, and returns their reports."""
    fleet = Fleet(spec, n, method)
    fleet.release()
    return fleet.join()
