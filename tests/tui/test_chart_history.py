"""The charts' history (console/tui/charts/history.py) and its sparklines, with a fake clock:
rates from commit indexes, marks of elections and nodes down, the feed counted by type once a
second, backlogs from the store's head, the five-minute window; and the key naming the lines."""

from __future__ import annotations

from dataclasses import replace

import pytest

from console.ops.cluster import ClusterStatus, HealthSample
from console.ops.formatting import seen_line
from console.tui.charts.draw import (
    HEAD_COLOUR,
    LINE_COLOURS,
    key_lines,
    sparkline,
    subscription_key,
)
from console.tui.charts.history import ChartHistory, Mark
from console.tui.feed.lines import FeedLine
from tests.tui.recorded import HEALTHY, NEW_LEADER, NO_LEADER, RecordedOps
from tests.tui.recorded_charts import event


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_commit_rate_lag_and_probe_per_node() -> None:
    history = ChartHistory(Clock())
    moved = replace(HEALTHY, nodes=tuple(replace(n, commit_position=1300) for n in HEALTHY.nodes))
    history.add_sample(HealthSample(HEALTHY, 0.0, None, 10.0))
    history.add_sample(HealthSample(moved, 0.0, None, 12.0))
    node3 = history.nodes["node3"]
    assert node3["commit"].since(0) == [(12.0, 30.0)]  # (1300 - 1240) / 2 s
    assert [value for _, value in node3["lag"].since(0)] == [4.0, 4.0]
    assert node3["probe"].latest == pytest.approx(2.0)  # the TCP probe's latency while it is up
    assert history.versions["cluster"] == 2


def test_a_leader_down_and_an_election_are_marked_once() -> None:
    history = ChartHistory(Clock())
    for at, status in enumerate((HEALTHY, NO_LEADER, NO_LEADER, NEW_LEADER), start=1):
        history.add_sample(HealthSample(status, 0.0, None, float(at)))
    assert list(history.marks) == [
        Mark(2.0, "down", "node1 down"),
        Mark(4.0, "election", "node2 leads (term 4)"),
    ]
    # A node down leaves a gap: no sample of its own while it is down.
    assert history.nodes["node1"]["lag"].since(2.0) == []


def test_a_crash_restarted_between_two_looks_is_marked_down() -> None:
    # The gateway restarted node3 (restarts 0 -> 1) quicker than a look: up at both, once down;
    # its next looks, and a look after it is seen down and back, add no second mark.
    def restarted(status: ClusterStatus, times: int) -> ClusterStatus:
        nodes = tuple(
            replace(n, restarts=times) if n.node_id == "node3" else n for n in status.nodes
        )
        return replace(status, nodes=nodes)

    down = replace(
        HEALTHY,
        nodes=tuple(
            replace(n, http_up=False, tcp_up=False) if n.node_id == "node3" else n
            for n in HEALTHY.nodes
        ),
    )
    history = ChartHistory(Clock())
    looks = (HEALTHY, restarted(HEALTHY, 1), restarted(HEALTHY, 1), restarted(down, 1))
    for at, status in enumerate((*looks, restarted(HEALTHY, 2)), start=1):
        history.add_sample(HealthSample(status, 0.0, None, float(at)))
    assert list(history.marks) == [Mark(2.0, "down", "node3 down"), Mark(4.0, "down", "node3 down")]


def test_an_unreachable_gateway_adds_nothing() -> None:
    history = ChartHistory(Clock())
    history.add_sample(HealthSample(None, 0.0, "the gateway does not answer", 1.0))
    assert history.nodes == {} and history.versions["cluster"] == 0


def test_the_feed_is_counted_by_type_once_a_second() -> None:
    clock = Clock()
    history = ChartHistory(clock)
    line = FeedLine("reg_gh:$all", seen_line(event("humidity_measured:v1", 7)))
    history.add_feed([line] * 50)  # the feeds' recent past, drained first: not counted
    clock.now += 0.5
    history.add_feed([line] * 3)
    assert history.event_types == {}  # not a second yet
    clock.now += 1.0
    history.add_feed([line] * 3)
    assert history.event_types["humidity_measured:v1"].since(0) == [(1001.5, 4.0)]
    clock.now += 2.0
    history.add_feed([])
    assert history.event_types["humidity_measured:v1"].latest == 0.0


def test_backlog_is_the_head_minus_the_checkpoint() -> None:
    clock = Clock()
    history = ChartHistory(clock)
    rows = RecordedOps().subscriptions.rows_data  # my_sub at 1236, heat at 88
    history.add_subscriptions(rows, 1300)
    assert history.backlogs["my_sub"].latest == 64 and history.backlogs["heat"].latest == 1212
    assert history.head.latest == 1300
    clock.now += 1
    history.add_subscriptions(rows[:1], None)  # heat deleted; no head known this time
    assert set(history.backlogs) == {"my_sub"} and history.checkpoints["my_sub"].latest == 1236


def test_the_window_is_five_minutes() -> None:
    clock = Clock(1000.0)
    history = ChartHistory(clock)
    for second in range(400):
        history.add_sample(HealthSample(HEALTHY, 0.0, None, 600.0 + second))
    assert len(history.nodes["node1"]["lag"].since(history.start())) == 300


def test_a_sparkline_averages_each_slice_and_colours_the_marks() -> None:
    points = [(float(t), float(t % 10)) for t in range(0, 100)]
    line = sparkline(points, 0.0, 100.0, 10, [Mark(55.0, "down", "node1 down")])
    assert line.plain == "▄▄▄▄▄▄▄▄▄▄"  # each slice of 10 s averages 4.5: all alike
    assert [span.style for span in line.spans if span.start == 5] == ["bold white on red"]
    rising = sparkline([(float(t), float(t)) for t in range(10)], 0.0, 10.0, 10)
    assert rising.plain == "▁▂▃▃▄▅▆▆▇█"
    assert sparkline([(2.0, 1.0)], 0.0, 10.0, 5).plain == " ▄   "  # flat: halfway; none: blank


def test_two_looks_at_one_moment_are_one_sample() -> None:
    history = ChartHistory(Clock())
    rows = RecordedOps().subscriptions.rows_data
    history.add_subscriptions(rows, 1300)
    history.add_subscriptions(rows, 1310)  # the list polled again before the clock moved
    assert history.backlogs["my_sub"].since(0) == [(1000.0, 74.0)]


def test_the_key_names_each_line_in_its_colour_and_never_splits_a_name() -> None:
    history = ChartHistory(Clock())
    history.add_subscriptions(RecordedOps().subscriptions.rows_data, 1300)
    series = subscription_key(history)  # the head first, then the checkpoints as drawn
    assert [name for name, _ in series] == ["head", *sorted(history.checkpoints)]
    assert series[0][1] == HEAD_COLOUR and series[1][1] == LINE_COLOURS[0]
    (line,) = key_lines(series, 80)
    assert line.plain == "━ head  " + "  ".join(f"━ {name}" for name, _ in series[1:])
    red, green, blue = HEAD_COLOUR
    assert f"rgb({red},{green},{blue})" in str(line.spans[1].style)  # "head" in its line's colour
    names = [("alpha", LINE_COLOURS[0]), ("beta", LINE_COLOURS[1]), ("gamma", LINE_COLOURS[2])]
    assert [text.plain for text in key_lines(names, 15)] == ["━ alpha  ━ beta", "━ gamma"]
    assert [text.plain for text in key_lines(names, 3)] == ["━ alpha", "━ beta", "━ gamma"]
    assert key_lines([], 80) == []
