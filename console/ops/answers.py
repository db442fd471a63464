"""Typed answers that are not numbers: a pick from a list, a known name, yes or no.

Each reader answers the value or raises ``OpsError`` saying why, so a front end can check an
answer the moment it is given and ask again (numbers are read in ``console.ops.numbers``).
"""

from __future__ import annotations

from collections.abc import Sequence

from console.ops.errors import OpsError
from console.ops.numbers import is_choice_number

_LISTED = 8  # names quoted back in an error; more would push the question off the screen


def listed(names: Sequence[str]) -> str:
    """``a, b, c`` (at most a few, then ``…``), or ``none`` for no names."""
    if not names:
        return "none"
    shown = ", ".join(names[:_LISTED])
    return shown + (f" … ({len(names)} in all)" if len(names) > _LISTED else "")


def pick(answer: str, choices: Sequence[str]) -> str:
    """A choice by name, or by its 1-based number in ``choices`` (the list shown)."""
    answer = answer.strip()
    if answer in choices:
        return answer
    if is_choice_number(answer, len(choices)):
        return choices[int(answer) - 1]
    if not answer:
        raise OpsError("nothing was chosen")
    raise OpsError(f"{answer!r} is not one of the {len(choices)} listed; type a name or a number")


def known_name(answer: str, names: Sequence[str], what: str) -> str:
    """One of ``names``: ``no subscription named 'x' (subscriptions: a, b)`` when it is not."""
    answer = answer.strip()
    if answer in names:
        return answer
    raise OpsError(f"no {what} named {answer!r} ({what}s: {listed(names)})")


def yes_or_no(answer: str) -> bool:
    """``y``/``yes`` or ``n``/``no`` (any case); empty is no."""
    word = answer.strip().lower()
    if word in ("y", "yes"):
        return True
    if word in ("", "n", "no"):
        return False
    raise OpsError(f"type y or n, not {word[:24]!r}")
