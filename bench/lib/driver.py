"""The closed-loop load driver of the append benchmarks, their figures and their table.

Both ``append_bench`` (Gate) and ``redis_baseline`` (Redis Streams) drive their system with the
same closed-loop workers and print the same table, so their lines compare directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.lib.machine import (
    MACHINE,
    CpuMeter,
    Steal,
    StealWatch,
    cpu_model,
    package_version,
    usable_cores,
)
from bench.lib.percentiles import nearest_rank
from bench.lib.results import Figure

# One request of one worker: ``request(worker, seq)`` appends and returns when acknowledged.
Request = Callable[[int, int], Awaitable[object]]


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
    steal: Steal  # of the whole machine during the run
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
        return nearest_rank(self.latencies, q) * 1000.0

    @property
    def cpu_us_per_event(self) -> float:
        """CPU of the measured processes per acknowledged event, in µs: what a run costs."""
        return CpuMeter.ours(self.cpu) / self.events * 1e6 if self.events else float("nan")

    def figures(self) -> dict[str, Figure]:
        """The figures of the printed table, for a result record."""
        out: dict[str, Figure] = {
            "events_per_s": round(self.events / self.elapsed, 1),
            "requests_per_s": round(self.requests / self.elapsed, 1),
        }
        for name, q in (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99), ("max_ms", 1.0)):
            out[name] = round(self.percentile_ms(q), 3)
        out |= {
            "requests": self.requests,
            "errors": sum(self.errors.values()),
            "cpu_us_per_event": round(self.cpu_us_per_event, 1),
        }
        for name, seconds in self.cpu.items():
            out[f"cores {name}"] = round(seconds / self.elapsed, 3)
        return out


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


async def run_scenario(
    scenario: Scenario,
    duration: float,
    request: Request,
    meter: CpuMeter,
    *,
    expected_errors: tuple[type[BaseException], ...],
) -> ScenarioResult:
    """Drive one scenario for ``duration`` seconds; measure its CPU per process and the steal."""
    before = meter.sample()
    with StealWatch() as steal:
        elapsed, latencies, errors = await drive(
            scenario.workers, duration, request, expected_errors=expected_errors
        )
    cpu = CpuMeter.delta(before, meter.sample())
    return ScenarioResult(scenario, elapsed, latencies, steal.result, errors, cpu)


# The latency workload: ``send(event_id, i)`` appends one event and returns when acknowledged;
# ``feed(ready)`` yields the event ids a subscriber receives and sets ``ready`` once it is live.
Send = Callable[[str, int], Awaitable[object]]
Feed = Callable[[asyncio.Event], AsyncIterator[str]]


async def delivery_latencies(
    rate: float, duration: float, send: Send, feed: Feed, *, grace: float = 10.0
) -> tuple[int, list[float]]:
    """Append at ``rate`` events/s for ``duration`` s from an open-loop pacer; time delivery.

    A slow append never delays the next one.  Returns the number sent and the sorted seconds
    from issuing each append to the subscriber receiving it (those received within ``grace``
    seconds after the last acknowledgement).
    """
    total = max(1, int(rate * duration))
    issued: dict[str, float] = {}
    delivery: list[float] = []
    ready = asyncio.Event()
    clock = time.perf_counter

    async def receive() -> None:
        async for event_id in feed(ready):
            started = issued.get(event_id)
            if started is not None:
                delivery.append(clock() - started)
            if len(delivery) >= total:
                return

    async def append(event_id: str, i: int) -> None:
        await send(event_id, i)

    receiver = asyncio.create_task(receive())
    try:
        await asyncio.wait_for(ready.wait(), grace)
        appends: set[asyncio.Task[None]] = set()
        t0 = clock()
        for i in range(total):
            delay = t0 + i / rate - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            event_id = str(uuid.uuid4())
            issued[event_id] = clock()
            task = asyncio.create_task(append(event_id, i))
            appends.add(task)
            task.add_done_callback(appends.discard)
        if appends:
            await asyncio.gather(*appends)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(receiver), grace)
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
    delivery.sort()
    return total, delivery


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


def print_header(title: str, config: dict[str, Any], packages: Iterable[str]) -> None:
    """Print the machine facts and the configuration under test."""
    print(f"== {title}")
    print(f"date:     {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    system = f"{platform.system()} {platform.release()}"
    print(f"machine:  nproc={usable_cores()} ({cpu_model()}), {system}")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"load:     {load} (1, 5, 15 min averages before the run)")
    versions = ", ".join(f"{p} {package_version(p)}" for p in packages)
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
        print(
            f"   CPU cores used in {r.scenario.key}: {cores}; total {total:.2f}"
            f" (other programs: {max(0.0, others):.2f}); {r.cpu_us_per_event:,.0f} µs CPU per event"
            f"; CPU steal {r.steal.average:.1f}% (worst 0.25 s: {r.steal.worst:.0f}%)"
        )
        if r.errors:
            print(f"   errors in {r.scenario.key}: {dict(r.errors)}")
