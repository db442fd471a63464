"""Where the next and previous pages of a stream start, reading forward or backward, and how an
open page follows a stream that grows (like a log that follows) while it shows the newest event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A page to read: ``start`` None reads backward from the stream's last event."""

    stream: str
    start: int | None = 0
    direction: str = "forward"
    count: int = PAGE_SIZE

    def next(self, first: int, last: int, version: int) -> PageRequest | None:
        """The page after one that held event numbers ``first``..``last`` (in reading order)."""
        if self.direction == "forward":
            return replace(self, start=last + 1) if last < version else None
        return replace(self, start=last - 1) if last > 0 else None

    def previous(self, first: int, version: int) -> PageRequest | None:
        """The page before one whose first event (in reading order) was ``first``."""
        if self.direction == "forward":
            return replace(self, start=max(0, first - self.count)) if first > 0 else None
        return replace(self, start=min(version, first + self.count)) if first < version else None

    def reversed(self) -> PageRequest:
        """The same stream read the other way, from its start or from its end."""
        if self.direction == "forward":
            return replace(self, direction="backward", start=None)
        return replace(self, direction="forward", start=0)

    def describe(self) -> str:
        """``forward from v0``, ``backward from the last event``."""
        origin = "the last event" if self.start is None else f"v{self.start}"
        return f"{self.direction} from {origin}"

    def follow(self, version: int) -> PageRequest:
        """The page showing a stream's newest events, ``version`` being its last event's number:
        forward, the last ``count`` events; backward, from the last event."""
        if self.direction == "forward":
            return replace(self, start=max(0, version - self.count + 1))
        return replace(self, start=None)


def shows_end(numbers: Sequence[int], version: int) -> bool:
    """Whether a page that held these event numbers, read when the stream's last event was
    ``version``, shows the end of the stream (an empty page past the end does too)."""
    return max(numbers, default=version) >= version


def newer_events(numbers: Sequence[int], page_version: int, latest: int) -> int:
    """How many events came after the newest one a page shows, the stream's last event now
    being ``latest``."""
    return max(0, latest - max(numbers, default=page_version))
