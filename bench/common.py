"""What the append benchmarks share: the load driver, the figures, CPU accounting, printing.

Both ``append_bench.py`` (Gate) and ``redis_baseline.py`` (Redis Streams) drive their system
with the same closed-loop workers and print the same table, so their lines compare directly.
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

# One request of one worker: ``request(worker, seq)`` appends and returns when acknowledged.
Request = Callable[[int, int], Awaitable[object]]

_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Scenario:
    """``workers`` concurrent tasks, each appending ``batch`` events per request in a loop."""

    key: str
    workers: int
    batch: int

    @property
    def title(self) -> str:
        kind = "single-event appends" if self.batch == 1 else f"{self.batch}-event batches"
        return f"{self.key}: {self.workers} tasks x {kind}"


SCENARIOS = (Scenario("A", 16, 1), Scenario("B", 4, 100))


@dataclass
class ScenarioResult:
    """The figures of one timed run of a scenario."""

    scenario: Scenario
    elapsed: float
    latencies: list[float]  # seconds, acknowledged requests only, sorted
    errors: Counter[str] = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds in the run

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def events(self) -> int:
        return self.requests * self.scenario.batch

    def percentile_ms(self, q: float) -> float:
        """The ``q``-quantile (0..1) of the request latency in ms, nearest rank."""
        if not self.latencies:
            return float("nan")
        rank = min(len(self.latencies) - 1, max(0, round(q * len(self.latencies)) - 1))
        return self.latencies[rank] * 1000.0


async def drive(
    workers: int,
    duration: float,
    request: Request,
    *,
    expected_errors: tuple[type[BaseException], ...],
) -> tuple[float, list[float], Counter[str]]:
    """Run ``workers`` closed loops of ``request`` for ``duration`` seconds.

    Returns the elapsed time (until the last request in flight finished), the sorted latencies
    of the acknowledged requests and the errors by code.  An error of ``expected_errors`` is
    counted rather than raised, so one unavailable moment does not throw away a whole run.
    """
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    clock = time.perf_counter
    end = clock() + duration

    async def loop(worker: int) -> None:
        seq = 0
        while clock() < end:
            started = clock()
            try:
                await request(worker, seq)
            except expected_errors as exc:
                errors[str(getattr(exc, "code", type(exc).__name__))] += 1
            else:
                latencies.append(clock() - started)
            seq += 1

    started = clock()
    await asyncio.gather(*(loop(w) for w in range(workers)))
    elapsed = clock() - started
    latencies.sort()
    return elapsed, latencies, errors


MACHINE = "whole machine"  # the CpuMeter entry for every process, ours and others'


def _machine_busy() -> float:
    """CPU seconds the whole machine spent busy (not idle, not waiting for I/O) since boot."""
    with open("/proc/stat", "rb") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...: steal is time the host took away.
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / _CLK_TCK


def cpu_ticks() -> tuple[int, int]:
    """``(steal, total)`` clock ticks of the whole machine since boot, from ``/proc/stat``."""
    with open("/proc/stat", "rb") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    return ticks[7], sum(ticks)


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the machine's time the host took away (*steal*) between two samples.

    On a virtual machine this is CPU another tenant got: latency figures taken while it is
    above a few percent say more about the neighbours than about Gate.
    """
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total > 0 else 0.0


class StealWatch:
    """The steal of a run, on average and in its worst ``window`` (a thread samples /proc/stat).

    An average hides a burst: 0.3 % of a 15 s run is one 90 ms stop of the whole VM, which is
    enough to move a p99.  ``/proc/stat`` counts in 10 ms ticks, so windows are a few tenths of a
    second.
    """

    def __init__(self, window: float = 0.25) -> None:
        self._window = window
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steal-watch", daemon=True)
        self._first = self._last = cpu_ticks()
        self.average = 0.0  # percent over the run, once stopped
        self.worst = 0.0  # percent over the worst window

    def start(self) -> None:
        """Start sampling."""
        self._first = self._last = cpu_ticks()
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling; ``average`` and ``worst`` are final."""
        self._stop.set()
        self._thread.join()
        self.average = steal_percent(self._first, cpu_ticks())

    def _run(self) -> None:
        while not self._stop.wait(self._window):
            now = cpu_ticks()
            self.worst = max(self.worst, steal_percent(self._last, now))
            self._last = now


class CpuMeter:
    """CPU time (user + system) of named processes, from ``/proc/<pid>/stat`` (Linux).

    It also samples the whole machine (``MACHINE``): on a shared machine the difference says
    how much CPU other programs took during a run, which makes a figure worth less.
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def sample(self) -> dict[str, float]:
        """CPU seconds used so far by each process that still exists, and by the machine."""
        out: dict[str, float] = {MACHINE: _machine_busy()}
        for name, pid in self.pids.items():
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    # Fields after the ")" closing the command name; utime and stime are 14, 15.
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            out[name] = (int(fields[11]) + int(fields[12])) / _CLK_TCK
        return out

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """CPU seconds used between two samples, per process."""
        return {name: after[name] - before.get(name, 0.0) for name in after}


