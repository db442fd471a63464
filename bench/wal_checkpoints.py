"""What a WAL checkpoint costs the log's writer: inside its commits, or on a worker thread.

Usage: ``python -m bench.wal_checkpoints [--rate R] [--seconds S] [--size BYTES] [--dir DIR]
[--json-out [PATH]]``.

Saves one entry at a time into a node's log (``SqliteLogStorage``, ``fsync: always``) at a steady
rate, as a leader does at 200 appends/s, twice: once with SQLite's automatic checkpoint (every
1,000 pages, inside the commit that crosses the line: how the nodes worked before), once as the
nodes work now (no checkpoint in a commit; a worker thread checkpoints, engine/storage/wal.py).
A save during which the database file grew is one a checkpoint ran into; the figures compare
those saves with the others, and give this process's CPU per saved entry.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench.lib.machine import StealWatch
from bench.lib.percentiles import percentile_ms
from bench.lib.results import Figure, Results, add_json_out
from engine.replication.messages import Entry
from engine.storage.raft_log import SqliteLogStorage


def run(
    directory: Path, automatic: bool, rate: float, seconds: float, size: int, results: Results
) -> str:
    """Save entries at ``rate`` for ``seconds``; one line of figures."""
    path = directory / ("automatic.db" if automatic else "worker.db")
    log = SqliteLogStorage(path, "always", checkpoint_interval=float("inf") if automatic else 1.0)
    if automatic:
        log._db.execute("PRAGMA wal_autocheckpoint=1000")  # SQLite's default, as before
    hit: list[float] = []
    clear: list[float] = []
    data = b"x" * size
    db_size = path.stat().st_size
    steal = StealWatch()
    steal.start()
    cpu_start = time.process_time()
    t0 = time.perf_counter()
    for i in range(1, int(rate * seconds) + 1):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        start = time.perf_counter()
        log.save(None, [Entry(i, 1, data)])
        took = time.perf_counter() - start
        grown = path.stat().st_size
        (hit if grown != db_size else clear).append(took)
        db_size = grown
    log.close()
    cpu_us = (time.process_time() - cpu_start) / max(1, len(hit) + len(clear)) * 1e6
    steal.stop()

    def figures(values: list[float]) -> str:
        if not values:
            return "n=0"
        return (
            f"n={len(values)} p50 {percentile_ms(values, 0.5):.2f} "
            f"max {percentile_ms(values, 1.0):.2f} ms"
        )

    label = "checkpoint in the commit (SQLite's)" if automatic else "checkpoint on a worker"
    record: dict[str, Figure] = {"cpu_us_per_entry": round(cpu_us, 1)}
    for name, values in (("hit", hit), ("clear", clear)):
        record[f"{name} n"] = len(values)
        record[f"{name} p50_ms"] = round(percentile_ms(values, 0.5), 3) if values else None
        record[f"{name} max_ms"] = round(percentile_ms(values, 1.0), 3) if values else None
    results.add(label, record, steal.result)
    return (
        f"{label:36s} saves a checkpoint ran into: {figures(hit)}; "
        f"the others: {figures(clear)}; {cpu_us:,.0f} µs CPU per entry"
        f" (CPU steal {steal.average:.1f}%)"
    )


def main() -> None:
    """Parse the options, run both ways, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="saves per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per way")
    parser.add_argument("--size", type=int, default=4000, help="bytes per entry")
    parser.add_argument("--dir", help="parent directory of the logs (not tmpfs!)")
    add_json_out(parser, "wal_checkpoints")
    args = parser.parse_args()
    results = Results("wal_checkpoints", args.json_out)
    directory = Path(tempfile.mkdtemp(prefix="gate-wal-", dir=args.dir))
    try:
        print(f"{args.rate:g} saves/s of {args.size} bytes for {args.seconds:g} s, fsync always")
        for automatic in (True, False):
            print(run(directory, automatic, args.rate, args.seconds, args.size, results))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    results.save()


if __name__ == "__main__":
    main()
