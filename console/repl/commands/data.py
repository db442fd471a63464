"""Options 12-13 and lab options 24-25: view, browse and append stream data."""

from __future__ import annotations

from typing import Any

from console.ops.errors import OpsError
from console.ops.formatting import data_hint, elixir_term, event_text
from console.ops.numbers import is_choice_number, parse_whole
from console.ops.patterns import parse_data
from console.ops.streams import DIRECTIONS, MAX_COUNT, NewStreamError, StreamPage
from console.repl.commands.observers import print_event_types
from console.repl.context import BadInput, Context
from domain.greenhouse.catalogue import EVENT_TYPES

_SHOWN_AFTER_APPEND = 3


async def _ask_stream(ctx: Context, *, listed: bool) -> str:
    """``Enter stream name: `` with completion; a number picks from the list shown."""
    rows = await ctx.ops.streams.rows()
    if listed:
        ctx.printer.line("Available streams:")
        if not rows:
            ctx.printer.line("  (none yet)")
        for number, row in enumerate(rows, 1):
            ctx.printer.line(f"  {number}. {row.stream_id} (v{row.version})")
    names = [row.stream_id for row in rows]
    answer = await ctx.ask("Enter stream name: ", names)
    if listed and answer not in names and is_choice_number(answer, len(names)):
        return names[int(answer) - 1]
    return answer


def print_events(ctx: Context, page: StreamPage) -> None:
    """A page of events as a table."""
    ctx.printer.line(f"📄 Events from '{page.stream_id}' (version {page.version}):", "class:ok")
    if not page.events:
        ctx.printer.warn("No events in that range")
        return
    ctx.printer.table(
        ("Version", "Position", "Event type", "Data", "Created"),
        [
            (
                f"v{e['event_number']}",
                str(e["position"]),
                e["event_type"],
                elixir_term(e["data"]),
                str(e.get("created", "")),
            )
            for e in page.events
        ],
    )


async def view_stream(ctx: Context) -> None:
    """12. View Stream Data."""
    ctx.printer.heading("📈 View Stream Data")
    stream = await _ask_stream(ctx, listed=True)
    count = await ctx.ask_int(
        "Number of events to fetch (default 10): ",
        "number of events",
        10,
        minimum=1,
        maximum=MAX_COUNT,
    )
    print_events(ctx, await ctx.ops.streams.read(stream, 0, count))


async def browse_stream(ctx: Context) -> None:
    """25. Browse Stream: from a version, either direction."""
    ctx.printer.heading("🔎 Browse Stream")
    stream = await _ask_stream(ctx, listed=True)
    direction = (await ctx.ask("Direction (forward/backward, default forward): ", DIRECTIONS)) or (
        "forward"
    )
    if direction not in DIRECTIONS:
        raise BadInput(f"{direction!r} is not a direction: type forward or backward")
    default = "the last event" if direction == "backward" else "0"
    answer = await ctx.ask(f"Start from version (default {default}): ")
    start = (
        None
        if not answer and direction == "backward"
        else parse_whole(answer, "start version", default=0)
    )
    count = await ctx.ask_int(
        "Number of events to fetch (default 10): ",
        "number of events",
        10,
        minimum=1,
        maximum=MAX_COUNT,
    )
    print_events(ctx, await ctx.ops.streams.read(stream, start, count, direction))


async def append_events(ctx: Context) -> None:
    """13. Append Events Manually: random greenhouse events, checked with the catalogue."""
    ctx.printer.heading("📝 Append Events Manually")
    stream = await _ask_stream(ctx, listed=False)
    count = await ctx.ask_int(
        "Number of events to append (default 5): ",
        "number of events",
        5,
        minimum=1,
        maximum=MAX_COUNT,
    )
    result = await ctx.ops.streams.append_generated(stream, count)
    ctx.printer.ok(
        f"Appended {len(result.events)} events to '{stream}' (now at version {result.version})"
    )
    ctx.printer.line("Latest events:")
    for event in result.events[-_SHOWN_AFTER_APPEND:]:
        ctx.printer.line(f"  • {event_text(event)}")


async def append_chosen_event(ctx: Context) -> None:
    """24. Append a Chosen Event: a type from the catalogue and its data, checked first."""
    ctx.printer.heading("📝 Append a Chosen Event")
    stream = await _ask_stream(ctx, listed=False)
    print_event_types(ctx)
    event_type = await ctx.pick("Enter event type: ", EVENT_TYPES)
    ctx.printer.hint(f"Fields: {data_hint(event_type)}  (or JSON)")
    data: dict[str, Any] = parse_data(await ctx.ask("Data: "))
    try:
        result = await ctx.ops.streams.append_event(stream, event_type, data)
    except NewStreamError as exc:
        raise OpsError(f"{exc} (option 13)") from None
    ctx.printer.ok(f"Appended {event_type} to '{stream}' at version {result.version}")
    ctx.printer.line(f"  • {event_text(result.events[-1])}")