async def run_scenario(
    scenario: Scenario,
    duration: float,
    request: Request,
    meter: CpuMeter,
    *,
    expected_errors: tuple[type[BaseException], ...],
) -> ScenarioResult:
    """Drive one scenario for ``duration`` seconds and measure its CPU use per process."""
    before = meter.sample()
    elapsed, latencies, errors = await drive(
        scenario.workers, duration, request, expected_errors=expected_errors
    )
    cpu = CpuMeter.delta(before, meter.sample())
    return ScenarioResult(scenario, elapsed, latencies, errors, cpu)


def sample_events(seed: int, count: int = 1024) -> list[dict[str, Any]]:
    """``count`` greenhouse-like events (type, data, metadata), the same for a given seed."""
    rng = random.Random(seed)
    events = []
    for k in range(count):
        greenhouse = rng.randint(1, 16)
        events.append(
            {
                "event_type": "temperature_measured:v1",
                "data": {
                    "greenhouse_id": f"greenhouse-{greenhouse}",
                    "sensor_id": f"t-{greenhouse}-{rng.randint(1, 4)}",
                    "temperature": round(rng.uniform(6.0, 35.0), 2),
                    "unit": "celsius",
                },
                "metadata": {"correlation_id": f"bench-{seed}-{k}", "causation_id": None},
            }
        )
    return events


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_header(title: str, config: dict[str, Any], packages: Iterable[str]) -> None:
    """Print the machine facts and the configuration under test."""
    print(f"== {title}")
    print(f"date:     {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine:  nproc={usable} ({_cpu_model()}), {platform.system()} {platform.release()}")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"load:     {load} (1, 5, 15 min averages before the run)")
    versions = ", ".join(f"{p} {_version(p)}" for p in packages)
    print(f"python:   {sys.version.split()[0]} ({platform.python_implementation()}); {versions}")
    for key, value in config.items():
        print(f"{key + ':':<9} {value}")


_COLUMNS = (
    f"{'scenario':<34} {'events/s':>10} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8}"
    f" {'p99 ms':>8} {'max ms':>8} {'requests':>9} {'errors':>6}"
)


def print_results(label: str, results: list[ScenarioResult]) -> None:
    """Print one table of scenario figures, then each scenario's CPU use per process."""
    print()
    print(f"-- {label}")
    print(_COLUMNS)
    for r in results:
        print(
            f"{r.scenario.title:<34} {r.events / r.elapsed:>10,.0f} {r.requests / r.elapsed:>9,.0f}"
            f" {r.percentile_ms(0.5):>8.2f} {r.percentile_ms(0.9):>8.2f}"
            f" {r.percentile_ms(0.99):>8.2f} {r.percentile_ms(1.0):>8.2f}"
            f" {r.requests:>9,} {sum(r.errors.values()):>6}"
        )
    for r in results:
        ours = {name: sec for name, sec in r.cpu.items() if name != MACHINE}
        cores = ", ".join(f"{name} {sec / r.elapsed:.2f}" for name, sec in ours.items())
        total = sum(ours.values()) / r.elapsed
        others = r.cpu.get(MACHINE, 0.0) / r.elapsed - total
        # CPU per event is the figure that survives a busy machine: it is what a run costs.
        per_event = sum(ours.values()) / r.events * 1e6 if r.events else float("nan")
        print(
            f"   CPU cores used in {r.scenario.key}: {cores}; total {total:.2f}"
            f" (other programs: {max(0.0, others):.2f}); {per_event:,.0f} µs CPU per event"
        )
        if r.errors:
            print(f"   errors in {r.scenario.key}: {dict(r.errors)}")
