"""``wait N`` at the menu prompt: a pause of N seconds, so a script (a lesson) lets producers,
consumers and restarted nodes do their work before it looks at them; ``tempo N``: the cluster
N times slower from here on (1: full speed), so a lesson can show an election in slow motion.

A line rather than a numbered option: the menu stays the original console's, and a pause is
for scripts (typed at a terminal it waits too, and Ctrl+C ends it early).
"""

from __future__ import annotations

import asyncio

from console.ops.cluster import MAX_TEMPO
from console.ops.numbers import parse_whole
from console.ops.outcomes import tempo_set
from console.repl.context import BadInput, Context

WAIT = "wait"
TEMPO = "tempo"
MAX_WAIT = 60.0


def _is(answer: str, word: str) -> bool:
    words = answer.split()
    return bool(words) and words[0].lower() == word


def is_wait(answer: str) -> bool:
    """Whether the menu answer is a ``wait`` line (valid or not)."""
    return _is(answer, WAIT)


def is_tempo(answer: str) -> bool:
    """Whether the menu answer is a ``tempo`` line (valid or not)."""
    return _is(answer, TEMPO)


def parse_wait(answer: str) -> float:
    """The seconds of ``wait N``: a number, more than 0 and at most ``MAX_WAIT``."""
    words = answer.split()
    usage = f"type 'wait N' with N seconds, more than 0 and at most {MAX_WAIT:g}"
    if len(words) != 2:
        raise BadInput(f"{answer!r}: {usage}")
    try:
        seconds = float(words[1])
    except ValueError:
        raise BadInput(f"{words[1]!r} is not a number: {usage}") from None
    # "not (...)" so that nan is refused too.
    if not 0 < seconds <= MAX_WAIT:
        raise BadInput(f"{words[1]} is out of range: {usage}")
    return seconds


async def wait(ctx: Context, answer: str) -> None:
    """Sleep for the seconds of ``answer``, saying so first."""
    seconds = parse_wait(answer)
    ctx.printer.line(f"⏳ Waiting {seconds:g} s…")
    await asyncio.sleep(seconds)


async def tempo(ctx: Context, answer: str) -> None:
    """Set the cluster's tempo to the N of ``tempo N``."""
    words = answer.split()
    usage = f"type 'tempo N' with N from 1 (full speed) to {MAX_TEMPO} times slower"
    if len(words) != 2:
        raise BadInput(f"{answer!r}: {usage}")
    scale = parse_whole(words[1], "tempo", minimum=1, maximum=MAX_TEMPO)
    ctx.printer.outcome(tempo_set(await ctx.ops.cluster.set_tempo(scale)))
