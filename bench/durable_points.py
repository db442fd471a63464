"""What a store's durable points cost the log fsyncs of nodes sharing one disk.

Usage: ``python -m bench.durable_points [--rate R] [--seconds S] [--nodes N] [--dir DIR]
[--json-out [PATH]]``.

Each of ``--nodes`` processes plays a node at a steady rate of single-event appends: it saves
the entry in its log (``SqliteLogStorage``, ``fsync: always``), applies it to a store
(``StateMachine``, which takes a durable point once a second and fsyncs the store's WAL), and
does the disk work a node does after its answers (``StateMachine.maintain``).  It runs twice:
with the stores' early write-out (engine/storage/writeback.py, what the nodes do) and without it
(the WAL's pages left dirty until the point's fsync).  It prints the log saves' latency, which an
append waits for, how long the points' fsyncs took, and the nodes' CPU per appended event.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import shutil
import tempfile
import time
from multiprocessing.queues import Queue
from pathlib import Path

from bench.lib.machine import StealWatch
from bench.lib.percentiles import percentile_ms
from bench.lib.results import Results, add_json_out
from engine.protocol.commands import build_append, build_create_store, encode_command
from engine.replication.messages import Entry
from engine.storage import durability, writeback
from engine.storage.raft_log import SqliteLogStorage
from engine.storage.state_machine import StateMachine

# One node's figures: log save durations, point fsync durations (seconds), CPU seconds used.
NodeFigures = tuple[list[float], list[float], float]


def node(
    directory: Path, early: bool, rate: float, seconds: float, out: Queue[NodeFigures]
) -> None:
    """One node's disk work at ``rate`` appends/s; puts its ``NodeFigures``."""
    if not early:
        writeback._sync_file_range = None  # the same node, without the write-out
    fsyncs: list[float] = []
    plain_fsync = durability.fsync_path

    def timed_fsync(path: Path) -> None:
        start = time.perf_counter()
        plain_fsync(path)
        if path.name.endswith("-wal"):
            fsyncs.append(time.perf_counter() - start)

    durability.fsync_path = timed_fsync
    cpu_start = time.process_time()
    log = SqliteLogStorage(directory / "raft.db", "always")
    state = StateMachine(directory, "always")
    create = encode_command(build_create_store({"store_id": "s"}, now_epoch_us=0))
    log.save(None, [Entry(1, 1, create)])
    state.apply([(1, create)])
    saves: list[float] = []
    ids = iter(range(10**9))
    t0 = time.perf_counter()
    for index in range(2, int(rate * seconds) + 2):
        delay = t0 + (index - 2) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        body = {"events": [{"event_type": "t:v1", "data": {"i": index, "pad": "x" * 200}}]}
        command = build_append(
            "s",
            "stream",
            body,
            now_epoch_us=0,
            new_id=lambda: f"id-{next(ids)}",
            max_events=1,
        )
        data = encode_command(command)
        start = time.perf_counter()
        log.save(None, [Entry(index, 1, data)])
        saves.append(time.perf_counter() - start)
        state.apply([(index, data)])
        state.maintain()
    state.close()
    log.close()
    out.put((saves, fsyncs, time.process_time() - cpu_start))


def run(
    parent: Path, early: bool, nodes: int, rate: float, seconds: float, results: Results
) -> str:
    """All nodes at once; one line of figures."""
    directory = Path(tempfile.mkdtemp(prefix="gate-points-", dir=parent))
    try:
        out: Queue[NodeFigures] = multiprocessing.Queue()
        procs = [
            multiprocessing.Process(
                target=node, args=(directory / f"node{k}", early, rate, seconds, out)
            )
            for k in range(nodes)
        ]
        steal = StealWatch()
        steal.start()
        for proc in procs:
            proc.start()
        try:
            figures = [out.get(timeout=seconds + 60) for _ in procs]
        except queue.Empty:
            raise SystemExit("a node process failed (its traceback is above)") from None
        finally:
            for proc in procs:
                proc.join(timeout=5)
                proc.kill()
        steal.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    saves = [s for r in figures for s in r[0]]
    points = [f for r in figures for f in r[1]]
    cpu_us = sum(r[2] for r in figures) / len(saves) * 1e6 if saves else float("nan")
    label = "early write-out   " if early else "dirty until fsync "
    results.add(
        label.strip(),
        {
            "log_save p50_ms": round(percentile_ms(saves, 0.5), 3),
            "log_save p99_ms": round(percentile_ms(saves, 0.99), 3),
            "log_save max_ms": round(percentile_ms(saves, 1.0), 3),
            "points": len(points),
            "point_fsync p50_ms": round(percentile_ms(points, 0.5), 3),
            "point_fsync max_ms": round(percentile_ms(points, 1.0), 3),
            "cpu_us_per_event": round(cpu_us, 1),
        },
        steal.result,
    )
    return (
        f"{label} log save p50 {percentile_ms(saves, 0.5):.2f} p99 {percentile_ms(saves, 0.99):.2f}"
        f" max {percentile_ms(saves, 1.0):.2f} ms | point fsync (n={len(points)})"
        f" p50 {percentile_ms(points, 0.5):.2f} max {percentile_ms(points, 1.0):.2f} ms"
        f" | {cpu_us:,.0f} µs CPU per event | steal {steal.average:.1f}%"
    )


def main() -> None:
    """Parse the options and run both ways, twice, interleaved."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="appends per second per node")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--nodes", type=int, default=3, help="processes sharing the disk")
    parser.add_argument("--dir", default=".", help="where the data goes (not tmpfs!)")
    add_json_out(parser, "durable_points")
    args = parser.parse_args()
    results = Results("durable_points", args.json_out)
    if not writeback.available():
        print("no sync_file_range on this platform: both runs are the same")
    print(f"{args.nodes} nodes, {args.rate:g} single-event appends/s each, {args.seconds:g} s")
    for _ in range(2):
        for early in (True, False):
            line = run(Path(args.dir), early, args.nodes, args.rate, args.seconds, results)
            print(line, flush=True)
    results.save()


if __name__ == "__main__":
    main()
