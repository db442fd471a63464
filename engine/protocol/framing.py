"""Node TCP framing, shared by the nodes and the gateway: a 4-byte big-endian length, then JSON.

Every connection starts with a handshake under the cluster secret, in unsigned frames::

    client: {"op": "hello", "nonce": cn}
    server: {"op": "challenge", "nonce": sn, "proof": HMAC(secret, "server-proof" cn sn)}
    client: {"op": "proof", "proof": HMAC(secret, "client-proof" cn sn)}

The nonces are 32 random bytes in hex, fresh on each side for each connection.  Each side checks
the other's proof, so a peer without the secret is found out during the handshake.  Both then
derive a session key ``HMAC(secret, "session" cn sn)`` and from it one key per direction, and
every later frame is signed: its body is ``{"sig":"<hmac>","seq":N,"msg":<json>}``, where the
HMAC-SHA256 under the sender's direction key covers the exact bytes after the signature
(``"seq":N,"msg":<json>}``), which the receiver slices out of the body rather than re-encoding
(JSON has no canonical form).  ``seq`` counts one direction's frames on one connection from 1
and the receiver takes exactly the next number, so a frame captured on another connection fails
its signature, one sent again or out of order on the same connection fails its number, and one
reflected back to its sender fails the other direction's key.

A ``ping`` is answered unsigned at any time, so that health probes and ``nc`` work without the
secret; nothing else is served without the handshake (docs/ENGINE.md, "Node TCP connections").
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import struct
from typing import Any

import orjson

MAX_FRAME = 64 * 1024 * 1024
MAX_UNSIGNED_FRAME = 4096  # before the handshake: no one unknown makes a node buffer 64 MiB
NONCE_BYTES = 32
_LEN = struct.Struct(">I")
_SIG_PREFIX = b'{"sig":"'
_SIG_END = len(_SIG_PREFIX) + 64  # 64 hex digits of SHA-256
_SIGNED_START = _SIG_END + 2  # past '",'
_SEQ_PREFIX = b'"seq":'
_MSG_PREFIX = b',"msg":'
_MAX_SEQ_DIGITS = 20


class FrameError(Exception):
    """A frame that is malformed, too large, out of turn, or whose signature does not check."""


def encode_frame(obj: Any) -> bytes:
    """Encode one unsigned frame: a ping and its pong, the handshake, a refusal."""
    payload = orjson.dumps(obj)
    return _LEN.pack(len(payload)) + payload


def decode_unsigned(body: bytes) -> dict[str, Any]:
    """Decode an unsigned frame body (a JSON object)."""
    try:
        msg = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"invalid JSON in frame: {exc}") from None
    if not isinstance(msg, dict):
        raise FrameError("a frame must hold a JSON object")
    return msg


def _mac(key: bytes, data: bytes | memoryview) -> bytes:
    return hmac.digest(key, data, "sha256")


def _refusal(body: bytes, what: str) -> FrameError:
    """Why an unsigned ``body`` is not ``what``: the other side's own reason when it gave one."""
    msg = decode_unsigned(body)
    error = msg.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return FrameError(f"refused by the other side: {error['message']}")
    return FrameError(f"unsigned frame where {what} was due")


