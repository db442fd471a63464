"""A recorded session as the dashboard's source: no cluster, no gateway, the recording's arrivals.

:class:`ReplayOps` has the parts of ``Operations`` the dashboard reads (the health monitor's
latest sample, the verdict, the message trace, the feeds, the nodes' logs), and the lesson pane
as it was, each filled by
:meth:`ReplayOps.apply` from one record at a time; :class:`Playback` decides which records are
due at a point of the recording's time.  Nothing here starts or asks anything: every list that
would need a request is empty, and operations are refused by the replaying console
(console/tui/replay.py) before they get here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from console.ops.cluster import ClusterStatus, HealthSample, NodeLogLine, NodeLogPage
from console.ops.lesson_view import LessonView, apply_change
from console.ops.line_feed import LineFeed
from console.ops.messages import TraceLine
from console.ops.observers import ObserverRow
from console.ops.recording import (
    Record,
    Recording,
    decode_log,
    decode_sample,
    decode_trace,
    decode_verdict,
)
from console.ops.session import Access
from console.ops.streams import StreamRow
from console.ops.subscriptions import SubscriptionRow
from domain.greenhouse.producer import ProducerRow
from engine.client import GateError
from engine.client.checker import LiveVerdict

READ_ONLY = "replay: read only"
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass
class ReplayHealth:
    latest: HealthSample | None = None
    updates: int = 0


@dataclass
class ReplayVerdict:
    latest: LiveVerdict | None = None
    unreadable: bool = False


class ReplayInside:
    """A recording holds the cluster views as they were probed: no fresher inside over them."""

    updates = 0
    watching = False

    def watch(self, on: bool) -> None:
        """Nothing to follow."""

    def merged(self, status: ClusterStatus) -> ClusterStatus:
        return status


class ReplayMessages:
    """The recorded trace, drained as the live one is; always "watched" (nothing to ask).

    Unbounded: what the recording holds was bounded when it was recorded, and a jump through
    the recording must show what playing it shows.  ``held``: drains give nothing meanwhile
    (a jump hands the Messages panel one batch, not one per cluster view)."""

    def __init__(self) -> None:
        self._lines: list[TraceLine] = []
        self._missed = 0
        self.problem = ""
        self.watching = True
        self.held = False

    def watch(self, on: bool) -> None:
        """Nothing to follow: the recording holds what was traced."""

    def unfold(self, tempo: int) -> None:
        """The recording holds the heartbeats as they were traced, folded or not."""

    def add(self, lines: list[TraceLine], missed: int) -> None:
        self._lines.extend(lines)
        self._missed += missed

    def drain(self) -> tuple[list[TraceLine], int]:
        if self.held:
            return [], 0
        lines, missed = self._lines, self._missed
        self._lines = []
        self._missed = 0
        return lines, missed


@dataclass
class ReplayFeed:
    """One recorded feed source (an observer's or a consumer's lines)."""

    name: str
    feed: LineFeed = field(default_factory=LineFeed)


class ReplayObservers:
    """The feed sources seen so far, by the names the recording gives them."""

    def __init__(self) -> None:
        self.sources: dict[str, ReplayFeed] = {}

    def names(self) -> list[str]:
        return list(self.sources)

    def get(self, name: str) -> ReplayFeed:
        return self.sources[name]

    def push(self, source: str, text: str) -> None:
        self.sources.setdefault(source, ReplayFeed(source)).feed.push(text)

    def rows(self) -> list[ObserverRow]:
        return []


class ReplayProducers:
    def rows(self) -> list[ProducerRow]:
        return []


class ReplaySubscriptions:
    """None here: the recorded consumers' lines are feed sources like the observers'."""

    async def rows(self) -> list[SubscriptionRow]:
        return []

    def known_rows(self) -> list[SubscriptionRow] | None:
        return None

    def consumer_names(self) -> list[str]:
        return []


class ReplayStreams:
    async def rows(self) -> list[StreamRow]:
        return []


class ReplayCluster:
    """The nodes' logs as recorded: the lines the recording console was shown of each."""

    def __init__(self) -> None:
        self.logs: dict[str, dict[int, NodeLogLine]] = {}

    def add_log(self, node: str, lines: list[NodeLogLine]) -> None:
        held = self.logs.setdefault(node, {})
        for line in lines:
            held[line.seq] = line

    async def node_log(
        self, node_id: str, *, after: int | None = None, limit: int = 100
    ) -> NodeLogPage:
        held = self.logs.get(node_id)
        if not held:
            raise GateError("unavailable", f"{node_id}'s log: no line recorded up to here")
        lines = sorted(held.values(), key=lambda line: line.seq)
        shown = lines[-limit:] if after is None else [x for x in lines if x.seq > after][:limit]
        return NodeLogPage(node_id, 0.0, lines[-1].seq, 0, tuple(shown))


