"""A test double of a node: ``GET /health`` over HTTP and framed TCP ops, on real sockets.

Connections start with the handshake of ``engine.protocol.framing`` under ``secret``, as on a
real node.
It answers ``ping`` and ``status`` (with a scripted status), plus ops that let tests control
the order and fate of answers: ``echo`` answers at once, ``hold`` keeps its answer until a
``release`` with the same ``key``, and ``garbage`` sends a frame that is not JSON.
``propose`` answers each command as a node does, from the command itself: ``{"fail": code}``
is refused with that code, anything else is taken at the next log index; each frame is kept
in ``proposals``.  ``watch``
(one-way, as on a real node) makes ``announce`` push a leadership message on that connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

from engine.config_model import Endpoint, NodeConfig, SecurityConfig
from engine.protocol.framing import FrameError, ServerConnection

SECRET = b"fake-cluster-secret"
SECURITY = SecurityConfig(cluster_secret=SECRET.decode())  # a config's security to match


class FakeNode:
    """One fake node; ``status`` is what it reports and may be changed between rounds."""

    def __init__(self, node_id: str, *, preferred: bool = False, secret: bytes = SECRET):
        self.node_id = node_id
        self.preferred = preferred
        self.secret = secret
        self.status: dict[str, Any] = {
            "node_id": node_id,
            "role": "follower",
            "term": 1,
            "leader": None,
            "commit_position": 0,
            "applied_position": 0,
            "last_index": 0,
            "serving": False,
        }
        self.health_status = 200
        self.status_fails = False
        self.ops: Counter[str] = Counter()
        self.proposals: list[dict[str, Any]] = []  # the propose frames, as received
        self._index = 0
        self.connections = 0
        self.http_port = 0
        self.tcp_port = 0
        self._held: dict[str, tuple[ServerConnection, dict[str, Any]]] = {}
        self._watchers: set[ServerConnection] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._tcp: asyncio.Server | None = None
        self._runner: web.AppRunner | None = None

    @property
    def config(self) -> NodeConfig:
        """This node's entry in a cluster config."""
        return NodeConfig(
            self.node_id,
            self.preferred,
            Endpoint("127.0.0.1", self.http_port),
            Endpoint("127.0.0.1", self.tcp_port),
        )

    async def start(self) -> None:
        """Listen (on ephemeral ports the first time, on the same ports after a stop)."""
        app = web.Application()
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.http_port)
        await site.start()
        self.http_port = self._runner.addresses[0][1]
        self._tcp = await asyncio.start_server(self._serve, "127.0.0.1", self.tcp_port)
        self.tcp_port = self._tcp.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cut every open connection, like a node that died."""
        if self._tcp is not None:
            self._tcp.close()
            self.drop_connections()
            await self._tcp.wait_closed()
            await asyncio.gather(*self._handlers)
            self._tcp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def drop_connections(self) -> None:
        """Abort every open TCP connection (the server keeps listening)."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._held.clear()

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, status=self.health_status)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        conn = ServerConnection(reader, writer, self.secret)
        try:
            while True:
                self._handle(await conn.read(), conn)
        except (asyncio.IncompleteReadError, ConnectionError, FrameError):
            pass
        finally:
            self._watchers.discard(conn)
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _handle(self, msg: dict[str, Any], conn: ServerConnection) -> None:
        op = msg.get("op", "")
        self.ops[op] += 1
        rid = msg.get("id")
        if op == "ping":
            conn.send({"id": rid, "ok": True, "op": "pong"})
        elif op == "watch":
            self._watchers.add(conn)
        elif op == "status" and self.status_fails:
            error = {"code": "internal", "message": "status is broken"}
            conn.send({"id": rid, "ok": False, "error": error})
        elif op == "status":
            conn.send({"id": rid, "ok": True, "result": dict(self.status)})
        elif op == "tempo":
            self.status["tempo"] = msg.get("tempo")
            conn.send({"id": rid, "ok": True, "result": msg.get("tempo")})
        elif op == "echo":
            conn.send({"id": rid, "ok": True, "result": msg.get("value")})
        elif op == "hold":
            self._held[msg["key"]] = (conn, {"id": rid, "ok": True, "result": msg["key"]})
        elif op == "release":
            conn.send({"id": rid, "ok": True, "result": "released"})
            held_conn, answer = self._held.pop(msg["key"])
            held_conn.send(answer)
        elif op == "propose":
            self.proposals.append(msg)
            if "commands" in msg:
                answers = [self._propose(c) for c in msg["commands"]]
                conn.send({"id": rid, "ok": True, "result": answers})
            else:
                conn.send({"id": rid, **self._propose(msg["command"])})
        elif op == "garbage":
            conn.writer.write(b"\x00\x00\x00\x03abc")
        else:
            error = {"code": "invalid_request", "message": f"unknown op {op!r}"}
            conn.send({"id": rid, "ok": False, "error": error})

    def _propose(self, command: dict[str, Any]) -> dict[str, Any]:
        if "fail" in command:
            return {"ok": False, "error": {"code": command["fail"], "message": "refused"}}
        self._index += 1
        return {"ok": True, "result": {"result": command, "index": self._index}}

    @property
    def watchers(self) -> int:
        """Connections that asked for leadership pushes and are still open."""
        return len(self._watchers)

    def announce(
        self, role: str, term: int, leader: str | None, *, handed_over: bool = False
    ) -> None:
        """Push a leadership message, as engine/node/leadership.py does, to every watcher."""
        push = {"push": "leadership", "node_id": self.node_id, "role": role, "term": term}
        for conn in self._watchers:
            conn.send({**push, "leader": leader, "handed_over": handed_over})


async def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until ``predicate()`` is true; fail the test after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.005)
