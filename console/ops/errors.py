"""The one error type of the operations layer, and the one wording of any failure for people."""

from __future__ import annotations

from engine.client import GateError


class OpsError(Exception):
    """Bad input or a state that makes an operation impossible (unknown name, bad pattern...).

    The message is written for the person at the console; front ends show it as it is.
    """


def failure_text(exc: Exception) -> str:
    """A failed operation's reason as one line for a person, the same in both consoles."""
    if not isinstance(exc, GateError):
        return str(exc)  # an OpsError is worded for people already
    if exc.code in ("unavailable", "timeout"):
        return f"The engine is not answering: {exc.message}"
    if exc.code == "unauthorized":
        return "The gateway refused the token (start the console with --token)"
    return f"{exc.message} ({exc.code})"