class FrameSession:
    """The signed frames of one connection after the handshake, as seen by one side.

    Pure (no I/O).  A :class:`FrameError` from :meth:`decode` leaves the stream in an unknown
    state: the caller must close the connection.
    """

    __slots__ = ("_received", "_recv_mac", "_send_mac", "_sent")

    def __init__(self, send_key: bytes, recv_key: bytes) -> None:
        # Keyed once: each frame copies these rather than keying HMAC again.
        self._send_mac = hmac.new(send_key, digestmod="sha256")
        self._recv_mac = hmac.new(recv_key, digestmod="sha256")
        self._sent = 0
        self._received = 0

    @classmethod
    def derive(
        cls, secret: bytes, client_nonce: bytes, server_nonce: bytes, *, client: bool
    ) -> FrameSession:
        """The session of one side of the connection whose handshake exchanged these nonces."""
        session_key = _mac(secret, b"session" + client_nonce + server_nonce)
        to_server = _mac(session_key, b"client->server")
        to_client = _mac(session_key, b"server->client")
        return cls(to_server, to_client) if client else cls(to_client, to_server)

    def encode(self, obj: Any) -> bytes:
        """The next frame to send: ``obj`` signed under the next sequence number.

        Every encoded frame must be sent, in order: the receiver takes no gap.
        """
        self._sent += 1
        signed = b'"seq":%d,"msg":%b}' % (self._sent, orjson.dumps(obj))
        mac = self._send_mac.copy()
        mac.update(signed)
        sig = mac.hexdigest().encode()
        return b"".join((_LEN.pack(_SIGNED_START + len(signed)), _SIG_PREFIX, sig, b'",', signed))

    def decode(self, body: bytes) -> dict[str, Any]:
        """The message of the next frame received; FrameError for anything else."""
        if not body.startswith(_SIG_PREFIX):
            raise _refusal(body, "a signed frame")
        if len(body) < _SIGNED_START + len(_SEQ_PREFIX) or body[_SIG_END:_SIGNED_START] != b'",':
            raise FrameError("malformed signed frame")
        mac = self._recv_mac.copy()
        mac.update(memoryview(body)[_SIGNED_START:])
        expected = mac.hexdigest().encode()
        if not hmac.compare_digest(body[len(_SIG_PREFIX) : _SIG_END], expected):
            raise FrameError(
                "bad signature: not signed for this connection (another connection's frame, "
                "or a sender without this cluster's secret)"
            )
        # Signed by the other side of this connection, so well formed unless that side is buggy.
        start = _SIGNED_START + len(_SEQ_PREFIX)
        comma = body.find(_MSG_PREFIX, start, start + _MAX_SEQ_DIGITS + 1)
        digits = body[start:comma]
        if (
            not body.startswith(_SEQ_PREFIX, _SIGNED_START)
            or comma < 0
            or not digits.isdigit()
            or body[-1:] != b"}"
        ):
            raise FrameError("malformed signed frame")
        seq = int(digits)
        if seq != self._received + 1:
            raise FrameError(
                f"frame number {seq} where {self._received + 1} was due: "
                "a frame sent again or out of order"
            )
        self._received = seq
        return decode_unsigned(body[comma + len(_MSG_PREFIX) : -1])


def _nonce(value: Any) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * NONCE_BYTES:
        raise FrameError(f"the handshake needs a nonce of {NONCE_BYTES} bytes in hex")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise FrameError(f"the handshake needs a nonce of {NONCE_BYTES} bytes in hex") from None


def _proof(secret: bytes, label: bytes, client_nonce: bytes, server_nonce: bytes) -> str:
    return _mac(secret, label + client_nonce + server_nonce).hex()


