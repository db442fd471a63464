"""A node pushes its role, term and leader to the connections that watch it (a real node's TCP
server in process, a raw framed client): the gateway's fast path to a new leader."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine.config import load_config
from engine.node.host import RaftHost
from engine.node.tcp_server import NodeTcpServer
from engine.protocol.framing import open_session, read_frame
from tests.cluster_harness import cluster_config, write_config


async def test_a_watcher_hears_the_current_state_then_each_change_once(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path, 1, extra={"security": {"clusterSecret": "test-secret"}})
    config = load_config(write_config(tmp_path, raw))
    host = RaftHost(config, "node1")
    server = NodeTcpServer(host)
    endpoint = config.node("node1").tcp
    await server.start("127.0.0.1", endpoint.port)
    # Watch before the node's clock runs: the election happens while we listen.
    reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
    try:
        session = await open_session(reader, writer, host.secret)
        writer.write(session.encode({"op": "watch"}))
        first = await asyncio.wait_for(read_frame(reader, session), 5)
        assert first == {
            "push": "leadership",
            "node_id": "node1",
            "role": "follower",
            "term": 0,
            "leader": None,
            "handed_over": False,
        }
        await host.start()
        pushes: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while not pushes or pushes[-1]["role"] != "leader":
                pushes.append(await read_frame(reader, session))
        leader = pushes[-1]
        assert leader == {
            "push": "leadership",
            "node_id": "node1",
            "role": "leader",
            "term": host.core.term,
            "leader": "node1",
            "handed_over": False,  # elected: a single node's timer ran out
        }
        states = [(p["role"], p["term"], p["leader"]) for p in [first, *pushes]]
        assert len(set(states)) == len(states), states  # each change told once
        # A request on the same connection is still answered by id, between pushes.
        writer.write(session.encode({"op": "status", "id": 7}))
        answer = await asyncio.wait_for(read_frame(reader, session), 5)
        assert (answer["id"], answer["result"]["role"]) == (7, "leader")
    finally:
        writer.close()
        await server.stop()
        await host.stop()
