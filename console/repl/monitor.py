"""Following an observer's or a consumer's lines live until Ctrl+C (or, in a script, until quiet).

Lines are printed in batches as they arrive; if the printer falls behind the bounded buffer,
one line says how many were skipped.  A script cannot press Ctrl+C, so there the monitor ends
once no line has come for ``quiet`` seconds (or after ``limit`` seconds in all).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from console.ops.line_feed import LineFeed
from console.repl.printer import Printer
from console.repl.terminal import Terminal

BACKLOG = 20  # buffered lines shown when monitoring something for the first time


@dataclass(frozen=True, slots=True)
class ScriptPacing:
    """How long a script's monitor waits: ``quiet`` s without a line, ``limit`` s at most."""

    quiet: float = 1.0
    limit: float = 5.0


def _style(line: str) -> str:
    if line.startswith("SEEN"):
        return "class:seen"
    if line.startswith("RECEIVED"):
        return "class:received"
    return "class:warn"


def _print_batch(printer: Printer, feed: LineFeed, seq: int) -> int:
    batch = feed.since(seq)
    if batch.missed:
        printer.warn(f"{batch.missed} lines skipped (the display fell behind)")
    for line in batch.lines:
        printer.line(line, _style(line))
    return batch.next_seq


async def monitor_feed(
    feed: LineFeed,
    start: int | None,
    printer: Printer,
    terminal: Terminal,
    pacing: ScriptPacing | None = None,
) -> int:
    """Print the feed's lines from ``start`` (default: the last ``BACKLOG``); answers where it
    stopped, for the next monitor to continue from."""
    seq = max(0, feed.total - BACKLOG) if start is None else start
    seq = _print_batch(printer, feed, seq)
    if terminal.interactive:
        return await _until_interrupt(feed, seq, printer, terminal)
    return await _until_quiet(feed, seq, printer, pacing or ScriptPacing())


async def _until_interrupt(feed: LineFeed, seq: int, printer: Printer, terminal: Terminal) -> int:
    position = seq

    async def pump() -> None:
        nonlocal position
        while True:
            await feed.wait_beyond(position)
            position = _print_batch(printer, feed, position)

    printing = asyncio.create_task(pump())
    try:
        await terminal.until_interrupt()
    finally:
        printing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await printing
    return position


async def _until_quiet(feed: LineFeed, seq: int, printer: Printer, pacing: ScriptPacing) -> int:
    deadline = time.monotonic() + pacing.limit
    while (left := deadline - time.monotonic()) > 0:
        try:
            await asyncio.wait_for(feed.wait_beyond(seq), min(pacing.quiet, left))
        except TimeoutError:
            break
        seq = _print_batch(printer, feed, seq)
    return seq
