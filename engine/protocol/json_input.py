"""JSON from outside (request bodies, JSON in query parameters), read exactly.

orjson reads an integer past 64 bits as a float and an integer in [2^63, 2^64) as an int that
SQLite cannot store; both would silently change what the user wrote.  So an integer outside the
signed 64-bit range anywhere in the document is refused, with a 400 naming where it is, and so
is nesting deeper than :data:`MAX_DEPTH` (the wire encoder stops at 255 levels).
"""

from __future__ import annotations

import json
from itertools import accumulate
from typing import Any

import orjson

from engine.protocol.commands import MAX_INT
from engine.protocol.errors import invalid

MIN_INT = -MAX_INT - 1
MAX_DEPTH = 64
# Only a run of 19 digits can be an integer past 64 bits, and only more brackets than
# MAX_DEPTH can nest that deep: most documents skip both walks.
_DIGITS_ONLY = bytes(48 if chr(b).isdigit() and b < 128 else 32 for b in range(256))
_LONG_RUN = b"0" * 19
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_DELTA = [1 if b in b"[{" else -1 for b in range(256)]


def loads_exact(raw: bytes, what: str = "the body", root: str = "") -> Any:
    """Parse ``raw``; 400 ``invalid_request`` for invalid JSON, an integer outside the signed
    64-bit range or nesting past :data:`MAX_DEPTH`.  ``root`` prefixes the field names."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "infinity" in str(exc):  # a number of hundreds of digits
            raise invalid(f"{what} holds a number too large to be read exactly") from None
        raise invalid(f"{what} is not valid JSON: {exc}") from None
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and _depth(raw) > MAX_DEPTH:
        _check_depth(value, 1, root)  # only to name where
    if _LONG_RUN in raw.translate(_DIGITS_ONLY):
        # orjson took every number, so none has more than ~309 digits: within what json reads.
        check_integers(json.loads(raw), root)
    return value


def _depth(raw: bytes) -> int:
    """How deep ``raw`` (valid JSON) nests, counted over its brackets outside strings, in C
    loops (``replace``, ``translate``, ``split``, ``accumulate``) rather than a walk of the
    parsed value: escaped backslashes, then escaped quotes, go first, so every quote left
    opens or closes a string."""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(raw.translate(None, _NOT_STRUCTURE).split(b'"')[::2])
    return max(accumulate(map(_DELTA.__getitem__, outside)), default=0)


def _check_depth(value: Any, depth: int, path: str) -> None:
    if depth > MAX_DEPTH:
        field = path if len(path) <= 60 else path[:60] + "…"
        raise invalid(f"{field} is nested deeper than {MAX_DEPTH} levels", field=field)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                _check_depth(item, depth + 1, _field(path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict | list):
                _check_depth(item, depth + 1, f"{path}[{i}]")


def dumps_exact(value: Any, root: str = "") -> bytes:
    """``value`` as JSON to send; ``invalid_request`` naming the field for an integer outside
    the signed 64-bit range, which orjson would refuse with a TypeError (past 64 bits) or write
    as unsigned (below 2^64) for the gateway to refuse."""
    try:
        raw = orjson.dumps(value)
    except orjson.JSONEncodeError:
        check_integers(value, root)
        raise
    if _LONG_RUN in raw.translate(_DIGITS_ONLY):
        check_integers(value, root)
    return raw


def check_integers(value: Any, path: str) -> None:
    """``invalid_request`` naming the field of the first integer outside the signed 64-bit
    range in ``value`` (``path`` names ``value`` itself)."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_integers(item, _field(path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_integers(item, f"{path}[{i}]")
    elif isinstance(value, int) and not MIN_INT <= value <= MAX_INT:
        field = path or "body"
        raise invalid(
            f"{field} is {value}: integers must be from {MIN_INT} to {MAX_INT} (signed 64-bit)",
            field=field,
        )


def _field(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
