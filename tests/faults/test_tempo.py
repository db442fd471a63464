"""Slow motion on the real cluster (``POST /api/cluster/tempo``), with real processes.

At tempo 20 every election timeout is 20 times the config's (6 to 12 s instead of 0.3 to
0.6 s), so the time to elect a new leader after the leader is killed cannot fall below the
shortest timeout less the one heartbeat interval (1 s) a follower may already have waited:
measured at x1 and at x20, then at x1 again.  A node that restarts during slow motion is brought
to it.  Then the new routes are fed bad input: every answer is a 400 with the error body.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from bench.lib.nemesis import NodeProbe, serving_leader
from engine.client import GateClient
from engine.protocol.tempo import MAX_MESSAGE_DELAY, message_delay
from tests.cluster_harness import RunningCluster, wait_for

MakeCluster = Callable[..., Awaitable[RunningCluster]]
TICK = 0.05  # replication.tickMs of the test config (the default)
ELECTION_TICKS = 6  # replication.electionTicks (the default): a timeout of 6 to 11 ticks
HEARTBEAT_TICKS = 1


def _floor(scale: int) -> float:
    """The least time from a leader's death to a new leader at ``scale``: the shortest
    election timeout, less the heartbeat interval a follower may have waited already."""
    return (ELECTION_TICKS - HEARTBEAT_TICKS) * scale * TICK


async def _time_to_elect(cluster: RunningCluster, client: GateClient, probe: NodeProbe) -> float:
    """Kill the leader; seconds until another serves.  The old one is started again and
    follows before this returns."""
    old = await cluster.leader()
    killed = time.monotonic()
    await client.node_action(old, "kill")
    await wait_for(
        lambda: probe.statuses(exclude=old),
        lambda s: serving_leader(s) not in (None, old),
        60,
        f"a leader other than the killed {old}",
    )
    took = time.monotonic() - killed
    await client.node_action(old, "start")
    scale = (await client.tempo())["scale"]
    await wait_for(
        lambda: probe.status(old),
        lambda s: s is not None and s["role"] == "follower" and s["tempo"]["scale"] == scale,
        60,
        f"the restarted {old} to follow at tempo {scale}",
    )
    return took


async def test_tempo_20_stretches_elections_and_1_restores_them(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster()
    probe = NodeProbe(cluster)
    client = cluster.new_client(retry_deadline=5)
    try:
        assert await client.tempo() == {"scale": 1, "since": 0.0}
        full = await _time_to_elect(cluster, client, probe)
        term = max(int(s["term"]) for s in (await probe.statuses()).values() if s)
        answer = await client.set_tempo(20)
        assert answer["scale"] == 20 and sorted(answer["nodes"]) == cluster.node_ids, answer
        statuses = await probe.statuses()
        assert all(
            s and s["tempo"] == {"scale": 20, "since": answer["since"]} for s in statuses.values()
        )
        # No election for the change itself (followers first when slowing down).
        assert max(int(s["term"]) for s in statuses.values() if s) == term, statuses
        view = await client.cluster()
        assert view.get("tempo") == {"scale": 20, "since": answer["since"]}, view
        slow = await _time_to_elect(cluster, client, probe)
        term = max(int(s["term"]) for s in (await probe.statuses()).values() if s)
        restored = await client.set_tempo(1)
        assert restored["scale"] == 1
        # No election for the change back either: the heartbeats still on their 0.95 s way go
        # at once (the leader first when speeding up), within the followers' new 0.3 s timeouts.
        settled = time.monotonic() + 3  # ten full-speed election timeouts
        while time.monotonic() < settled:
            statuses = await probe.statuses()
            assert max(int(s["term"]) for s in statuses.values() if s) == term, statuses
        again = await _time_to_elect(cluster, client, probe)
        print(
            f"\ntime to elect after a leader kill: x1 {full:.2f} s, x20 {slow:.2f} s, "
            f"x1 again {again:.2f} s"
        )
        assert slow >= _floor(20), slow
        assert full < _floor(20) / 2 and again < _floor(20) / 2, (full, again)
        log = await client.node_log(await cluster.leader())
        assert any(
            line["text"].startswith("tempo ×1/20: election timeout 120-239 ticks")
            for line in log["lines"]
        ), log["lines"]
        statuses = await probe.statuses()
        assert all(s and s["tempo"]["scale"] == 1 for s in statuses.values()), statuses
    finally:
        await probe.close()
        await client.close()


async def test_at_the_slowest_tempo_a_write_is_slow_but_acknowledged(
    make_cluster: MakeCluster,
) -> None:
    """At x100 a message flies 2.5 s (the cap), so a write's round trip to a follower (5 s) is
    longer than a 3 s request timeout: the gateway's deadline and the leader's commit timeout
    grow by it, and the write is acknowledged, slowly, then read back."""
    cluster = await make_cluster(extra={"gateway": {"requestTimeout": 3.0}})
    client = cluster.new_client()
    try:
        flight = message_delay(100, TICK)
        assert flight == MAX_MESSAGE_DELAY and 2 * flight > cluster.config.gateway.request_timeout
        await client.set_tempo(100)
        started = time.monotonic()
        await client.append("reg_gh", "slow-w1", [{"event_type": "t", "data": {"n": 1}}])
        took = time.monotonic() - started
        got = await client.read_stream("reg_gh", "slow-w1")
        assert [e["data"] for e in got["events"]] == [{"n": 1}], got
        print(f"\na write at x100 took {took:.2f} s")
        assert took >= 2 * flight, took
    finally:
        await client.set_tempo(1)
        await client.close()


async def _send(
    http: aiohttp.ClientSession, method: str, url: str, body: Any, raw: bytes | None = None
) -> tuple[int, Any]:
    data = raw if raw is not None else orjson.dumps(body)
    headers = {"Content-Type": "application/json"}
    async with http.request(method, url, data=data, headers=headers) as resp:
        return resp.status, orjson.loads(await resp.read())


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 2 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice((True, False))
    if kind == 2:
        return rng.randint(-(2**40), 2**40)
    if kind == 3:
        return rng.choice((0, 1, 2, 20, 100, 101, -1, 60_000, 60_001))
    if kind == 4:
        return rng.uniform(-2, 2)
    if kind == 5:
        return rng.choice(("node1", "node2", "node9", "", "x" * 200, "20"))
    if kind == 6:
        return rng.choice((0.0, 0.3, 1.0, 1.5))
    if kind == 7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {k: _random_value(rng, depth + 1) for k in rng.sample(_KEYS, rng.randrange(4))}


_KEYS = ["scale", "from", "to", "drop", "delayMs", "duplicate", "seed", "extra"]


async def test_bad_tempo_and_link_requests_are_400s_with_the_error_body(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()
    token = cluster.config.security.auth_token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    tempo, links = cluster.url + "/api/cluster/tempo", cluster.url + "/api/cluster/links"
    drop = links + "/drop"
    bad: list[tuple[str, str, Any, bytes | None]] = [
        ("POST", tempo, None, b"{not json"),
        ("POST", tempo, None, b""),
        ("POST", tempo, [], None),
        ("POST", tempo, {}, None),
        ("POST", tempo, {"scale": 0}, None),
        ("POST", tempo, {"scale": 101}, None),
        ("POST", tempo, {"scale": 2.5}, None),
        ("POST", tempo, {"scale": "20"}, None),
        ("POST", tempo, {"scale": True}, None),
        ("POST", tempo, {"scale": 2, "speed": 1}, None),
        ("POST", links, None, b"[1,"),
        ("POST", links, {"from": "node9", "to": "node2", "drop": 0.5}, None),
        ("POST", links, {"from": "node1", "to": "node9", "drop": 0.5}, None),
        ("POST", links, {"from": "node1", "to": "node1", "drop": 0.5}, None),
        ("POST", links, {"from": "node1", "drop": 0.5}, None),
        ("POST", links, {"from": "node1", "to": "node2", "drop": 1.5}, None),
        ("POST", links, {"from": "node1", "to": "node2", "drop": -0.1}, None),
        ("POST", links, {"from": "node1", "to": "node2", "duplicate": "a"}, None),
        ("POST", links, {"from": "node1", "to": "node2", "delayMs": 60_001}, None),
        ("POST", links, {"from": "node1", "to": "node2", "delayMs": 2.5}, None),
        ("POST", links, {"from": "node1", "to": "node2", "drop": 0.1, "seed": -1}, None),
        ("POST", links, {"from": "node1", "to": "node2", "drop": 0.1, "loss": 1}, None),
        ("POST", links, {"from": "node1", "to": "node2"}, None),
        ("DELETE", links + "?from=node9", None, b""),
        ("DELETE", links + "?to=node9", None, b""),
        ("DELETE", links + "?node=node1", None, b""),
        ("POST", drop, None, b"{"),
        ("POST", drop, {"node": "node1"}, None),
        ("POST", drop, {"node": "node1", "id": 0}, None),
        ("POST", drop, {"node": "node1", "id": True}, None),
        ("POST", drop, {"node": "node1", "id": "7"}, None),
        ("POST", drop, {"node": "node9", "id": 1}, None),
        ("POST", drop, {"node": "node1", "id": 1, "to": "node2"}, None),
    ]
    async with aiohttp.ClientSession(headers=headers) as http:
        for method, url, body, raw in bad:
            status, answer = await _send(http, method, url, body, raw)
            assert status == 400, (method, url, body, raw, status, answer)
            error = answer["error"]
            assert error["code"] == "invalid_request" and error["message"], answer
        # Seeded random bodies: a 200 or a 400 with the error body, never anything else.
        rng = random.Random(2025)
        for _ in range(200):
            url = rng.choice((tempo, links))
            body = _random_value(rng)
            status, answer = await _send(http, "POST", url, body)
            if status != 200:
                assert status == 400 and answer["error"]["code"] == "invalid_request", (
                    url,
                    body,
                    status,
                    answer,
                )
        status, _ = await _send(http, "POST", tempo, {"scale": 1})
        assert status == 200
        status, cleared = await _send(http, "DELETE", links, None, b"")
        assert status == 200 and cleared["unreachable"] == [], cleared
