"""One request must never take the cluster down (issue #23).

Every integer field at 2^63, 2^64-1 and 2^70, through the gateway and straight to the leader's
TCP port (past the gateway's checks): a 4xx, never a node's death, and afterwards every node is
alive, serves writes, and holds the same events and subscriptions.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from engine.cluster_secret import resolve_cluster_secret
from engine.gateway.tcp_pool import NodePool
from tests.cluster_harness import RunningCluster, wait_for

pytestmark = pytest.mark.slow

BIG = ["9223372036854775808", "18446744073709551615", "1180591620717411303424"]
STORE = "/api/stores/reg_gh"
EVENTS = f"{STORE}/streams/poison/events"


async def send(cluster: RunningCluster, method: str, path: str, raw: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"} if raw is not None else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, cluster.url + path, data=raw, headers=headers) as resp,
    ):
        return resp.status, orjson.loads(await resp.read() or b"null")


def gateway_requests(big: str) -> list[tuple[str, str, str | None]]:
    """Requests that each carry ``big`` (where the templates say N) in one integer field."""
    sub = f"{STORE}/subscriptions/poison"
    one = '{"events": [{"event_type": "t", "data": DATA, "metadata": META}]}'
    templates: list[tuple[str, str, str | None]] = [
        ("PUT", sub, '{"type":"by_stream","selector":"$all","start_from":N}'),
        ("PUT", sub, '{"type":"by_stream","selector":"$poison","start_from":N}'),
        ("PUT", sub, '{"selector":{"by_event_payload":{"x":N}}}'),
        ("PUT", sub, '{"type":"by_stream","selector":"$all","ack_timeout_ms":N}'),
        ("PUT", sub, '{"type":"by_stream","selector":"$all","max_in_flight":N}'),
        ("POST", EVENTS, '{"expected_version": N, "events": [{"event_type": "t", "data": {}}]}'),
        ("POST", EVENTS, one.replace("DATA", '{"x": N}').replace("META", "{}")),
        ("POST", EVENTS, one.replace("DATA", "{}").replace("META", '{"n": [N]}')),
        ("POST", EVENTS, one.replace("DATA", '{"x": -N1}').replace("META", "{}")),
        ("PUT", f"{STORE}/snapshots/src/str/N", '{"data": {}}'),
        ("PUT", f"{STORE}/snapshots/src/str/1", '{"data": {"v": N}}'),
        ("DELETE", f"{STORE}/snapshots/src/str/N", None),
        ("POST", "/api/stores", '{"store_id": "poison", "config": {"n": N}}'),
        ("GET", f"{EVENTS}?from=N", None),
        ("GET", f"{EVENTS}?count=N", None),
        ("GET", f"{STORE}/all?from_position=N", None),
        ("GET", f"{STORE}/all?min_index=N", None),
        ("GET", f"{STORE}/all?min_position=N", None),
        ("GET", f"{STORE}/snapshots/src/str/N", None),
        ("GET", f"{STORE}/observe?type=by_event_payload&selector=%7B%22x%22%3AN%7D", None),
    ]
    return [
        (method, path.replace("N", big), None if raw is None else raw.replace("N", big))
        for method, path, raw in templates
    ]


async def assert_healthy_and_identical(cluster: RunningCluster) -> None:
    """Every node alive and serving, with the same events and subscriptions."""
    async with cluster.new_client() as client:
        await client.append("reg_gh", "after-poison", [{"event_type": "t", "data": {}}])
    nodes = cluster.config.node_ids

    async def contents() -> list[Any]:
        return [
            (
                await cluster.node_all(node),
                await cluster.node_get(node, f"{STORE}/streams"),
            )
            for node in nodes
        ]

    await wait_for(contents, lambda c: all(x == c[0] for x in c), 15, "identical nodes")
    view = (await send(cluster, "GET", "/api/cluster"))[1]
    assert view["leader"] is not None
    assert all(n["role"] != "down" for n in view["nodes"]), view


async def test_integers_past_64_bits_through_the_gateway(cluster: RunningCluster) -> None:
    for big in BIG:
        for method, path, raw in gateway_requests(big):
            status, body = await send(cluster, method, path, raw)
            assert status in (400, 404), (method, path, raw, status, body)
            assert body["error"]["code"] in ("invalid_request", "not_found"), body
    # The largest that fits is taken exactly, not clamped or turned into a float.
    most = 2**63 - 1
    status, body = await send(
        cluster, "POST", EVENTS, f'{{"events": [{{"event_type": "t", "data": {{"x": {most}}}}}]}}'
    )
    assert status == 200, body
    status, page = await send(cluster, "GET", f"{EVENTS}?direction=backward&count=1")
    assert page["events"][0]["data"] == {"x": most}
    await assert_healthy_and_identical(cluster)


def hostile_commands() -> list[Any]:
    """Commands a gateway would never send: each must be refused before it is proposed."""
    good_def = {
        "type": "by_stream",
        "selector": "$all",
        "start_from": "origin",
        "ack_timeout_ms": 30000,
        "max_retries": 10,
        "max_in_flight": 100,
    }
    event = {"event_id": "e1", "event_type": "t", "data": {}, "metadata": {}, "created_epoch": 1}
    append = {"op": "append", "store": "reg_gh", "stream": "p", "expected_version": "any"}
    commands: list[Any] = [
        None,
        [],
        {"op": "frobnicate", "store": "reg_gh"},
        {"op": "append", "store": "reg_gh"},
        {**append, "events": [{**event, "created_epoch": 2**63}]},
        {**append, "events": [{**event, "created_epoch": 2**64 - 1}]},
        {**append, "events": [{**event, "created_epoch": "now"}]},
        {**append, "expected_version": 2**64 - 1, "events": [event]},
        {**append, "events": [{**event, "data": [1]}]},
        {**append, "events": [event, event]},
        {**append, "stream": "$all", "events": [event]},
        {**append, "store": "../../etc", "events": [event]},
        {**append, "events": [{**event, "surprise": 1}]},
        {"op": "create_store", "store": "x", "config": [], "created_epoch": 1},
        {"op": "create_store", "store": "../x", "config": {}, "created_epoch": 1},
        {"op": "create_store", "store": "x", "config": {}, "created_epoch": 2**63},
        {"op": "delete_store", "store": 7},
        {
            "op": "snapshot_put",
            "store": "reg_gh",
            "source_uuid": "s",
            "stream_uuid": "t",
            "version": 2**64 - 1,
            "data": {},
            "metadata": {},
            "source_type": None,
            "created_epoch": 1,
        },
        {"op": "snapshot_delete", "store": "reg_gh", "source_uuid": "s", "stream_uuid": "t"},
        {
            "op": "subscription_put",
            "store": "reg_gh",
            "name": "poison",
            "definition": {**good_def, "start_from": 2**64 - 1},
            "created_epoch": 1,
        },
        {
            "op": "subscription_put",
            "store": "reg_gh",
            "name": "poison",
            "definition": {**good_def, "selector": {"by_event_payload": {"$bad": 1}}},
            "created_epoch": 1,
        },
        {
            "op": "subscription_put",
            "store": "reg_gh",
            "name": "poison",
            "definition": {"type": "by_stream", "selector": "$all"},  # not normalized
            "created_epoch": 1,
        },
        {"op": "subscription_delete", "store": "reg_gh", "name": "no spaces allowed"},
        {
            "op": "subscription_progress",
            "store": "reg_gh",
            "name": "poison",
            "incarnation": 1,
            "checkpoint": 2**64 - 1,
        },
        {
            "op": "subscription_progress",
            "store": "reg_gh",
            "name": "poison",
            "incarnation": 1,
            "checkpoint": 1,
            "park": [{"position": 2**63, "event_id": "e", "attempts": 1, "reason": "r"}],
        },
        {
            "op": "subscription_progress",
            "store": "reg_gh",
            "name": "poison",
            "incarnation": 1,
            "checkpoint": 1,
            "counters": {"acked": 2**64 - 1},
        },
    ]
    return commands


async def test_hostile_commands_straight_to_the_leader(cluster: RunningCluster) -> None:
    leader = await cluster.leader()
    # As a peer holding the cluster secret would: past the gateway, not past the node's check.
    pool = NodePool(resolve_cluster_secret(cluster.config, create=False))
    try:
        conn = pool.get(leader)
        for command in hostile_commands():
            answer = await conn.request({"op": "propose", "command": command}, 5.0)
            assert answer["ok"] is False, (command, answer)
            assert answer["error"]["code"] == "invalid_request", (command, answer)
        # A hostile timeout falls back to the default instead of failing the request.
        good = {
            "op": "append",
            "store": "reg_gh",
            "stream": "direct",
            "expected_version": "any",
            "events": [
                {
                    "event_id": "d1",
                    "event_type": "t",
                    "data": {},
                    "metadata": {},
                    "created_epoch": 1,
                }
            ],
        }
        answer = await conn.request({"op": "propose", "command": good, "timeout": "soon"}, 6.0)
        assert answer["ok"] is True, answer
    finally:
        pool.close()
    await assert_healthy_and_identical(cluster)
