"""What a node would pay per round to move its disk work off the event loop, against the work.

Usage: ``python -m bench.handoff_cost [--rate R] [--count N] [--dir DIR] [--json-out [PATH]]``.

At a steady pace (200 rounds/s by default, as in ``bench.observer_latency``) it times, with the
loop idle between rounds as it is on a lightly loaded node:

- an fsync of a 200-byte append to a file (the disk work a round does);
- a hand-off to a worker thread and back (``run_in_executor`` of a no-op), which is what a node
  with a log or apply thread pays on top of that work, twice per round.

This is why ``engine.node.host`` does its SQLite work and fsyncs on the event loop itself
(docs/ENGINE.md, "On disk"). Run it with ``--dir`` on the disk the nodes use, not a tmpfs.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from bench.lib.machine import StealWatch
from bench.lib.percentiles import percentile_ms
from bench.lib.results import Results, add_json_out

Step = Callable[[], Awaitable[object] | None]


async def _paced(rate: float, count: int, step: Step) -> list[float]:
    """Durations in seconds of ``count`` awaited steps started ``1/rate`` apart."""
    durations: list[float] = []
    interval = 1 / rate
    start = time.perf_counter()
    for i in range(count):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        began = time.perf_counter()
        result = step()
        if inspect.isawaitable(result):
            await result
        durations.append(time.perf_counter() - began)
    return durations


def _report(name: str, durations: list[float], steal: StealWatch, results: Results) -> None:
    p50, p90, p99, top = (percentile_ms(durations, q) for q in (0.5, 0.9, 0.99, 1.0))
    print(f"  {name:<34} p50 {p50:6.2f}  p90 {p90:6.2f}  p99 {p99:6.2f}  max {top:6.2f} ms")
    figures = {"p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": top}
    results.add(name, {k: round(v, 3) for k, v in figures.items()}, steal.result)


async def run(rate: float, count: int, parent: str | None, results: Results) -> None:
    """Time both steps at ``rate``, ``count`` rounds each, in a file under ``parent``."""
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=1)
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        fd = os.open(os.path.join(tmp, "log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:

            def fsync_append() -> None:
                os.write(fd, b"x" * 200)
                os.fsync(fd)

            def hand_off() -> Awaitable[None]:
                return loop.run_in_executor(executor, lambda: None)

            print(f"{count} rounds at {rate:g}/s, loop idle between rounds ({tmp}):")
            for name, step in (
                ("fsync of a 200-byte append", fsync_append),
                ("thread hand-off and back (no-op)", hand_off),
            ):
                with StealWatch() as steal:
                    durations = await _paced(rate, count, step)
                _report(name, durations, steal, results)
        finally:
            os.close(fd)
            executor.shutdown()


def main() -> None:
    """Parse the options, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="rounds per second")
    parser.add_argument("--count", type=int, default=2000, help="rounds per measurement")
    parser.add_argument("--dir", help="parent directory of the test file (not tmpfs!)")
    add_json_out(parser, "handoff_cost")
    args = parser.parse_args()
    results = Results("handoff_cost", args.json_out)
    asyncio.run(run(args.rate, args.count, args.dir, results))
    results.save()


if __name__ == "__main__":
    main()
