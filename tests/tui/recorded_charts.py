"""Five recorded minutes for the charts: a steady cluster, its leader killed at 2:00 and an
election, the old leader back behind and catching up, a follower killed at 4:00; a feed of six
event types; one subscription that keeps up and one nobody consumes.

Everything is a function of the second, so every run is the same; :func:`play` feeds it to the
app as the live data comes (health samples, observer lines, the subscriptions list) and the
charts' clock is the recorded health monitor's, one second per sample.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from console.ops.cluster import ClusterStatus, NodeRow
from console.ops.formatting import seen_line
from console.ops.subscriptions import SubscriptionRow
from console.tui.app import GateConsole
from console.tui.charts.history import ChartHistory
from tests.tui.recorded import TYPES as FIELDS
from tests.tui.recorded import RecordedOps, node, record

SECONDS = 300
COMMIT, HEAD = 1240, 5000  # the commit index and the store's head when the recording starts
KILL_LEADER, ELECTED, LEADER_BACK, CAUGHT_UP = 120, 123, 180, 190
KILL_FOLLOWER, FOLLOWER_BACK = 240, 246
# Events a second of each type, over a 20 s cycle: measurements steady, switching now and then.
TYPES = (
    ("temperature_measured:v1", lambda s: 6 + 3 * ((s // 20) % 3)),
    ("humidity_measured:v1", lambda s: 5),
    ("light_measured:v1", lambda s: 2 + (s // 40) % 4),
    ("fan_activated:v1", lambda s: 3 if s % 10 == 0 else 0),
    ("heater_deactivated:v1", lambda s: 4 if s % 30 == 15 else 0),
    ("desired_temperature_set:v1", lambda s: 1 if s % 45 == 0 else 0),
)


class _NoPolling(GateConsole):
    """The lists are read only when :func:`play` says: a timer's read, landing between two of
    its seconds, would add a sample of one second at the clock of another."""

    def poll(self) -> None:  # type: ignore[override]
        return None


def recorded_console() -> GateConsole:
    """A dashboard whose charts keep the recorded health monitor's time, at the recording's
    first second."""
    ops = RecordedOps()
    ops.subscriptions.rows_data = subscriptions(0, HEAD, ops.subscriptions.rows_data)
    ops.health.show(status(0, COMMIT), head=HEAD)
    app = _NoPolling(ops.as_operations(), blink=False)
    app.history = ChartHistory(clock=lambda: ops.health.taken_at)
    app.animation_level = "none"
    return app


def event(event_type: str, position: int) -> dict[str, Any]:
    """A greenhouse event of that type, its data as the recorded events have it."""
    field, value = next((f, v) for t, f, v in FIELDS if t == event_type)
    data = {field: value} if field else {}
    return {**record("greenhouse-1", position, position), "event_type": event_type, "data": data}


def writing(second: int) -> bool:
    """Whether the cluster takes writes: not while it has no leader."""
    return not KILL_LEADER <= second < ELECTED


def events(second: int) -> list[tuple[str, int]]:
    """Each event type and how many of it the second brought."""
    if not writing(second):
        return []
    return [(event_type, count(second)) for event_type, count in TYPES]


def status(second: int, commit: int) -> ClusterStatus:
    """The cluster at ``second``, its commit index at ``commit``."""
    wobble = (second // 10) % 4
    lag3 = second % 5
    if second < KILL_LEADER:
        return ClusterStatus(
            leader="node1",
            term=3,
            nodes=(
                node("node1", "leader", position=commit, latency=1.1 + 0.2 * wobble),
                node("node2", "follower", position=commit, latency=1.5 + 0.1 * wobble),
                node("node3", "follower", position=commit, lag=lag3, latency=2.2 + 0.3 * wobble),
            ),
        )
    electing = second < ELECTED
    node1_up = second >= LEADER_BACK
    node1_lag = max(0, 3 * (CAUGHT_UP - second)) if node1_up else 0
    node3_up = not KILL_FOLLOWER <= second < FOLLOWER_BACK
    node3_lag = max(0, 20 - 4 * (second - FOLLOWER_BACK)) if second >= FOLLOWER_BACK else lag3
    nodes: tuple[NodeRow, ...] = (
        node(
            "node1",
            "follower",
            term=4,
            position=commit,
            lag=node1_lag,
            up=node1_up,
            latency=1.1 + 0.9 * (node1_lag > 0) + 0.2 * wobble,
        ),
        node(
            "node2",
            "candidate" if electing else "leader",
            term=4,
            position=commit,
            latency=1.5 + 0.1 * wobble,
        ),
        node(
            "node3",
            "follower",
            term=4 if second >= ELECTED else 3,
            position=commit,
            lag=node3_lag,
            up=node3_up,
            latency=2.2 + 0.3 * wobble,
        ),
    )
    return ClusterStatus(leader=None if electing else "node2", term=4, nodes=nodes)


def subscriptions(second: int, head: int, rows: list[SubscriptionRow]) -> list[SubscriptionRow]:
    """``my_sub``'s consumer keeps up but for the minute after the failover, which it then
    works off; ``heat`` has no consumer, so its backlog only grows."""
    my_sub, heat = rows
    if second < KILL_LEADER:
        behind = 3
    elif second < LEADER_BACK:
        behind = 12 * (second - KILL_LEADER)
    else:
        behind = max(3, 12 * (LEADER_BACK - KILL_LEADER) - 20 * (second - LEADER_BACK))
    return [replace(my_sub, checkpoint=head - behind), replace(heat, checkpoint=4810)]


async def play(app: GateConsole) -> None:
    """Feed the five minutes to the app, a second at a time, as its timers would."""
    ops: Any = app.ops
    feed = ops.observers.get("reg_gh:$all").feed
    rows = list(ops.subscriptions.rows_data)
    commit, head = COMMIT, HEAD
    await app.refresh_lists()  # the first second's, as the mounted app's first poll
    for second in range(1, SECONDS):
        brought = events(second)
        for event_type, count in brought:
            for n in range(count):
                feed.push(seen_line(event(event_type, head + n)))
            head += count
        if writing(second):
            commit += 20 + 10 * ((second // 30) % 3)
        ops.subscriptions.rows_data = subscriptions(second, head, rows)
        ops.health.show(status(second, commit), head=head)
        app.drain()
        if second % 2 == 0:
            await app.refresh_lists()
