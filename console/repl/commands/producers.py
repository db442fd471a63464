"""Options 7-9: start producers, stop one by stream id, list them."""

from __future__ import annotations

from console.ops.catalogue import operation
from console.ops.formatting import rate_text
from console.ops.outcomes import producer_stopped, producers_started
from console.ops.producers import DEFAULT_COUNT, MAX_COUNT
from console.ops.verdict import verdict_text
from console.repl.context import Context, parsed
from console.repl.tables import Cell
from domain.greenhouse.producer import ProducerRow


async def start_producers(ctx: Context) -> None:
    """7. Start Producers."""
    ctx.printer.heading("🏭 Starting Producers")
    count = await ctx.ask_int(
        "Number of producers (default 3): ",
        "number of producers",
        DEFAULT_COUNT,
        minimum=1,
        maximum=MAX_COUNT,
    )
    streams = await ctx.ops.producers.start(count)
    ctx.printer.outcome(producers_started(streams, rate_text(ctx.ops.producers.rate)))


async def stop_producer(ctx: Context) -> None:
    """8. Stop Producer."""
    ctx.printer.heading("🛑 Stopping Producer")
    running = ctx.ops.producers.running()
    if not running:
        start = operation("start_producers").option
        ctx.printer.warn(f"No producers running ({start} starts some)")
        return
    ctx.printer.line(f"Running producers: {', '.join(running)}")
    stream = await ctx.answer(
        "Enter stream ID to stop producer: ",
        parsed(ctx.ops.producers.running_stream),
        history="stream",
        completions=running,
    )
    await ctx.ops.producers.stop(stream)
    ctx.printer.outcome(producer_stopped(stream))


def _state_cell(row: ProducerRow) -> Cell:
    if row.state == "running":
        return ("class:ok", "🟢 running")
    if row.state == "failed":
        return ("class:error", f"🔴 failed: {row.last_error}")
    return ("class:warn", "⚪ stopped")


async def list_producers(ctx: Context) -> None:
    """9. List Active Producers, then the live verdict on what they got acknowledged."""
    ctx.printer.heading("📋 Active Producers")
    rows = ctx.ops.producers.rows()
    if not rows:
        ctx.printer.warn("No producers started in this session")
        return
    ctx.printer.table(
        ("Stream", "Mode", "Rate", "Produced", "Last version", "Errors", "State"),
        [
            (
                r.stream,
                r.mode,
                rate_text(r.rate),
                str(r.produced),
                str(r.last_version),
                str(r.errors),
                _state_cell(r),
            )
            for r in rows
        ],
    )
    text, ok = verdict_text(ctx.ops.verdict.latest, ctx.ops.verdict.unreadable)
    if text:
        ctx.printer.line(f"🔎 {text}", "class:ok" if ok else "class:error")
