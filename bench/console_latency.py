"""gate-console under load: key-press to screen-update latency and CPU at 5,000 events/s.

The dashboard runs in a child process on a real pseudo-terminal (120x40), exactly as in a
terminal window, with an observer fed 5,000 events/s for ten seconds (formatted into ``SEEN``
lines in the console process, as a real observer does).  Meanwhile this process presses keys
that switch panels and times how long it takes until the new panel's text arrives on the
terminal; it reads the child's CPU time from /proc.  The first half of the run has no key presses
(the CPU of following the flood on the feed panel); the second half presses keys: ``space``
(pause/follow the feed: an in-panel update) and ``3``/``2`` (switch panels, the heaviest common
key).  Goal: latency under 100 ms (p95, nearest rank), CPU under half a core.  ``--charts``
shows the live charts first (``G``): the feed's chart of events per second by type, drawn again
each second, is then on screen all along (plotext's, at this size).

    python -m bench.console_latency [--rate 5000] [--seconds 10] [--charts] [--json-out [PATH]]
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path
from typing import Any, cast

from bench.lib.machine import StealWatch, process_cpu_seconds
from bench.lib.percentiles import nearest_rank
from bench.lib.results import Figure, Results, add_json_out

_ROOT = Path(__file__).resolve().parents[1]
COLUMNS, ROWS = 120, 40
# A key and the text that shows once the screen has reacted to it.
IN_PANEL = ((b" ", b"paused"), (b" ", b"following"))
SWITCH = ((b"3", b"Dropped"), (b"2", b"Sources:"))


# -- the child: the dashboard over a synthetic event source --------------------------------------


def run_child(rate: int, seconds: float) -> None:
    """Run the dashboard with one observer fed ``rate`` events/s (this is the measured process)."""
    from console.ops.cluster import ClusterStatus, HealthSample, NodeLogPage, NodeRow
    from console.ops.formatting import seen_line
    from console.ops.line_feed import LineFeed
    from console.ops.observers import ObserverRow
    from console.ops.operations import Operations
    from console.ops.session import Access
    from console.tui.app import GateConsole

    def node(number: int) -> NodeRow:
        return NodeRow(
            f"node{number}", "leader" if number == 1 else "follower", number == 1,
            f"127.0.0.1:{8089 + number}", True, 1.0, f"127.0.0.1:{8889 + number}", True, 1.0,
            3, 0, 0, 0, True, True, None,
        )  # fmt: skip

    class Observer:
        def __init__(self) -> None:
            self.feed = LineFeed(500)
            self.seen = 0

    class Observers:
        def __init__(self) -> None:
            self.observer = Observer()

        def names(self) -> list[str]:
            return ["reg_gh:$all"]

        def get(self, name: str) -> Observer:
            return self.observer

        def rows(self) -> list[ObserverRow]:
            seen = self.observer.seen
            return [ObserverRow("reg_gh:$all", "by_stream", "by_stream $all", seen, rate, 0,
                                "running", None)]  # fmt: skip

    class Empty:
        def rows(self) -> list[Any]:
            return []

        def consumer_names(self) -> list[str]:
            return []

    class EmptyAsync:
        async def rows(self) -> list[Any]:
            return []

    class Subscriptions(EmptyAsync):
        def consumer_names(self) -> list[str]:
            return []

        def known_rows(self) -> list[Any]:
            return []

    class Cluster:
        # The Cluster panel's node-log pane polls this; the bench measures the feed, not it.
        async def node_log(
            self, node_id: str, *, after: int | None = None, limit: int = 100
        ) -> NodeLogPage:
            return NodeLogPage(node_id, 0.0, 0, 0, ())

    class Health:
        updates = 1
        latest = HealthSample(
            ClusterStatus("node1", 3, (node(1), node(2), node(3))), float(rate), None, 0.0
        )

    class Verdict:  # no producers: no verdict line
        latest = None
        unreadable = False

    class Messages:  # the Messages panel stays closed: no trace
        watching = False
        problem = ""

        def watch(self, on: bool) -> None:
            self.watching = on

        def drain(self) -> tuple[list[Any], int]:
            return [], 0

        def unfold(self, tempo: int) -> None:
            pass  # no trace to unfold

    class Inside:  # no fresher feed: the Cluster panel shows the view's values
        updates = 0

        def watch(self, on: bool) -> None:
            pass  # nothing to follow

        def merged(self, status: ClusterStatus) -> ClusterStatus:
            return status

    class Source:
        url = "http://127.0.0.1:8899"
        store = "reg_gh"
        started_engine = False
        access = Access()
        health = Health()
        verdict = Verdict()
        messages = Messages()
        inside = Inside()
        cluster = Cluster()
        observers = Observers()
        producers = Empty()
        subscriptions = Subscriptions()
        streams = EmptyAsync()

    source = Source()

    async def feed() -> None:
        observer = source.observers.observer
        tick, started, sent = 0.01, time.monotonic(), 0
        while time.monotonic() - started < seconds:
            due = int((time.monotonic() - started) * rate)
            for number in range(sent, due):
                observer.feed.push(seen_line(_record(number)))
            observer.seen, sent = due, due
            await asyncio.sleep(tick)

    class BenchConsole(GateConsole):
        def on_mount(self) -> None:
            super().on_mount()
            self.run_worker(feed(), group="bench-feed")

    BenchConsole(cast(Operations, source), blink=False).run()


def _record(number: int) -> dict[str, Any]:
    return {
        "stream_id": f"greenhouse-{1 + number % 10}",
        "event_type": "temperature_measured:v1",
        "event_number": number // 10,
        "position": number + 1,
        "data": {"temperature": 6 + number % 30},
    }


# -- the parent: keys in, screen out ---------------------------------------------------------


def _read(fd: int, timeout: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return b""
    try:
        return os.read(fd, 1 << 16)
    except OSError:
        return b""


def _wait_for(fd: int, marker: bytes, timeout: float) -> float | None:
    """Seconds until ``marker`` shows in the terminal output, None on timeout."""
    started = time.monotonic()
    seen = b""
    while time.monotonic() - started < timeout:
        seen = (seen + _read(fd, 0.005))[-65536:]
        if marker in seen:
            return time.monotonic() - started
    return None


def measure(rate: int, seconds: float, results: Results, charts: bool = False) -> int:
    """Run the child on a pty, press keys, print the figures; exit code 1 if a goal is missed."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        # The child runs this checkout's console, wherever the parent was started from.
        path = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = f"{_ROOT}{os.pathsep}{path}" if path else str(_ROOT)
        module = "bench.console_latency"
        os.execv(sys.executable, [sys.executable, "-m", module, "--child", str(rate), str(seconds)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    steal = StealWatch()  # started after the fork: the child gets no thread
    steal.start()
    try:
        if _wait_for(fd, b"Timeline", 20.0) is None:
            print("the console did not start", file=sys.stderr)
            return 2
        if charts:
            os.write(fd, b"G")
            if _wait_for(fd, b"commit rate", 5.0) is None:
                print("the charts did not show", file=sys.stderr)
                return 2
        os.write(fd, b"2")  # the feed panel: the most expensive one to keep up to date
        _wait_for(fd, b"Sources:", 5.0)
        time.sleep(1.0)  # let the feed reach its rate
        half = (seconds - 1.5) / 2
        cpu_start, wall_start = process_cpu_seconds(pid), time.monotonic()
        while time.monotonic() - wall_start < half:
            _read(fd, 0.05)  # a terminal reads what the console draws
        flow_cpu = (process_cpu_seconds(pid) - cpu_start) / (time.monotonic() - wall_start)
        cpu_start, keys_start = process_cpu_seconds(pid), time.monotonic()
        figures: dict[str, list[float]] = {"in-panel key": [], "panel switch": []}
        misses = 0
        while time.monotonic() - keys_start < half:
            for kind, presses in (("in-panel key", IN_PANEL), ("panel switch", SWITCH)):
                for key, marker in presses:
                    _read(fd, 0)  # drop what was drawn before the key
                    os.write(fd, key)
                    latency = _wait_for(fd, marker, 2.0)
                    if latency is None:
                        misses += 1
                    else:
                        figures[kind].append(latency * 1000)
                    time.sleep(0.25)
        keys_cpu = (process_cpu_seconds(pid) - cpu_start) / (time.monotonic() - keys_start)
    finally:
        os.write(fd, b"\x11")  # Ctrl+Q
        if _wait_for(fd, b"\x1b[?1049l", 5.0) is None:
            os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        steal.stop()
    per_event = flow_cpu / rate * 1e6
    shown = ", charts shown" if charts else ""
    print(f"gate-console at {rate} events/s for {seconds:g} s ({COLUMNS}x{ROWS} pty{shown})")
    print(
        f"  console CPU, following the feed   {flow_cpu:.2f} cores (goal < 0.5),"
        f" {per_event:.0f} µs per event"
    )
    print(f"  console CPU, keys pressed         {keys_cpu:.2f} cores")
    ok = misses == 0 and flow_cpu < 0.5
    record: dict[str, Figure] = {
        "rate": rate,
        "cores following": round(flow_cpu, 3),
        "cores keys": round(keys_cpu, 3),
        "cpu_us_per_event": round(per_event, 1),
        "misses": misses,
    }
    for kind, values in figures.items():
        values.sort()
        if not values:
            ok = False
            continue
        p50, p95 = nearest_rank(values, 0.5), nearest_rank(values, 0.95)
        print(
            f"  key -> screen, {kind:<13}     p50 {p50:.1f} ms, "
            f"p95 {p95:.1f} ms, max {values[-1]:.1f} ms (n={len(values)})"
        )
        record |= {f"{kind} p50_ms": round(p50, 2), f"{kind} p95_ms": round(p95, 2)}
        record[f"{kind} max_ms"] = round(values[-1], 2)
        ok = ok and p95 < 100
    print(f"  keys with no screen update in 2 s {misses}")
    print("  result                           " + ("within goals" if ok else "GOAL MISSED"))
    record["within_goals"] = int(ok)
    results.add(f"{rate} events/s{shown}", record, steal.result)
    return 0 if ok else 1


def main() -> None:
    """Parse the options and run the benchmark (or, with --child, the measured console)."""
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        run_child(int(sys.argv[2]), float(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5000, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to feed")
    parser.add_argument("--charts", action="store_true", help="with the live charts shown (G)")
    add_json_out(parser, "console_latency")
    args = parser.parse_args()
    results = Results("console_latency", args.json_out)
    status = measure(args.rate, args.seconds, results, args.charts)
    results.save()
    raise SystemExit(status)


if __name__ == "__main__":
    main()
