"""A node's TCP endpoint: Raft traffic from peers and requests from gateways (docs/ENGINE.md).

Requests are answered by id and may complete out of order, so one connection from a gateway
carries many concurrent appends; Raft messages are one-way and stepped into the core at once.
Every connection starts with the handshake of ``engine.protocol.framing``; only ``ping`` is served
without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

from engine.node.host import RaftHost
from engine.node.node_log import log_page
from engine.node.trace import trace_page
from engine.protocol.errors import GateError, invalid
from engine.protocol.framing import FrameError, ServerConnection
from engine.protocol.link_cuts import parse_cut_request
from engine.protocol.link_faults import parse_link_fault
from engine.protocol.members import parse_new_node
from engine.protocol.tempo import parse_tempo
from engine.replication.messages import Address
from engine.replication.wire import decode_message
from engine.storage.check import check_command

log = logging.getLogger("gate.node.tcp")
MAX_WAIT_MS = 5000  # the longest long poll a read may ask for (``wait_ms``)
DEFAULT_PROPOSE_TIMEOUT = 5.0  # seconds, for a propose that names no usable timeout
MAX_PROPOSE_TIMEOUT = 30.0
MAX_PROPOSE_BATCH = 1024  # commands in one coalesced ``propose``


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class NodeTcpServer:
    """Serves the framing protocol for one node: each connection after its handshake."""

    def __init__(self, host: RaftHost, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.tls = tls  # security.tls: only TLS connections get as far as the handshake
        self.secret = host.secret
        self.idle_timeout = host.config.gateway.idle_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    async def start(self, bind_host: str, port: int) -> None:
        self._server = await asyncio.start_server(
            self._serve,
            bind_host,
            port,
            reuse_address=True,
            ssl=self.tls,
            ssl_handshake_timeout=self.idle_timeout if self.tls else None,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        conn = ServerConnection(reader, writer, self.secret, self.idle_timeout)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    msg = await conn.read()
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except FrameError as exc:
                    # No secret, a replayed or forged frame, or garbage: say why once, hang up.
                    log.warning(
                        "refused a frame from %s: %s", writer.get_extra_info("peername"), exc
                    )
                    conn.refuse(str(exc))
                    return
                op = msg.get("op")
                if op == "raft":
                    self._raft(msg)
                elif op == "ping":
                    conn.send({"id": msg.get("id"), "ok": True, "op": "pong"})
                elif op == "watch":
                    # One-way, like raft: leadership pushes follow on this connection.
                    self.host.leadership.watch(conn)
                elif op == "consume":
                    # A consumer of a persistent subscription takes the whole connection.
                    await self.host.subscriptions.serve_consumer(msg, conn)
                    return
                else:
                    task = asyncio.create_task(self._request(msg, conn))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            self.host.leadership.unwatch(conn)
            self._connections.discard(writer)
            for task in tasks:
                task.cancel()
            writer.close()

    def _raft(self, msg: dict[str, Any]) -> None:
        messages = []
        cut = self.host.peers.cuts.inbound  # a partition: their messages never arrive
        for raw in msg.get("msgs") or ():
            try:
                message = decode_message(raw)
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("dropped a malformed raft message: %s", exc)
                continue
            if message.frm not in cut:
                messages.append(message)
        if messages:
            self.host.receive(messages)

    async def _request(self, msg: dict[str, Any], conn: ServerConnection) -> None:
        answer: dict[str, Any] = {"id": msg.get("id")}
        try:
            answer["result"] = await self._dispatch(msg)
            answer["ok"] = True
        except GateError as err:
            answer["ok"] = False
            answer["error"] = err.to_dict()
        except Exception:
            log.exception("failed to serve %s", msg.get("op"))
            answer["ok"] = False
            answer["error"] = {"code": "internal", "message": "internal error on the node"}
        conn.send(answer)

    def _checked(self, command: Any) -> dict[str, Any]:
        # Checked here too, not only by the gateway: nothing malformed enters the log,
        # whoever holds the cluster secret.
        return check_command(command, max_events=self.host.config.limits.max_events_per_append)

    async def _propose_many(self, commands: Any, timeout: float) -> list[dict[str, Any]]:
        """A gateway's coalesced proposals (engine/gateway/proposals.py), one round: an answer
        for each command, ``{"ok", "result"}`` or ``{"ok", "error"}``, in order."""
        if not isinstance(commands, list) or not 0 < len(commands) <= MAX_PROPOSE_BATCH:
            raise GateError(
                "invalid_request", f"commands must be a list of 1 to {MAX_PROPOSE_BATCH} commands"
            )
        refused: list[GateError | None] = []  # per command: refused here, or proposed
        checked: list[dict[str, Any]] = []
        for command in commands:
            try:
                checked.append(self._checked(command))
                refused.append(None)
            except GateError as err:
                refused.append(err)  # refused alone: its neighbours are proposed
        results = iter(await self.host.propose_many(checked, timeout) if checked else ())
        out: list[dict[str, Any]] = []
        for refusal in refused:
            answer = refusal or next(results)
            if isinstance(answer, GateError):
                out.append({"ok": False, "error": answer.to_dict()})
            else:
                out.append({"ok": True, "result": answer})
        return out

    async def _dispatch(self, msg: dict[str, Any]) -> Any:
        op = msg.get("op")
        if op == "status":
            return self.host.status()
        if op == "inside":
            return self.host.inside()
        if op == "propose":
            timeout = msg.get("timeout")
            if not isinstance(timeout, int | float) or not 0 < timeout <= MAX_PROPOSE_TIMEOUT:
                timeout = DEFAULT_PROPOSE_TIMEOUT
            if "commands" in msg:
                return await self._propose_many(msg["commands"], timeout)
            return await self.host.propose(self._checked(msg.get("command")), timeout)
        if op == "read":
            query = msg.get("query")
            if not isinstance(query, dict):
                raise GateError("invalid_request", "read needs a query object")
            return await self.host.read(
                query,
                min_position=_opt_int(msg.get("min_position")),
                min_index=_opt_int(msg.get("min_index")),
                floor_index=_opt_int(msg.get("floor_index")),
                wait_ms=min(_opt_int(msg.get("wait_ms")) or 0, MAX_WAIT_MS),
            )
        if op == "transfer":
            to = msg.get("to")
            if not isinstance(to, str):
                raise GateError("invalid_request", "transfer needs the node id 'to'")
            return self.host.transfer(to)
        if op in ("isolate", "heal"):
            # Checked here too, not only by the gateway, like a proposal.
            fields = {k: msg[k] for k in ("peers", "direction") if msg.get(k) is not None}
            peers, direction = parse_cut_request(
                fields, self.host.node_id, self.host.core.membership.members
            )
            return self.host.cut_links(peers, direction, heal=op == "heal")
        if op == "tempo":
            return self.host.set_tempo(parse_tempo(msg.get("tempo")))
        if op == "links":
            # Checked here too, like a cut: {"set": fault} or {"clear": peer or None}, else a look.
            members = self.host.core.membership.members
            if "set" in msg:
                raw = msg["set"]
                body = {**raw, "from": self.host.node_id} if isinstance(raw, dict) else raw
                return self.host.set_link_fault(parse_link_fault(body, members)[1])
            if "clear" in msg:
                peer = msg["clear"]
                if peer is not None and peer not in members:
                    raise GateError("invalid_request", f"no node {str(peer)[:80]!r} to clear")
                return self.host.clear_link_faults(peer)
            return self.host.link_faults()
        if op == "drop":
            trace_id = msg.get("trace_id")
            if isinstance(trace_id, bool) or not isinstance(trace_id, int) or trace_id < 1:
                raise invalid("trace_id must be a message's number in this node's trace")
            return self.host.drop_message(trace_id)
        if op == "add_member":
            node_id, http, tcp = parse_new_node(msg.get("node"))
            address = Address(node_id, http, tcp)
            return await self.host.change_membership(
                "add", node_id, address, DEFAULT_PROPOSE_TIMEOUT
            )
        if op == "remove_member":
            member = msg.get("node_id")
            if not isinstance(member, str):
                raise GateError("invalid_request", "remove_member needs the node id 'node_id'")
            return await self.host.change_membership(
                "remove", member, None, DEFAULT_PROPOSE_TIMEOUT
            )
        if op == "log":
            return log_page(self.host.node_log, _opt_int(msg.get("after")), msg.get("limit"))
        if op == "trace":
            return trace_page(self.host.trace, msg.get("after"), msg.get("limit"), msg.get("dir"))
        if op == "snapshot_offer":
            if self.host.disk_full is not None:
                # The sender reports the transfer failed; the leader sends it again later.
                raise GateError(
                    "unavailable",
                    f"{self.host.disk_full.describe()}; it takes no snapshot until space is back",
                )
            return self.host.snapshot_receiver.offer(msg)
        if op == "snapshot_chunk":
            self.host.snapshot_receiver.chunk(msg)
            return {}
        if op == "snapshot_install":
            await self.host.snapshot_receiver.install(msg)
            return {}
        if op == "subscriptions":
            return await self.host.subscriptions.list(msg.get("store"))
        if op == "replay_parked":
            return await self.host.subscriptions.replay_parked(msg.get("store"), msg.get("name"))
        raise GateError("invalid_request", f"unknown op {op!r}")
