"""Facts about the machine a figure was taken on, and the CPU its processes and neighbours used.

Linux only: CPU time comes from ``/proc/stat`` and ``/proc/<pid>/stat``.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
from dataclasses import dataclass
from importlib import metadata
from types import TracebackType

_CLK_TCK = os.sysconf("SC_CLK_TCK")
MACHINE = "whole machine"  # the CpuMeter entry for every process, ours and others'


def usable_cores() -> int:
    """The CPUs this process may run on (a container or taskset may allow fewer than exist)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name, as /proc/cpuinfo spells it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(package: str) -> str:
    """The installed version of ``package``, or "not installed"."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_facts() -> dict[str, object]:
    """What a result record says about the machine: cores, CPU, kernel, Python, load."""
    return {
        "cores": usable_cores(),
        "cpu_model": cpu_model(),
        "system": f"{platform.system()} {platform.release()}",
        "python": f"{sys.version.split()[0]} ({platform.python_implementation()})",
        "load": [round(v, 2) for v in os.getloadavg()],
    }


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used; OSError once it is gone."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        # Fields after the ")" closing the command name; utime and stime are 14 and 15.
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


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


@dataclass(frozen=True, slots=True)
class Steal:
    """CPU steal of a run in percent: on average, and in its worst sampling window."""

    average: float
    worst: float


class StealWatch:
    """The steal of a run, on average and in its worst ``window`` (a thread samples /proc/stat).

    An average hides a burst: 0.3 % of a 15 s run is one 90 ms stop of the whole VM, which is
    enough to move a p99.  ``/proc/stat`` counts in 10 ms ticks, so windows are a few tenths of a
    second.  Use it as a context manager (or ``start``/``stop``); ``result`` is final once stopped.
    """

    def __init__(self, window: float = 0.25) -> None:
        self._window = window
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steal-watch", daemon=True)
        self._first = self._last = cpu_ticks()
        self.average = 0.0  # percent over the run, once stopped
        self.worst = 0.0  # percent over the worst window

    @property
    def result(self) -> Steal:
        return Steal(round(self.average, 2), round(self.worst, 2))

    def start(self) -> None:
        """Start sampling."""
        self._first = self._last = cpu_ticks()
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling; ``average`` and ``worst`` are final."""
        self._stop.set()
        self._thread.join()
        now = cpu_ticks()
        self.average = steal_percent(self._first, now)
        # A run shorter than a window still has one: its whole length.
        self.worst = max(self.worst, steal_percent(self._last, now))

    def __enter__(self) -> StealWatch:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self._window):
            now = cpu_ticks()
            self.worst = max(self.worst, steal_percent(self._last, now))
            self._last = now


class CpuMeter:
    """CPU time (user + system) of named processes, from ``/proc/<pid>/stat``.

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
                out[name] = process_cpu_seconds(pid)
            except OSError:
                continue
        return out

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """CPU seconds used between two samples, per process."""
        return {name: after[name] - before.get(name, 0.0) for name in after}

    @staticmethod
    def ours(cpu: dict[str, float]) -> float:
        """The CPU seconds of a ``delta`` spent in the measured processes (not the machine)."""
        return sum(sec for name, sec in cpu.items() if name != MACHINE)
