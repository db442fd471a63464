"""Options 12-13 and lab options 24-25: view, browse and append stream data."""

from __future__ import annotations

from typing import Any

from console.ops.answers import pick
from console.ops.catalogue import operation
from console.ops.errors import OpsError
from console.ops.formatting import data_hint, elixir_term, event_text
from console.ops.numbers import is_choice_number, parse_whole
from console.ops.outcomes import event_appended, events_appended
from console.ops.patterns import parse_data
from console.ops.streams import (
    DEFAULT_APPEND,
    DEFAULT_FETCH,
    DIRECTIONS,
    MAX_COUNT,
    NewStreamError,
    StreamPage,
    check_event,
    check_first_event,
    existing_stream,
    parse_direction,
    stream_id,
)
from console.repl.commands.observers import print_event_types
from console.repl.context import Context, parsed
from domain.greenhouse.catalogue import EVENT_TYPES

_SHOWN_AFTER_APPEND = 3
_FULL_DATES = 120


async def _ask_stream(ctx: Context, *, listed: bool) -> str:
    """``Enter stream name: `` with completion.  ``listed``: one of the streams, which are
    listed first (a number picks from the list); else any stream id (a new one too)."""
    rows = await ctx.ops.streams.rows()
    names = [row.stream_id for row in rows]
    if listed:
        ctx.printer.line("Available streams:")
        if not rows:
            ctx.printer.line("  (none yet)")
        for number, row in enumerate(rows, 1):
            ctx.printer.line(f"  {number}. {row.stream_id} (v{row.version})")

    async def check(text: str) -> str:
        if not listed:
            return stream_id(text)
        if text.strip() in names or is_choice_number(text.strip(), len(names)):
            return existing_stream(text, names)
        # Producers may have started a stream since the list was shown.
        return existing_stream(text, await ctx.ops.streams.names())

    return await ctx.answer("Enter stream name: ", check, history="stream", completions=names)


def print_events(ctx: Context, page: StreamPage) -> None:
    """A page of events as a table."""
    ctx.printer.line(f"📄 Events from '{page.stream_id}' (version {page.version}):", "class:ok")
    if not page.events:
        ctx.printer.warn("No events in that range")
        return
    size = ctx.printer.size()
    # The time of day alone below 120 columns, where the date would leave the data no room.
    short = size is not None and size[0] < _FULL_DATES
    ctx.printer.table(
        ("Version", "Position", "Event type", "Data", "Created"),
        [
            (
                f"v{e['event_number']}",
                str(e["position"]),
                e["event_type"],
                elixir_term(e["data"]),
                _time_of_day(str(e.get("created", ""))) if short else str(e.get("created", "")),
            )
            for e in page.events
        ],
        folded=3,
    )


def _time_of_day(created: str) -> str:
    """``2026-12-06T13:54:15.123456Z`` -> ``13:54:15``."""
    _, _, time = created.partition("T")
    return time[:8] or created


async def view_stream(ctx: Context) -> None:
    """12. View Stream Data."""
    ctx.printer.heading("📈 View Stream Data")
    stream = await _ask_stream(ctx, listed=True)
    count = await ctx.ask_int(
        f"Number of events to fetch (default {DEFAULT_FETCH}): ",
        "number of events",
        DEFAULT_FETCH,
        minimum=1,
        maximum=MAX_COUNT,
    )
    print_events(ctx, await ctx.ops.streams.read(stream, 0, count))


async def browse_stream(ctx: Context) -> None:
    """25. Browse Stream: from a version, either direction."""
    ctx.printer.heading("🔎 Browse Stream")
    stream = await _ask_stream(ctx, listed=True)
    direction = await ctx.answer(
        "Direction (forward/backward, default forward): ",
        parsed(parse_direction),
        history="direction",
        completions=DIRECTIONS,
        optional=True,
    )
    backward = direction == "backward"

    def parse_start(text: str) -> int | None:
        if backward and not text:
            return None  # from the last event
        return parse_whole(text, "start version", default=0)

    start = await ctx.answer(
        f"Start from version (default {'the last event' if backward else '0'}): ",
        parsed(parse_start),
        history="version",
        optional=True,
    )
    count = await ctx.ask_int(
        f"Number of events to fetch (default {DEFAULT_FETCH}): ",
        "number of events",
        DEFAULT_FETCH,
        minimum=1,
        maximum=MAX_COUNT,
    )
    print_events(ctx, await ctx.ops.streams.read(stream, start, count, direction))


async def append_events(ctx: Context) -> None:
    """13. Append Events Manually: random greenhouse events, checked with the catalogue."""
    ctx.printer.heading("📝 Append Events Manually")
    stream = await _ask_stream(ctx, listed=False)
    count = await ctx.ask_int(
        f"Number of events to append (default {DEFAULT_APPEND}): ",
        "number of events",
        DEFAULT_APPEND,
        minimum=1,
        maximum=MAX_COUNT,
    )
    result = await ctx.ops.streams.append_generated(stream, count)
    ctx.printer.outcome(events_appended(stream, len(result.events), result.version))
    ctx.printer.line("Latest events:")
    for event in result.events[-_SHOWN_AFTER_APPEND:]:
        ctx.printer.line(f"  • {event_text(event)}")


async def append_chosen_event(ctx: Context) -> None:
    """24. Append a Chosen Event: a type from the catalogue and its data, checked first."""
    ctx.printer.heading("📝 Append a Chosen Event")
    stream = await _ask_stream(ctx, listed=False)
    exists = stream in await ctx.ops.streams.names()
    print_event_types(ctx)

    async def check_type(text: str) -> str:
        event_type = pick(text, EVENT_TYPES)
        try:
            check_first_event(stream, exists, event_type)
        except NewStreamError as exc:
            raise OpsError(f"{exc} ({operation('append_events').option})") from None
        return event_type

    event_type = await ctx.answer(
        "Enter event type: ", check_type, history="event_type", completions=EVENT_TYPES
    )
    ctx.printer.hint(f"Fields: {data_hint(event_type)}  (or JSON)")

    def parse_event_data(text: str) -> dict[str, Any]:
        data = parse_data(text)
        check_event(event_type, data)
        return data

    data = await ctx.answer("Data: ", parsed(parse_event_data), history="data")
    try:
        result = await ctx.ops.streams.append_event(stream, event_type, data)
    except NewStreamError as exc:
        raise OpsError(f"{exc} ({operation('append_events').option})") from None
    ctx.printer.outcome(event_appended(event_type, stream, result.version))
    ctx.printer.line(f"  • {event_text(result.events[-1])}")
