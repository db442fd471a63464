"""A bounded buffer of recent lines that front ends follow: an observer's or a consumer's output.

Writers never wait: the buffer keeps the newest ``capacity`` lines.  Every line has a sequence
number, so a reader that fell behind by more than the buffer learns how many lines it missed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """Lines a reader has not seen yet, and how many it missed because it was too slow."""

    lines: list[str]
    missed: int
    next_seq: int


class LineFeed:
    """The newest ``capacity`` lines, numbered from 0 in the order they were pushed."""

    def __init__(self, capacity: int = 500) -> None:
        self.capacity = capacity
        self._lines: deque[str] = deque(maxlen=capacity)
        self.total = 0  # lines ever pushed; the next line gets this number
        self._changed = asyncio.Event()

    def push(self, line: str) -> None:
        """Add a line (the oldest one goes when the buffer is full)."""
        self._lines.append(line)
        self.total += 1
        self._changed.set()

    def recent(self, count: int | None = None) -> list[str]:
        """The newest ``count`` lines (all buffered lines when None), oldest first."""
        lines = list(self._lines)
        return lines if count is None else lines[max(0, len(lines) - count) :]

    def since(self, seq: int) -> FeedBatch:
        """The buffered lines numbered ``seq`` and later."""
        first = self.total - len(self._lines)  # number of the oldest buffered line
        start = max(seq, first)
        lines = list(self._lines)[start - first :]
        return FeedBatch(lines, max(0, first - seq), self.total)

    async def wait_beyond(self, seq: int) -> None:
        """Wait until a line numbered ``seq`` or later exists."""
        while self.total <= seq:
            self._changed.clear()
            await self._changed.wait()

    async def follow(self, seq: int | None = None) -> AsyncIterator[FeedBatch]:
        """Batches of new lines as they come, from ``seq`` (default: from now), forever."""
        position = self.total if seq is None else seq
        while True:
            await self.wait_beyond(position)
            batch = self.since(position)
            position = batch.next_seq
            yield batch
