"""What the dashboard's charts draw: the last five minutes of each series, kept as it arrives.

Nothing here polls.  The app hands over what it already reads in its drain timer and its list
poll: each health sample (per node: commit rate, lag, probe latency; the moments of elections
and of nodes going down as marks), each drained batch of feed lines (events per second by event
type) and each subscriptions list with the store's head (checkpoint and backlog per
subscription).  Each series is a ring of (time, value) samples; the clock is injected, so
recorded data draws the same chart on every run.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from console.ops.cluster import ClusterStatus, HealthSample
from console.ops.subscriptions import SubscriptionRow
from console.tui.feed.lines import FeedLine, event_type_of

WINDOW = 300.0  # seconds the charts cover: the last five minutes
CAPACITY = 400  # samples per series: one a second over the window, with room
MARKS = 64  # elections and nodes down kept (older ones have left the window anyway)
FEED_BUCKET = 1.0  # seconds of feed lines counted into one events-per-second sample

Metric = Literal["commit", "lag", "probe"]
METRICS: tuple[Metric, ...] = ("commit", "lag", "probe")
Chart = Literal["cluster", "feed", "subscriptions"]
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Mark:
    """A moment the cluster charts mark: an election won, or a node that went down."""

    at: float
    kind: Literal["election", "down"]
    text: str


class Series:
    """The newest samples of one quantity, oldest first."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._points: deque[tuple[float, float]] = deque(maxlen=capacity)

    def add(self, at: float, value: float) -> None:
        """A sample; one taken at the same moment as the newest replaces it (two looks
        within one tick of the clock are one sample, not twice the weight in a mean)."""
        if self._points and self._points[-1][0] == at:
            self._points.pop()
        self._points.append((at, value))

    def since(self, start: float) -> list[tuple[float, float]]:
        """The samples taken at ``start`` or later."""
        return [point for point in self._points if point[0] >= start]

    @property
    def latest(self) -> float | None:
        return self._points[-1][1] if self._points else None


def moments(before: ClusterStatus | None, after: ClusterStatus, at: float) -> list[Mark]:
    """The marks between two looks at the cluster: nodes that went down (killed, stopped,
    crashed: the gateway's view cannot tell), then a leader elected or handed the lead.

    A node up at both looks that the gateway restarted meanwhile went down too: a crash whose
    restart was quicker than a look is marked all the same.
    """
    if before is None:
        return []
    was_up = {node.node_id: node.restarts for node in before.nodes if node.up}
    marks = [
        Mark(at, "down", f"{node.node_id} down")
        for node in after.nodes
        if node.node_id in was_up and (not node.up or node.restarts > was_up[node.node_id])
    ]
    if after.leader is not None and (after.leader, after.term) != (before.leader, before.term):
        marks.append(Mark(at, "election", f"{after.leader} leads (term {after.term})"))
    return marks


class ChartHistory:
    """Every chart's series over the last ``window`` seconds; ``versions`` counts the changes
    of each chart, so a chart is drawn again only when something new came."""

    def __init__(self, clock: Clock = time.monotonic, window: float = WINDOW) -> None:
        self.clock = clock
        self.window = window
        self.nodes: dict[str, dict[Metric, Series]] = {}
        self.marks: deque[Mark] = deque(maxlen=MARKS)
        self.event_types: dict[str, Series] = {}
        self.checkpoints: dict[str, Series] = {}
        self.backlogs: dict[str, Series] = {}
        self.head = Series()
        self.versions: Counter[Chart] = Counter()
        self._status: ClusterStatus | None = None
        self._commits: dict[str, tuple[float, int]] = {}  # each node's last commit index seen
        self._counts: Counter[str] = Counter()  # feed lines by type since ``_counted_since``
        self._counted_since: float | None = None

    def start(self) -> float:
        """Where the charts begin now: the window's far end."""
        return self.clock() - self.window

    # -- the cluster -------------------------------------------------------------------------

    def add_sample(self, sample: HealthSample) -> None:
        """One health sample: each node that answers adds to its series (a node down leaves
        a gap), and what changed since the last one becomes marks."""
        status, at = sample.status, sample.taken_at
        if status is None:
            return
        self.marks.extend(moments(self._status, status, at))
        self._status = status
        for gone in set(self.nodes) - {node.node_id for node in status.nodes}:
            del self.nodes[gone]  # removed from the membership
            self._commits.pop(gone, None)
        for node in status.nodes:
            series = self.nodes.setdefault(node.node_id, {m: Series() for m in METRICS})
            if not node.up:
                self._commits.pop(node.node_id, None)
                continue
            if node.commit_position is not None:
                before = self._commits.get(node.node_id)
                if before is not None and at > before[0]:
                    rate = (node.commit_position - before[1]) / (at - before[0])
                    series["commit"].add(at, max(0.0, rate))
                self._commits[node.node_id] = (at, node.commit_position)
            if node.lag is not None:
                series["lag"].add(at, float(node.lag))
            probe = node.tcp_latency_ms if node.tcp_up else node.http_latency_ms
            if probe is not None:
                series["probe"].add(at, probe)
        self.versions["cluster"] += 1

    # -- the feed ----------------------------------------------------------------------------

    def add_feed(self, lines: Iterable[FeedLine]) -> None:
        """Count one drained batch by event type; once a second the counts become a rate per
        type (0 for a type seen before that had none)."""
        now = self.clock()
        if self._counted_since is None:
            # The first batch is the feeds' recent past (the collector's backlog), not news.
            self._counted_since = now
            return
        for line in lines:
            event_type = event_type_of(line.text)
            if event_type is not None:
                self._counts[event_type] += 1
        elapsed = now - self._counted_since
        if elapsed < FEED_BUCKET:
            return
        for event_type in self._counts.keys() - self.event_types.keys():
            self.event_types[event_type] = Series()
        for event_type, series in self.event_types.items():
            series.add(now, self._counts[event_type] / elapsed)
        self._counts.clear()
        self._counted_since = now
        self.versions["feed"] += 1

    # -- subscriptions -----------------------------------------------------------------------

    def add_subscriptions(self, rows: Iterable[SubscriptionRow], head: int | None) -> None:
        """One look at the subscriptions and the store's head (its last position): each
        checkpoint, and how far behind the head it is (the backlog)."""
        now = self.clock()
        if head is not None:
            self.head.add(now, float(head))
        names = set()
        for row in rows:
            names.add(row.name)
            checkpoint = self.checkpoints.setdefault(row.name, Series())
            backlog = self.backlogs.setdefault(row.name, Series())
            if isinstance(row.checkpoint, int):
                checkpoint.add(now, float(row.checkpoint))
                if head is not None:
                    backlog.add(now, float(max(0, head - row.checkpoint)))
            elif head is not None:
                backlog.add(now, float(head))  # nothing acked yet: all of it is ahead
        for gone in set(self.checkpoints) - names:  # deleted
            del self.checkpoints[gone]
            del self.backlogs[gone]
        self.versions["subscriptions"] += 1

    def new_store(self) -> None:
        """The console works on another store from now on: its head and subscriptions start
        afresh (the cluster's charts and the feed's rates go on: they are not a store's)."""
        self.head = Series()
        self.checkpoints.clear()
        self.backlogs.clear()
        self.versions["subscriptions"] += 1