class ReplayOps:
    """What the dashboard reads, as far as the records applied so far tell."""

    def __init__(self, path: Path, recording: Recording) -> None:
        self.path = path
        self.recording = recording
        self.url = f"REPLAY {path.name}"
        self.store = ""
        self.access = Access()  # every key works; the console refuses what needs a cluster
        self.started_engine = False
        self.producers = ReplayProducers()
        self.subscriptions = ReplaySubscriptions()
        self.streams = ReplayStreams()
        self.reset()

    def reset(self) -> None:
        """Back to before the first record."""
        self.health = ReplayHealth()
        self.verdict = ReplayVerdict()
        self.messages = ReplayMessages()
        self.inside = ReplayInside()
        self.observers = ReplayObservers()
        self.cluster = ReplayCluster()
        self.lesson: LessonView | None = None  # the lesson pane (None: none shown)
        self.lesson_changes = 0  # how many lesson records were applied: the pane redraws on one

    def apply(self, record: Record) -> None:
        """One record's arrival (a timeline note is the console's to show)."""
        data = record.data
        match record.kind:
            case "health":
                self.health.latest = decode_sample(data["sample"])
                self.health.updates += 1
                self.store = self.health.latest.store
            case "verdict":
                self.verdict.latest = decode_verdict(data["verdict"])
                self.verdict.unreadable = bool(data["unreadable"])
            case "trace":
                self.messages.add(decode_trace(data), int(data.get("missed") or 0))
            case "feed":
                for source, text in data["lines"]:
                    self.observers.push(str(source), str(text))
            case "log":
                self.cluster.add_log(str(data["node"]), decode_log(data))
            case "lesson":
                self.lesson = apply_change(self.lesson, data)
                self.lesson_changes += 1
            case "note":
                pass


def speed_text(speed: float) -> str:
    """``½×``, ``1×``, ``4×``."""
    return {0.25: "¼×", 0.5: "½×"}.get(speed, f"{speed:g}×")


def clock_text(seconds: float) -> str:
    """``1:05.2``: minutes and seconds of the recording."""
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{secs:04.1f}"


class Playback:
    """Where a replay is in its recording: the time shown, the next record, pause and speed.

    Pure: the console advances it with the time that passed on its own clock and applies the
    records it hands out, in order; going back is :meth:`rewind` then records from the first.
    """

    def __init__(self, records: tuple[Record, ...]) -> None:
        self.records = records
        self.duration = records[-1].t if records else 0.0
        self.now = 0.0
        self.next = 0  # the index of the next record to apply
        self.paused = False
        self.speed = 1.0

    def rewind(self) -> None:
        self.now = 0.0
        self.next = 0

    def until(self, target: float) -> list[Record]:
        """The records due up to ``target`` (seconds into the recording), which becomes now."""
        target = min(max(0.0, target), self.duration)
        start = self.next
        while self.next < len(self.records) and self.records[self.next].t <= target:
            self.next += 1
        self.now = max(self.now, target)
        return list(self.records[start : self.next])

    def advance(self, elapsed: float) -> list[Record]:
        """The records due after ``elapsed`` seconds of the console's time (none when paused)."""
        if self.paused:
            return []
        return self.until(self.now + elapsed * self.speed)

    def step(self) -> list[Record]:
        """The next record, and every other one at its time; now becomes its time."""
        if self.next >= len(self.records):
            return []
        return self.until(self.records[self.next].t)

    @property
    def ended(self) -> bool:
        return self.next >= len(self.records)

    def faster(self, direction: int) -> float:
        """The next speed up (1) or down (-1) among :data:`SPEEDS`, staying at the ends."""
        index = SPEEDS.index(self.speed) + direction
        self.speed = SPEEDS[min(max(0, index), len(SPEEDS) - 1)]
        return self.speed

    def position(self) -> str:
        """``0:42.0/3:10.5 paused 2×``: short, the header has the cluster to show too."""
        state = "ended" if self.ended and not self.paused else ("paused" if self.paused else "")
        where = f"{clock_text(self.now)}/{clock_text(self.duration)}"
        return " ".join(part for part in (where, state, speed_text(self.speed)) if part)
