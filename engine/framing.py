"""Node TCP framing, shared by the nodes and the gateway: a 4-byte big-endian length, then JSON.

When a cluster secret is set, a frame is signed: its body is ``{"sig": "<hmac>", "msg": <json>}``
and the HMAC-SHA256 covers the exact bytes of ``<json>``, which the receiver slices out of the
body rather than re-encoding (JSON has no canonical form).  A ``ping`` is answered unsigned so
that health probes and ``nc`` work without the secret; everything else must be signed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import struct
from typing import Any

import orjson

MAX_FRAME = 64 * 1024 * 1024
_LEN = struct.Struct(">I")
_SIG_PREFIX = b'{"sig":"'
_SIG_LEN = 64  # hex digits of SHA-256
_MSG_PREFIX = b'","msg":'
_SIGNED_HEAD = len(_SIG_PREFIX) + _SIG_LEN + len(_MSG_PREFIX)


class FrameError(Exception):
    """A frame that is malformed, too large, or whose signature does not check."""


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest().encode()


def encode_frame(obj: Any, secret: bytes | None = None) -> bytes:
    """Encode one message as a frame, signed when ``secret`` is given."""
    payload = orjson.dumps(obj)
    if secret is not None:
        payload = _SIG_PREFIX + _sign(secret, payload) + _MSG_PREFIX + payload + b"}"
    return _LEN.pack(len(payload)) + payload


def decode_body(body: bytes, secret: bytes | None = None) -> dict[str, Any]:
    """Decode a frame body, checking its signature when ``secret`` is given.

    An unsigned ``ping`` passes even with a secret (see the module docstring).
    """
    if body.startswith(_SIG_PREFIX):
        if (
            len(body) < _SIGNED_HEAD + 2
            or body[_SIGNED_HEAD - len(_MSG_PREFIX) : _SIGNED_HEAD] != _MSG_PREFIX
        ):
            raise FrameError("malformed signed frame")
        sig = body[len(_SIG_PREFIX) : len(_SIG_PREFIX) + _SIG_LEN]
        payload = body[_SIGNED_HEAD:-1]
        if secret is not None and not hmac.compare_digest(sig, _sign(secret, payload)):
            raise FrameError("bad signature: the sender does not share this cluster's secret")
        body = payload
    elif secret is not None:
        msg = _loads(body)
        if msg.get("op") != "ping":
            raise FrameError("unsigned frame: this cluster requires signed messages")
        return msg
    return _loads(body)


def _loads(body: bytes) -> dict[str, Any]:
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"invalid JSON in frame: {exc}") from None
    if not isinstance(msg, dict):
        raise FrameError("a frame must hold a JSON object")
    return msg


async def read_frame(
    reader: asyncio.StreamReader, secret: bytes | None = None, max_size: int = MAX_FRAME
) -> dict[str, Any]:
    """Read one frame. Raises ``asyncio.IncompleteReadError`` at end of stream."""
    head = await reader.readexactly(4)
    (size,) = _LEN.unpack(head)
    if size > max_size:
        raise FrameError(f"frame of {size} bytes exceeds the limit of {max_size}")
    return decode_body(await reader.readexactly(size), secret)
