"""Collects the new lines of the selected feeds since the last look: the feed's bounded buffers.

Observers and consumers push lines into their own ``LineFeed`` (a ring of the newest lines) as
events arrive; the dashboard's timer calls :meth:`FeedCollector.drain` a few times a second and
gets everything new in one batch, however many events came in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from console.ops.line_feed import LineFeed
from console.tui.feed.lines import FeedLine


@dataclass(slots=True)
class Drained:
    """The lines gathered by one drain, and how many the feeds had already let go."""

    lines: list[FeedLine] = field(default_factory=list)
    missed: int = 0


class FeedCollector:
    """Remembers how far each feed was read; a feed seen for the first time starts at its end
    minus ``backlog`` lines, so selecting an observer shows its recent past."""

    def __init__(self, backlog: int = 50) -> None:
        self.backlog = backlog
        self._positions: dict[str, int] = {}

    def drain(self, feeds: Mapping[str, LineFeed]) -> Drained:
        """New lines of ``feeds`` (by source name); forgets sources no longer given."""
        drained = Drained()
        for name in [name for name in self._positions if name not in feeds]:
            del self._positions[name]
        for name, feed in feeds.items():
            start = self._positions.get(name, max(0, feed.total - self.backlog))
            batch = feed.since(start)
            self._positions[name] = batch.next_seq
            drained.missed += batch.missed
            drained.lines.extend(FeedLine(name, line) for line in batch.lines)
        return drained
