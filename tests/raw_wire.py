"""The node TCP protocol as raw bytes, as an attacker without the secret speaks it.

Independent of the engine's framing code, so that the tests using it also run against an
engine without the handshake (and fail there).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any

import orjson


def frame(msg: dict[str, Any]) -> bytes:
    """An unsigned frame: the length, then the JSON."""
    body = orjson.dumps(msg)
    return struct.pack(">I", len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """One whole frame, its length prefix included."""
    head = await reader.readexactly(4)
    return head + await reader.readexactly(struct.unpack(">I", head)[0])


def message(frame: bytes) -> dict[str, Any]:
    """What a frame carries: the signed message inside its envelope, or the frame itself."""
    body = orjson.loads(frame[4:])
    return body.get("msg", body) if isinstance(body, dict) else {}


async def refused(port: int, frames: list[bytes]) -> str:
    """Send ``frames`` on a new connection; the reason the node gave before it hung up.

    Fails if the node answers anything but one refusal (past the challenge to a hello), or
    keeps the connection open.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"".join(frames))
        answers: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(5):
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                    while True:
                        answers.append(orjson.loads((await read_frame(reader))[4:]))
        except TimeoutError:
            raise AssertionError(
                f"the node kept the connection open; it answered {answers}"
            ) from None
        answers = [a for a in answers if a.get("op") != "challenge"]
        assert len(answers) == 1 and answers[0].get("ok") is False, answers
        assert answers[0]["error"]["code"] == "unauthorized", answers
        return str(answers[0]["error"]["message"])
    finally:
        writer.close()