def _proof_checks(given: Any, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


class ClientHandshake:
    """The connecting side of the handshake (pure): send :meth:`hello`, then :meth:`finish`."""

    def __init__(self, secret: bytes, nonce: bytes | None = None) -> None:
        self._secret = secret
        self._nonce = secrets.token_bytes(NONCE_BYTES) if nonce is None else nonce

    def hello(self) -> bytes:
        """The first frame to send."""
        return encode_frame({"op": "hello", "nonce": self._nonce.hex()})

    def finish(self, body: bytes) -> tuple[FrameSession, bytes]:
        """Check the server's challenge: the session, and the proof to send before its frames.

        Raises FrameError when the server did not prove that it holds the secret.
        """
        msg = decode_unsigned(body)
        if msg.get("op") != "challenge":
            raise _refusal(body, "the handshake's challenge")
        server_nonce = _nonce(msg.get("nonce"))
        expected = _proof(self._secret, b"server-proof", self._nonce, server_nonce)
        if not _proof_checks(msg.get("proof"), expected):
            raise FrameError("bad handshake proof: the server does not hold this cluster's secret")
        session = FrameSession.derive(self._secret, self._nonce, server_nonce, client=True)
        proof = _proof(self._secret, b"client-proof", self._nonce, server_nonce)
        return session, encode_frame({"op": "proof", "proof": proof})


def _pong(msg: dict[str, Any]) -> dict[str, Any]:
    return {"id": msg.get("id"), "ok": True, "op": "pong"}


class ServerEnd:
    """The accepting side of one connection (pure): unsigned pings, the handshake, the session."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._nonce = secrets.token_bytes(NONCE_BYTES)
        self._client_nonce: bytes | None = None
        self.session: FrameSession | None = None

    def receive(self, body: bytes) -> tuple[dict[str, Any] | None, bytes | None]:
        """Take one frame body: ``(request to serve, frame to send back at once)``.

        Either may be None: an unsigned ping gets its pong and the hello its challenge at once,
        and serve nothing.  Every request is signed and in turn; a signed ``ping`` is a request
        like the others.  Raises FrameError for anything else: then close the connection.
        """
        if self.session is not None and body.startswith(_SIG_PREFIX):
            return self.session.decode(body), None
        msg = decode_unsigned(body)
        op = msg.get("op")
        if op == "ping":
            return None, encode_frame(_pong(msg))
        if op == "hello" and self._client_nonce is None:
            self._client_nonce = _nonce(msg.get("nonce"))
            proof = _proof(self._secret, b"server-proof", self._client_nonce, self._nonce)
            challenge = {"op": "challenge", "nonce": self._nonce.hex(), "proof": proof}
            return None, encode_frame(challenge)
        if op == "proof" and self._client_nonce is not None and self.session is None:
            expected = _proof(self._secret, b"client-proof", self._client_nonce, self._nonce)
            if not _proof_checks(msg.get("proof"), expected):
                raise FrameError(
                    "bad handshake proof: the client does not hold this cluster's secret"
                )
            self.session = FrameSession.derive(
                self._secret, self._client_nonce, self._nonce, client=False
            )
            return None, None
        if body.startswith(_SIG_PREFIX):
            raise FrameError("signed frame before the handshake")
        raise FrameError(
            f"unsigned {op!r} out of turn: only ping is served without the handshake"
            if isinstance(op, str)
            else "unsigned frame: only ping is served without the handshake"
        )


async def read_body(
    reader: asyncio.StreamReader, max_size: int = MAX_FRAME, body_timeout: float | None = None
) -> bytes:
    """Read one frame's body. Raises ``asyncio.IncompleteReadError`` at end of stream, and
    FrameError when the frame, once begun, is not whole within ``body_timeout`` seconds."""
    head = await reader.readexactly(1)
    try:
        async with asyncio.timeout(body_timeout):
            (size,) = _LEN.unpack(head + await reader.readexactly(3))
            if size > max_size:
                raise FrameError(f"frame of {size} bytes exceeds the limit of {max_size}")
            return await reader.readexactly(size)
    except TimeoutError:
        raise FrameError(f"a frame was not whole within {body_timeout:g} s") from None


async def read_frame(
    reader: asyncio.StreamReader, session: FrameSession | None = None
) -> dict[str, Any]:
    """Read one frame: the next of ``session``, or an unsigned one without a session."""
    body = await read_body(reader)
    return session.decode(body) if session is not None else decode_unsigned(body)


async def open_session(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, secret: bytes
) -> FrameSession:
    """Run the connecting side of the handshake on a fresh stream pair."""
    handshake = ClientHandshake(secret)
    writer.write(handshake.hello())
    session, proof = handshake.finish(await read_body(reader))
    writer.write(proof)
    return session


class ServerConnection:
    """The accepting side of one stream connection: requests in, signed frames out."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        secret: bytes,
        idle_timeout: float | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self._end = ServerEnd(secret)
        self._idle_timeout = idle_timeout
        # Until its handshake is done a connection has this long in all (unsigned pings
        # included): no one without the secret holds a connection open.
        loop = asyncio.get_running_loop()
        self._unproven_until = None if idle_timeout is None else loop.time() + idle_timeout

    async def read(self) -> dict[str, Any]:
        """The next request; unsigned pings and the handshake are answered on the way.

        Raises FrameError (refuse and close) or ``asyncio.IncompleteReadError`` (closed).
        A frame, once begun, must be whole within the idle timeout.
        """
        while True:
            if self._end.session is None:
                body = await self._read_unproven()
            else:
                body = await read_body(self.reader, MAX_FRAME, self._idle_timeout)
            request, reply = self._end.receive(body)
            if reply is not None:
                self.writer.write(reply)
            if request is not None:
                return request

    async def _read_unproven(self) -> bytes:
        try:
            async with asyncio.timeout_at(self._unproven_until):
                return await read_body(self.reader, MAX_UNSIGNED_FRAME)
        except TimeoutError:
            raise FrameError(
                f"no handshake within {self._idle_timeout:g} s of connecting"
            ) from None

    def send(self, obj: Any) -> None:
        """Queue ``obj`` as the next signed frame (dropped once the connection is closing)."""
        session = self._end.session
        assert session is not None, "requests come only after the handshake"
        if not self.writer.is_closing():
            self.writer.write(session.encode(obj))

    def refuse(self, reason: str) -> None:
        """Say why in one unsigned frame, before the caller hangs up."""
        if not self.writer.is_closing():
            error = {"code": "unauthorized", "message": reason}
            self.writer.write(encode_frame({"ok": False, "error": error}))
