"""WebSocket clients an attacker (or a stuck program) would be: one that upgrades, then never
reads.  The benchmarks and the tests of the listeners' limits share it."""

from __future__ import annotations

import asyncio
import base64
import os
import socket


async def never_reading_websocket(
    port: int, path: str, token: str | None, *, local: str = "127.0.0.1"
) -> socket.socket:
    """Upgrade ``path`` on 127.0.0.1:``port`` from the address ``local``, then read nothing more
    (a 4 KB receive buffer).

    The answer's head is read a byte at a time, so nothing past it is taken off the socket.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind((local, 0))
    await asyncio.to_thread(sock.connect, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{auth}\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        byte = await asyncio.to_thread(sock.recv, 1)
        if not byte:
            raise ConnectionError(f"the server closed the upgrade of {path}: {head!r}")
        head += byte
    if not head.startswith(b"HTTP/1.1 101"):
        sock.close()
        raise ConnectionError(f"the upgrade of {path} was refused: {head.splitlines()[0]!r}")
    return sock
