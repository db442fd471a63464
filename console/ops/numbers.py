"""Every number a person types into a console, read in one place, with a range.

``int()`` alone takes '٣' and '1_000', and a number past 64 bits would only fail when the client
encodes the request; so a number here is ASCII digits with an optional sign, checked against its
field's range, and anything else is an ``OpsError`` naming the field and the range.
"""

from __future__ import annotations

import re

from console.ops.errors import OpsError

# The engine stores signed 64-bit integers: the widest any typed number can be.
MAX_WHOLE = 2**63 - 1
_WHOLE = re.compile(r"([+-]?)0*([0-9]+)")
_SHOWN = 24  # characters of a bad answer quoted back


def parse_whole(
    text: str,
    field: str,
    *,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = MAX_WHOLE,
) -> int:
    """``text`` as a whole number from ``minimum`` to ``maximum``; ``default`` when empty
    (and an error naming ``field`` when there is no default)."""
    answer = text.strip()
    bounds = f"{field} must be a whole number from {minimum} to {maximum}"
    if not answer:
        if default is None:
            raise OpsError(f"{bounds}: nothing was typed")
        return default
    match = _WHOLE.fullmatch(answer)
    if match is None:
        shown = answer if len(answer) <= _SHOWN else answer[:_SHOWN] + "…"
        raise OpsError(f"{bounds}, not {shown!r}")
    sign, digits = match.groups()
    # Past 19 digits it is out of any range here; int() of thousands of digits would refuse.
    if len(digits) > len(str(MAX_WHOLE)):
        if sign == "-":
            raise OpsError(f"{field} must be at least {minimum}")
        raise OpsError(bounds)
    value = -int(digits) if sign == "-" else int(digits)
    if value < minimum:
        raise OpsError(f"{field} must be at least {minimum}")
    if value > maximum:
        raise OpsError(bounds)
    return value


def is_choice_number(answer: str, count: int) -> bool:
    """Whether ``answer`` is an ASCII number from 1 to ``count`` (a pick from a listed menu)."""
    short = len(answer) <= len(str(count))  # int() of thousands of digits would refuse
    return answer.isascii() and answer.isdigit() and short and 1 <= int(answer) <= count
