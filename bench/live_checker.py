"""What the consoles' live verdict costs: CPU per event and the memory its window holds.

Usage: ``python -m bench.live_checker [--events N] [--keep K] [--json-out [PATH]]``.

Feeds ``engine.client.checker.LiveChecker`` N greenhouse-like events: each acknowledged (as a
producer tells it), then read from three nodes in pages of 1000 (as the verdict monitor reads
them).  Prints the CPU time per event (acknowledged once, read on three nodes), and the memory
the checker holds once its window is full (tracemalloc, in a second pass), with every node
read, and with one node down all along, when acknowledgements wait for it up to ``keep``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import uuid
from typing import Any

from bench.lib.machine import StealWatch
from bench.lib.results import Results, add_json_out
from engine.client.checker import KEEP, LiveChecker

NODES = ("node1", "node2", "node3")
PAGE = 1000


def _events(count: int) -> list[dict[str, Any]]:
    numbers: dict[str, int] = {}
    events = []
    for position in range(1, count + 1):
        stream = f"greenhouse-{position % 3 + 1}"
        numbers[stream] = numbers.get(stream, -1) + 1
        events.append(
            {
                "event_id": str(uuid.UUID(int=position)),
                "event_type": "temperature_measured:v1",
                "stream_id": stream,
                "event_number": numbers[stream],
                "position": position,
                "data": {"temperature": 20.0 + position % 70 / 10, "sensor": "t1"},
                "metadata": {"source": "bench"},
            }
        )
    return events


def _run(events: list[dict[str, Any]], keep: int, nodes: tuple[str, ...]) -> LiveChecker:
    checker = LiveChecker(0, keep=keep)
    checker.members(NODES)
    for start in range(0, len(events), PAGE):
        page = events[start : start + PAGE]
        for event in page:
            checker.acked(event["stream_id"], [event], event["event_number"], event["position"])
        for node in nodes:
            checker.observe(node, page)
    return checker


def _held_bytes(events: list[dict[str, Any]], keep: int, nodes: tuple[str, ...]) -> int:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    checker = _run(events, keep, nodes)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert checker.verdict().ok
    return held


def main() -> None:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--keep", type=int, default=KEEP)
    add_json_out(parser, "live_checker")
    args = parser.parse_args()
    if args.keep < PAGE:  # a page of acknowledgements must fit before its reads
        parser.error(f"--keep must be at least {PAGE}")
    results = Results("live_checker", args.json_out)
    events = _events(args.events)
    with StealWatch() as steal:
        cpu_start = time.process_time()
        checker = _run(events, args.keep, NODES)
        cpu = time.process_time() - cpu_start
        verdict = checker.verdict()
        assert verdict.ok and verdict.checked == args.events, verdict
        all_read = _held_bytes(events, args.keep, NODES)
        one_down = _held_bytes(events, args.keep, NODES[:2])
    per_event = cpu / args.events * 1e6
    print(
        f"live checker, {args.events:,} events acknowledged and read on 3 nodes,"
        f" keep {args.keep:,}: {per_event:.1f} µs CPU per event"
    )
    print(f"  memory held, every node read:   {all_read / 1e6:5.1f} MB")
    print(f"  memory held, one node down:     {one_down / 1e6:5.1f} MB")
    figures = {
        "events": args.events,
        "keep": args.keep,
        "cpu_us_per_event": round(per_event, 2),
        "held_mb_all_read": round(all_read / 1e6, 2),
        "held_mb_one_down": round(one_down / 1e6, 2),
    }
    results.add(f"{args.events} events, keep {args.keep}", figures, steal.result)
    results.save()


if __name__ == "__main__":
    main()
