"""The one error type of the operations layer: a user-facing reason, shown as one line."""

from __future__ import annotations


class OpsError(Exception):
    """Bad input or a state that makes an operation impossible (unknown name, bad pattern...).

    The message is written for the person at the console; front ends show it as it is.
    """
