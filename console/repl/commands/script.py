"""``wait N`` at the menu prompt: a pause of N seconds, so a script (a lesson) lets producers,
consumers and restarted nodes do their work before it looks at them; ``tempo N``: the cluster
N times slower from here on (1: full speed), so a lesson can show an election in slow motion.

A line rather than a numbered option: the menu stays the original console's, and a pause is
for scripts (typed at a terminal it waits too, and Ctrl+C ends it early).  The line is read by
the lesson format's parser (``console.ops.lessons``), the one both consoles play.
"""

from __future__ import annotations

import asyncio

from console.ops.lessons import parse_tempo, parse_wait
from console.ops.outcomes import tempo_set
from console.repl.context import Context


async def wait(ctx: Context, answer: str) -> None:
    """Sleep for the seconds of ``answer``, saying so first."""
    seconds = parse_wait(answer)
    ctx.printer.line(f"⏳ Waiting {seconds:g} s…")
    await asyncio.sleep(seconds)


async def tempo(ctx: Context, answer: str) -> None:
    """Set the cluster's tempo to the N of ``tempo N``."""
    ctx.printer.outcome(tempo_set(await ctx.ops.cluster.set_tempo(parse_tempo(answer))))
