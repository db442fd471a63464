"""Options 1-6: create observers by stream, event type and payload; list, monitor, stop them."""

from __future__ import annotations

from typing import Any

from console.ops.answers import known_name, pick
from console.ops.formatting import rate_text
from console.ops.observers import (
    ALL_STREAMS,
    ObserverRow,
    event_type_selector,
    payload_selector,
    stream_selector,
)
from console.ops.outcomes import observer_created, observer_stopped, shown_stream
from console.ops.patterns import parse_pattern
from console.repl.context import Context, parsed
from console.repl.monitor import monitor_feed
from console.repl.tables import Cell
from domain.greenhouse.catalogue import EVENT_TYPES

PAYLOAD_EXAMPLES = (
    ('%{operator: "John"}', "Events with operator John"),
    ("%{temperature: 25}", "Events with temperature 25"),
    ("%{intensity: _}", "Events with any intensity field"),
    ('{"humidity": {"$gte": 80}}', "JSON, with an operator"),
)


async def create_by_stream(ctx: Context) -> None:
    """1. Create Observer by Stream."""
    ctx.printer.heading("📊 Creating Observer by Stream")
    streams = await ctx.ops.streams.names()
    ctx.printer.line(f"Available streams: {', '.join(streams) or 'none yet'}")
    ctx.printer.line(f"Special streams: {ALL_STREAMS} (all streams)")
    selector = await ctx.answer(
        "Enter stream name (or $all): ",
        parsed(stream_selector),
        history="stream",
        completions=[ALL_STREAMS, *streams],
    )
    stream = selector["by_stream"]
    name = await ask_observer_name(ctx, selector)
    observer = await ctx.ops.observers.create(selector, name)
    shown = shown_stream(stream)
    ctx.printer.outcome(observer_created(observer.name, selector))
    if stream != ALL_STREAMS and shown not in streams:
        ctx.printer.warn(f"No stream '{shown}' yet: its events will show once they come")


async def ask_observer_name(ctx: Context, selector: dict[str, Any]) -> str:
    """A free name for a new observer; empty takes the default shown."""
    observers = ctx.ops.observers
    default = observers.default_name(selector)
    return await ctx.answer(
        f"Enter observer name (default {default}): ",
        parsed(lambda text: observers.new_name(text, selector)),
        history="observer",
        optional=True,
    )


def print_event_types(ctx: Context) -> None:
    """The numbered list of the catalogue's event types."""
    ctx.printer.line("Available event types:")
    for number, event_type in enumerate(EVENT_TYPES, 1):
        ctx.printer.line(f"  {number}. {event_type}")


async def create_by_event_type(ctx: Context) -> None:
    """2. Create Observer by Event Type."""
    ctx.printer.heading("📊 Creating Observer by Event Type")
    print_event_types(ctx)
    event_type = await ask_event_type(ctx)
    name = await ask_observer_name(ctx, event_type_selector(event_type))
    observer = await ctx.ops.observers.create_by_event_type(event_type, name)
    ctx.printer.outcome(observer_created(observer.name, observer.selector))


async def ask_event_type(ctx: Context) -> str:
    """One of the catalogue's event types, by name or by its number in the list shown."""
    return await ctx.answer(
        "Enter event type: ",
        parsed(lambda text: pick(text, EVENT_TYPES)),
        history="event_type",
        completions=EVENT_TYPES,
    )


def _payload_selector(text: str) -> dict[str, Any]:
    return payload_selector(parse_pattern(text))


async def create_by_payload(ctx: Context) -> None:
    """3. Create Observer by Event Payload."""
    ctx.printer.heading("📊 Creating Observer by Event Payload")
    ctx.printer.line("Example patterns:")
    for example, meaning in PAYLOAD_EXAMPLES:
        ctx.printer.line(f"  {example:<28} - {meaning}")
    # The default name is that of every payload observer ("reg_gh:payload"), pattern or not.
    name = await ask_observer_name(ctx, {"by_event_payload": {}})
    ctx.printer.hint('Enter payload pattern as a map (e.g., %{operator: "John"}) or as JSON')
    selector = await ctx.answer("Pattern: ", parsed(_payload_selector), history="pattern")
    observer = await ctx.ops.observers.create(selector, name)
    ctx.printer.outcome(observer_created(observer.name, selector))


def _state_cell(row: ObserverRow) -> Cell:
    if row.state == "running":
        return ("class:ok", "🟢 running")
    if row.state == "reconnecting":
        return ("class:warn", "🟡 reconnecting")
    if row.state == "failed":
        return ("class:error", f"🔴 failed: {row.error}")
    return ("class:warn", f"⚪ {row.state}")


def print_observers(ctx: Context) -> bool:
    """The observers table; False (after a warning) when there are none."""
    rows = ctx.ops.observers.rows()
    if not rows:
        ctx.printer.warn("No active observers")
        return False
    ctx.printer.table(
        ("Name", "Selector", "Seen", "Rate", "Dropped", "Status"),
        [
            (r.name, r.selector, str(r.seen), rate_text(r.rate), str(r.dropped), _state_cell(r))
            for r in rows
        ],
    )
    return True


async def list_observers(ctx: Context) -> None:
    """4. List Active Observers."""
    ctx.printer.heading("📋 Active Observers")
    print_observers(ctx)


async def monitor_observer(ctx: Context) -> None:
    """5. Monitor Specific Observer (and this session's subscription consumers)."""
    ctx.printer.heading("📋 Active Observers")
    print_observers(ctx)
    consumers = ctx.ops.subscriptions.consumer_names()
    if consumers:
        ctx.printer.line(f"Subscriptions consumed here: {', '.join(consumers)}")
    names = [*ctx.ops.observers.names(), *consumers]
    if not names:
        ctx.printer.hint("Nothing to monitor yet: options 1-3 create observers, 10 a subscription")
        return
    name = await ctx.answer(
        "Enter observer name to monitor: ",
        parsed(lambda text: known_name(text, names, "observer")),
        history="observer",
        completions=names,
    )
    if name in consumers and name not in ctx.ops.observers.names():
        consumer = ctx.ops.subscriptions.consumer(name)
        # Option 26 may have made it nack some: say so, since the RECEIVED lines show it.
        policy = consumer.policy
        doing = "acks every event" if policy.acks_all else policy.describe()
        feed, what = consumer.feed, f"Subscription consumer: {name} ({doing})"
    else:
        observer = ctx.ops.observers.get(name)
        feed, what = observer.feed, f"Type: {observer.kind}, Selector: {observer.describe()}"
    ctx.printer.heading(f"👁️  Monitoring: {name}")
    ctx.printer.line(what)
    if ctx.terminal.interactive:
        ctx.printer.hint("Press Ctrl+C to stop monitoring")
    ctx.monitor_positions[feed] = await monitor_feed(
        feed, ctx.monitor_positions.get(feed), ctx.printer, ctx.terminal, ctx.script_pacing
    )
    ctx.printer.hint(f"Stopped monitoring {name}")


async def stop_observer(ctx: Context) -> None:
    """6. Stop Observer."""
    ctx.printer.heading("📋 Active Observers")
    if not print_observers(ctx):
        return
    names = ctx.ops.observers.names()
    name = await ctx.answer(
        "Enter observer name to stop: ",
        parsed(lambda text: ctx.ops.observers.get(text).name),
        history="observer",
        completions=names,
    )
    observer = await ctx.ops.observers.stop(name)
    ctx.printer.outcome(observer_stopped(observer.name))
