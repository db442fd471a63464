"""The text both front ends share: SEEN / RECEIVED lines, Elixir terms, tables, feeds, rates."""

from __future__ import annotations

import asyncio
import io

import pytest

from console.ops.cluster import ClusterStatus, HealthSample
from console.ops.formatting import (
    elixir_term,
    pattern_text,
    rate_text,
    received_line,
    seen_line,
    selector_text,
)
from console.ops.line_feed import LineFeed
from console.ops.rate import CounterRate, RateMeter
from console.repl.printer import Printer
from console.repl.tables import render_table
from console.repl.toolbar import toolbar_fragments


def _record(stream: str, event_type: str, number: int, data: dict) -> dict:
    return {"stream_id": stream, "event_type": event_type, "event_number": number, "data": data}


def test_seen_and_received_lines_are_exactly_the_originals() -> None:
    seen = seen_line(_record("greenhouse-1", "temperature_measured:v1", 15, {"temperature": 23}))
    assert seen == 'SEEN ["greenhouse-1:temperature_measured:v1 (v15) => %{temperature: 23}"]'
    received = received_line(
        "my_sub", _record("greenhouse-1", "humidity_measured:v1", 12, {"humidity": 65})
    )
    assert received == (
        'RECEIVED ["my_sub" "greenhouse-1:humidity_measured:v1 v(12) => %{humidity: 65}"]'
    )


def test_strings_inside_lines_are_escaped_as_elixir_inspect_does() -> None:
    record = _record("greenhouse-2", "desired_light_set:v1", 3, {"light": 40, "operator": "John"})
    assert seen_line(record) == (
        'SEEN ["greenhouse-2:desired_light_set:v1 (v3) => %{light: 40, operator: \\"John\\"}"]'
    )


def test_elixir_terms() -> None:
    value = {"a": [1, 2.5, None, True], "weird key": {"x": "y\n"}}
    assert elixir_term(value) == '%{a: [1, 2.5, nil, true], "weird key": %{x: "y\\n"}}'
    assert pattern_text({"intensity": {"$exists": True}}) == "%{intensity: _}"
    assert selector_text({"by_event_payload": {"operator": "John"}}) == (
        'by_event_payload %{operator: "John"}'
    )
    assert selector_text({"by_stream": "$all"}) == "by_stream $all"
    assert rate_text(3.14159) == "3.1/s" and rate_text(1234.5) == "1234/s"


def test_tables_align_on_display_width() -> None:
    lines = render_table(("Node", "HTTP"), [("node1", ("class:ok", "🟢 up")), ("n2", "down")])
    text = ["".join(t for _, t in parts) for parts in lines]
    assert text == ["Node   HTTP", "─────  ─────", "node1  🟢 up", "n2     down"]


def test_plain_printer_writes_no_escapes_and_styled_printer_does() -> None:
    plain = io.StringIO()
    Printer(stream=plain).error("bad")
    assert plain.getvalue() == "❌ bad\n"
    from prompt_toolkit.output.color_depth import ColorDepth
    from prompt_toolkit.output.vt100 import Vt100_Output

    styled = io.StringIO()
    output = Vt100_Output(styled, lambda: None, default_color_depth=ColorDepth.DEPTH_8_BIT)  # type: ignore[arg-type]
    Printer(output=output).ok("fine")
    assert "\x1b[" in styled.getvalue() and "✅ fine" in styled.getvalue()


async def test_line_feed_is_bounded_and_reports_what_a_reader_missed() -> None:
    feed = LineFeed(capacity=3)
    for i in range(5):
        feed.push(f"line {i}")
    assert feed.recent() == ["line 2", "line 3", "line 4"]
    batch = feed.since(0)
    assert batch.missed == 2 and batch.lines == ["line 2", "line 3", "line 4"]
    assert batch.next_seq == 5
    waiter = asyncio.create_task(feed.wait_beyond(5))
    await asyncio.sleep(0)
    assert not waiter.done()
    feed.push("line 5")
    await asyncio.wait_for(waiter, 1)
    assert feed.since(5).lines == ["line 5"]


def test_rates_follow_an_injected_clock() -> None:
    now = [100.0]
    meter = RateMeter(window=5.0, clock=lambda: now[0])
    now[0] = 105.0
    meter.add(10)
    assert meter.rate() == pytest.approx(2.0)
    now[0] = 111.0  # the samples left the window
    assert meter.rate() == 0.0
    counter = CounterRate(window=5.0, clock=lambda: now[0])
    counter.update(100)
    now[0] = 113.0
    counter.update(150)
    assert counter.rate() == pytest.approx(25.0)


def test_toolbar_shows_leader_nodes_and_rate_or_why_not() -> None:
    view = {
        "leader": "node2",
        "term": 4,
        "nodes": [
            {"node_id": "node1", "role": "down", "http": {"up": False}, "tcp": {"up": False}},
            {"node_id": "node2", "role": "leader", "http": {"up": True}, "tcp": {"up": True}},
        ],
    }
    sample = HealthSample(ClusterStatus.from_view(view), 12.5, None, 0.0)
    text = "".join(t for _, t in toolbar_fragments(sample, "http://gw"))
    assert "leader node2 (term 4)" in text and "1/2 nodes up" in text and "12.5/s" in text
    down = HealthSample(None, 0.0, "connection refused", 0.0)
    assert "unreachable: connection refused" in "".join(
        t for _, t in toolbar_fragments(down, "http://gw")
    )
