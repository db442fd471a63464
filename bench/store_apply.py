"""Micro-benchmark of one store: apply throughput (group commit) and read throughput.

Usage: ``python -m bench.store_apply [--batches N] [--appends N] [--events N] [--sync]
[--json-out [PATH]]``.
Prints events/s and CPU µs per event for ``EventStore.apply_batch`` (with ``--sync``, an fsync of
the store's WAL after every transaction) and the time and CPU per event of 1000-event stream and
``$all`` reads.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.lib.machine import StealWatch
from bench.lib.results import Results, add_json_out
from engine.storage.durability import fsync_path
from engine.storage.event_store import EventStore


def _append(stream: str, n: int, seq: int, rng: random.Random) -> dict[str, Any]:
    return {
        "op": "append",
        "store": "bench",
        "stream": stream,
        "expected_version": "any",
        "events": [
            {
                "event_id": f"e-{seq}-{k}",
                "event_type": "temperature_measured:v1",
                "data": {"temperature": rng.randint(6, 35)},
                "metadata": {"causation_id": f"c-{seq}", "correlation_id": f"r-{seq}"},
                "created_epoch": 1_795_342_503_123_456 + seq,
            }
            for k in range(n)
        ],
    }


def main() -> None:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="apply_batch calls")
    parser.add_argument("--appends", type=int, default=100, help="append commands per batch")
    parser.add_argument("--events", type=int, default=10, help="events per append")
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--sync", action="store_true", help="fsync after every transaction")
    add_json_out(parser, "store_apply")
    args = parser.parse_args()
    results = Results("store_apply", args.json_out)
    steal = StealWatch()
    steal.start()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore.create(
            Path(tmp) / "bench.db", config={}, created_epoch=0, applied_index=0
        )
        index = 0
        batches = []
        for _ in range(args.batches):
            items = []
            for _ in range(args.appends):
                index += 1
                stream = f"greenhouse-{rng.randrange(args.streams) + 1}"
                items.append((index, _append(stream, args.events, index, rng)))
            batches.append(items)
        started, cpu_start = time.perf_counter(), time.process_time()
        for items in batches:
            store.apply_batch(items)
            if args.sync:
                fsync_path(store.wal_path)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_start
        total = args.batches * args.appends * args.events
        mode = "sync" if args.sync else "no sync"
        print(
            f"apply_batch ({mode}): {total} events in {elapsed:.3f}s"
            f" = {total / elapsed:,.0f} events/s ({args.batches} transactions),"
            f" {cpu / total * 1e6:.1f} µs CPU per event"
        )
        figures = {
            "events": total,
            "apply events_per_s": round(total / elapsed, 1),
            "apply cpu_us_per_event": round(cpu / total * 1e6, 2),
        }

        reads = 50
        started, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(reads):
            store.read_stream("greenhouse-1", 0, 1000, "forward")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_start
        print(
            f"read_stream 1000: {elapsed / reads * 1000:.2f} ms per read,"
            f" {cpu / (reads * 1000) * 1e6:.2f} µs CPU per event"
        )
        figures["read_stream_1000 ms"] = round(elapsed / reads * 1000, 3)
        figures["read_stream cpu_us_per_event"] = round(cpu / (reads * 1000) * 1e6, 2)
        started, cpu_start = time.perf_counter(), time.process_time()
        for i in range(reads):
            store.read_all(i * 100, 1000, "forward")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_start
        print(
            f"read_all 1000: {elapsed / reads * 1000:.2f} ms per read"
            f" = {reads * 1000 / elapsed:,.0f} events/s, {cpu / (reads * 1000) * 1e6:.2f} µs CPU"
            " per event"
        )
        figures["read_all_1000 ms"] = round(elapsed / reads * 1000, 3)
        figures["read_all cpu_us_per_event"] = round(cpu / (reads * 1000) * 1e6, 2)
        store.close()
    steal.stop()
    scenario = f"{args.appends} appends of {args.events} events per batch, {mode}"
    results.add(scenario, figures, steal.result)
    results.save()


if __name__ == "__main__":
    main()
