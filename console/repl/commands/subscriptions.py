"""Options 10-11: create a persistent subscription (consumed here, acking), list them."""

from __future__ import annotations

from console.ops.observers import ALL_STREAMS, stream_selector
from console.ops.subscriptions import parse_start
from console.repl.context import Context


async def create_subscription(ctx: Context) -> None:
    """10. Create Subscription."""
    ctx.printer.heading("📡 Creating Subscription")
    name = await ctx.ask("Enter subscription name: ", await ctx.ops.subscriptions.names())
    streams = await ctx.ops.streams.names()
    ctx.printer.line(f"Available streams: {', '.join(streams) or 'none yet'} (or {ALL_STREAMS})")
    stream = await ctx.ask("Enter stream name: ", [ALL_STREAMS, *streams])
    selector = stream_selector(stream)
    start = parse_start(await ctx.ask("Start from version (default 0): "))
    created = await ctx.ops.subscriptions.create(name, selector, start)
    if created:
        ctx.printer.ok(f"Subscription '{name}' created on '{stream}' from {start}")
    else:
        ctx.printer.ok(f"Subscription '{name}' exists with this definition already")
    ctx.printer.hint(
        f"This console consumes '{name}' and acks every event: "
        "option 5 shows its RECEIVED lines, option 11 its counters"
    )


async def list_subscriptions(ctx: Context) -> None:
    """11. List Subscriptions."""
    ctx.printer.heading("📋 Subscriptions")
    rows = await ctx.ops.subscriptions.rows()
    if not rows:
        ctx.printer.warn("No subscriptions")
        return
    ctx.printer.table(
        (
            "Name",
            "Selector",
            "Start",
            "Checkpoint",
            "Consumers",
            "In flight",
            "Parked",
            "Delivered",
            "Acked",
            "Nacked",
            "Here",
        ),
        [
            (
                r.name,
                r.selector,
                str(r.start_from),
                str(r.checkpoint),
                str(r.consumers),
                str(r.in_flight),
                str(r.parked),
                str(r.delivered),
                str(r.acked),
                str(r.nacked),
                ("class:ok", "consuming") if r.consuming_here else "",
            )
            for r in rows
        ],
    )
