"""With a config that names no cluster secret, node ports still take no unsigned traffic (#23);
a config open to the network is warned about unless that is said to be on purpose (#18).

The gateway that starts the nodes makes ``<dataDir>/cluster.secret`` at its first start and
the nodes read it, so every node port needs the handshake: unsigned frames of every operation,
sent by someone without the secret straight to a node, are refused and their connection
closed, and change nothing.  Only ``ping`` is answered.  The test speaks raw bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.client import GateClient
from engine.protocol.commands import build_create_store
from tests.cluster_harness import RunningCluster, cluster_config, wait_for, write_config
from tests.raw_wire import frame, read_frame, refused

NODES = ("node1", "node2", "node3")


def unsigned_requests(node_id: str, term: int, last_index: int) -> dict[str, dict[str, Any]]:
    """A frame of every operation a node serves, as an attacker would send it to ``node_id``."""
    other = next(n for n in NODES if n != node_id)
    usurp = {"term": term + 50, "frm": other, "to": node_id}
    return {
        "propose": {
            "op": "propose",
            "id": 1,
            "command": build_create_store({"store_id": "evil"}, now_epoch_us=0),
            "timeout": 2,
        },
        "read": {
            "op": "read",
            "id": 2,
            "query": {"kind": "all", "store": "reg_gh", "from_position": 0, "count": 10},
        },
        "status": {"op": "status", "id": 3},
        "subscriptions": {"op": "subscriptions", "id": 4, "store": "reg_gh"},
        "replay_parked": {"op": "replay_parked", "id": 5, "store": "reg_gh", "name": "sub"},
        "consume": {"op": "consume", "id": 6, "store": "reg_gh", "name": "sub"},
        "transfer": {"op": "transfer", "id": 7, "to": other},
        "isolate": {"op": "isolate", "id": 8},
        "heal": {"op": "heal", "id": 9},
        "raft vote": {
            "op": "raft",
            "msgs": [
                {
                    "type": "vote",
                    **usurp,
                    "last_log_index": last_index + 1000,
                    "last_log_term": term + 50,
                    "pre_vote": False,
                    "transfer": True,
                }
            ],
        },
        "raft append": {
            "op": "raft",
            "msgs": [
                {
                    "type": "append",
                    **usurp,
                    "prev_index": last_index,
                    "prev_term": term,
                    "commit": last_index,
                    "entries": [],
                }
            ],
        },
    }


async def states(cluster: RunningCluster) -> dict[str, tuple[str, int, int]]:
    """Each node's role, term and last log index, from the node itself."""
    out = {}
    for node_id in NODES:
        status = await cluster.node_get(node_id, "/status")
        out[node_id] = (status["role"], status["term"], status["last_index"])
    return out


async def pings(port: int) -> list[dict[str, Any]]:
    """Two unsigned pings on one connection, the second after the first was answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    try:
        async with asyncio.timeout(5):
            for i in (1, 2):
                writer.write(frame({"op": "ping", "id": i}))
                answers.append(orjson.loads((await read_frame(reader))[4:]))
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return answers


async def test_node_ports_refuse_unsigned_frames_with_the_default_config(
    make_cluster: Any,
) -> None:
    assert not os.environ.get("GATE_CLUSTER_SECRET"), "the test needs no secret anywhere"
    cluster: RunningCluster = await make_cluster()
    assert cluster.config.security.cluster_secret is None
    secret = cluster.config.storage.data_dir / "cluster.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    async with cluster.new_client() as client:
        await client.append("reg_gh", "s", [{"event_type": "t", "data": {}}])
        leader = await cluster.leader()
        before = await wait_for(
            lambda: states(cluster),
            lambda s: len({last for _, _, last in s.values()}) == 1,
            10,
            "every node to hold the whole log",
        )
        stores = await client.list_stores()

        for node_id in NODES:
            port = cluster.config.node(node_id).tcp.port
            _, term, last_index = before[node_id]
            for op, msg in unsigned_requests(node_id, term, last_index).items():
                reason = await refused(port, [frame(msg)])
                assert "only ping is served without the handshake" in reason, (node_id, op)
                # Having said hello changes nothing: still no secret, still no session.
                hello = frame({"op": "hello", "nonce": "ab" * 32})
                reason = await refused(port, [hello, frame(msg)])
                assert "only ping is served without the handshake" in reason, (node_id, op)
                forged = {"sig": "0" * 64, "seq": 1, "msg": msg}
                assert "before the handshake" in await refused(port, [frame(forged)])
            # Nor does it buffer a big frame for someone who has not shown the secret.
            huge = struct.pack(">I", 10_000_000) + b"{"
            assert "exceeds the limit" in await refused(port, [huge])
            assert await pings(port) == [
                {"id": 1, "ok": True, "op": "pong"},
                {"id": 2, "ok": True, "op": "pong"},
            ]

        await asyncio.sleep(0.5)  # a vote or a write taken would have shown by now
        assert await states(cluster) == before
        assert await cluster.leader() == leader
        assert await client.list_stores() == stores
        assert await client.stream_version("reg_gh", "s") == 0
        for node_id in NODES:  # and no link was cut
            status = await cluster.node_get(node_id, "/status")
            assert status["cuts"] == {"in": [], "out": []}, (node_id, status)


async def _gateway_warnings(directory: Path, raw: dict[str, Any], *args: str) -> list[str]:
    """Start a gateway alone (``startsNodes: false``) with ``args``; its ``insecure`` list, after
    checking its log says the same at start."""
    path = write_config(directory, raw)
    log = directory / f"gateway{len(args)}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "engine.gateway.main", "--config", str(path), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        async with GateClient(f"http://127.0.0.1:{raw['gateway']['http']['port']}") as client:
            view = await wait_for(client.cluster, lambda v: "insecure" in v, 30, "the gateway")
    finally:
        proc.terminate()
        proc.wait(10)
    insecure: list[str] = view["insecure"]
    warned = [line for line in log.read_text().splitlines() if "insecure: " in line]
    assert len(warned) == len(insecure) and all(
        reason in line for reason, line in zip(insecure, warned, strict=True)
    ), warned
    return insecure


@pytest.mark.slow
async def test_a_gateway_open_to_the_network_warns_unless_told_it_is_on_purpose(
    tmp_path: Path,
) -> None:
    raw = cluster_config(tmp_path, extra={"gateway": {"startsNodes": False}})
    raw["gateway"]["http"]["host"] = "0.0.0.0"
    raw["nodes"]["node2"]["tcp"]["host"] = "0.0.0.0"
    raw["security"] = {"clusterSecret": "s"}
    reasons = await _gateway_warnings(tmp_path, raw)
    assert len(reasons) == 3, reasons
    assert "takes requests without a token" in reasons[0] and "kill nodes" in reasons[0]
    assert "clear text" in reasons[1] and reasons[2].startswith("node2's TCP on 0.0.0.0")
    assert await _gateway_warnings(tmp_path, raw, "--insecure-ok") == []
    raw["security"]["insecureOk"] = True
    assert await _gateway_warnings(tmp_path, raw) == []
