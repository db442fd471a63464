"""Events per second over a sliding window, on an injectable clock (tests pass a fake one)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class RateMeter:
    """Counts events as they come and answers the rate over the last ``window`` seconds."""

    def __init__(self, window: float = 5.0, clock: Clock = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._started = clock()

    def add(self, count: int = 1) -> None:
        """Record ``count`` events now."""
        now = self.clock()
        self._samples.append((now, count))
        self._trim(now)

    def rate(self) -> float:
        """Events per second over the window (or since the meter started, if that is shorter)."""
        now = self.clock()
        self._trim(now)
        # At least a second, so the first events of a new meter do not read as a burst.
        span = max(1.0, min(self.window, now - self._started))
        return sum(count for _, count in self._samples) / span

    def _trim(self, now: float) -> None:
        while self._samples and self._samples[0][0] <= now - self.window:
            self._samples.popleft()


class CounterRate:
    """The rate of a counter read now and then (such as a store's last position)."""

    def __init__(self, window: float = 5.0, clock: Clock = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._readings: deque[tuple[float, int]] = deque()

    def update(self, value: int) -> None:
        """Record the counter's current value."""
        now = self.clock()
        self._readings.append((now, value))
        # Keep one reading older than the window, so the rate spans the whole window.
        while len(self._readings) > 2 and self._readings[1][0] <= now - self.window:
            self._readings.popleft()

    def rate(self) -> float:
        """Increase per second between the oldest and the newest reading (0 with one)."""
        if len(self._readings) < 2:
            return 0.0
        (t0, v0), (t1, v1) = self._readings[0], self._readings[-1]
        if t1 <= t0:
            return 0.0
        return max(0, v1 - v0) / (t1 - t0)
