"""The menu prompt's directive lines, for scripts (lessons): ``wait N``, ``tempo N``, ``ask``.

``wait N`` pauses N seconds, so a script lets producers, consumers and restarted nodes do their
work before it looks at them.  ``tempo N`` makes the cluster N times slower from here on (1:
full speed), so a lesson can show an election in slow motion.  ``ask "Question?" a|b|c
[-> leader]`` asks the person at a terminal (a choice's word or number; empty or Ctrl+C skips
it); the dashboard's seat answered with a key before the step ran (``Context.seat_answer``); a
script read from stdin shows the question and skips it, reading no line, so that one lesson
file plays in both consoles (the lines after an ask line are the step's, not an answer).  When
the step ends the shell says whether the answer was right, computed from the cluster
(:func:`check_questions`).

Lines rather than numbered options: the menu stays the original console's.  Typed at a terminal
they work too (Ctrl+C ends a wait early, skips a question).  The lines are read by the lesson
format's parser (``console.ops.lessons``), the one both consoles play.
"""

from __future__ import annotations

import asyncio

from console.ops.errors import OpsError
from console.ops.lesson_recap import Asked
from console.ops.lessons import parse_ask, parse_tempo, parse_wait, right_answer
from console.ops.operations import Operations
from console.ops.outcomes import tempo_set
from console.repl.context import BadInput, Cancelled, Context
from engine.client import GateError


async def wait(ctx: Context, answer: str) -> None:
    """Sleep for the seconds of ``answer``, saying so first."""
    seconds = parse_wait(answer)
    ctx.printer.line(f"⏳ Waiting {seconds:g} s…")
    await asyncio.sleep(seconds)


async def tempo(ctx: Context, answer: str) -> None:
    """Set the cluster's tempo to the N of ``tempo N``."""
    ctx.printer.outcome(tempo_set(await ctx.ops.cluster.set_tempo(parse_tempo(answer))))


async def ask(ctx: Context, answer: str) -> None:
    """Ask the question of ``answer`` and keep the answer until its step ends."""
    question = parse_ask(answer)
    await check_questions(ctx)  # a new question: the one before it is done
    listing = " · ".join(f"{n} {choice}" for n, choice in enumerate(question.choices, 1))

    async def pick(text: str) -> str | None:
        if not text:
            return None
        choice = question.choice(text)
        if choice is None:
            raise BadInput(f"{text!r} is not one of the choices: {listing}")
        return choice

    ctx.printer.line(f"❓ {question.question}")
    chosen: str | None = None
    if ctx.seat_answer is not None:  # the dashboard's seat, with a key
        chosen = question.choice(ctx.seat_answer)
        ctx.printer.line(f"Your answer ({listing}): {chosen}")
    elif not ctx.terminal.interactive:
        ctx.printer.hint(
            f"Choices: {listing} (a script does not answer: the next line is the step's)"
        )
    else:
        try:
            chosen = await ctx.answer(
                f"Your answer ({listing}): ",
                pick,
                history="ask",
                completions=question.choices,
                optional=True,
            )
        except Cancelled:
            chosen = None
    if chosen is None:
        ctx.printer.warn("No answer: the question is skipped")
    ctx.asked.append(Asked(ctx.step, question, chosen))


async def check_asked(ops: Operations, asked: Asked) -> None:
    """Compute the right answer of a checked question from the cluster as it is now."""
    if asked.ask.check is None:
        return
    try:
        status = await ops.cluster.status()
    except (OpsError, GateError):
        return  # not checked: its lines say so
    asked.right = right_answer(asked.ask, status.leader)
    asked.checked = True


async def check_questions(ctx: Context) -> None:
    """The step of the questions asked has ended: check and word each (gate-repl)."""
    pending, ctx.asked = ctx.asked, []
    for asked in pending:
        await check_asked(ctx.ops, asked)
        for line in asked.lines():
            ctx.printer.line(f"❓ {line}")
