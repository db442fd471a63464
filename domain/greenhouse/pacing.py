"""Pacing producers: a clock that tests can replace, and a deadline-based rate scheduler."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic time in seconds, and a way to wait on it."""

    def now(self) -> float:
        """The current time."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        """The current monotonic time."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        await asyncio.sleep(seconds)


class Pacer:
    """Spaces sends so that ``rate`` events per second go out on average, without drift.

    Each send's due time is the previous due time plus ``count / rate`` (not "now plus an
    interval"), so the time spent appending does not slow the rate down.  After a long stall (a
    failover) the schedule restarts from now instead of bursting: at most ``max_lag`` seconds
    of backlog are caught up.
    """

    def __init__(self, rate: float, clock: Clock, *, max_lag: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        self.rate = rate
        self.clock = clock
        self.max_lag = max_lag
        self._due = clock.now()

    def delay(self) -> float:
        """Seconds to wait before the next send is due (0 when it is due now)."""
        now = self.clock.now()
        if now - self._due > self.max_lag:
            self._due = now - self.max_lag
        return max(0.0, self._due - now)

    def sent(self, count: int) -> None:
        """Account for ``count`` events just sent: the next send is due that much later."""
        self._due += count / self.rate
