"""Dropping one Raft message in flight by hand (``POST /api/cluster/links/drop``), on real
processes: RaftScope's "drop".

At tempo 20 every Raft message waits 0.95 s in its sender's delay line (engine/protocol/tempo.py):
slow motion alone, no link fault, leaves time to name one by its seq in the trace and drop it.
The dropped heartbeat is never received: the follower's trace (watched through the gateway, both
directions) holds every other message the leader sent it between two writes, and not
that one; nobody times out, the leader and term stay.  A message that has gone is a 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bench.lib.nemesis import NodeProbe
from engine.client import GateClient, GateError
from engine.protocol.tempo import message_delay
from tests.cluster_harness import RunningCluster, wait_for
from tests.faults.test_partitions import node_text

MakeCluster = Callable[..., Awaitable[RunningCluster]]
TEMPO = 20
FLIGHT = message_delay(TEMPO, 0.05)  # seconds each message flies (50 ms ticks: the default)
Line = dict[str, Any]


def _key(m: Line) -> tuple[Any, ...]:
    return (m["type"], m["term"], m["prev_index"], m["prev_term"], m["entries"], m["commit"])


async def _seen(
    lines: list[Line], done: Callable[[], Line | None], what: str, why: Callable[[], Any] = list
) -> Line:
    """What ``done`` finds once the trace brought it, within 30 s; else ``why()`` in the error."""
    deadline = time.monotonic() + 30
    while (found := done()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within 30 s; {len(lines)} lines seen: {why()}")
        await asyncio.sleep(0.05)
    return found


async def _write(client: GateClient, n: int) -> None:
    await client.append("reg_gh", "dropped", [{"event_type": "t", "data": {"n": n}}])


async def test_a_heartbeat_dropped_in_flight_is_never_received(make_cluster: MakeCluster) -> None:
    cluster = await make_cluster()
    probe = NodeProbe(cluster)
    client = cluster.new_client()
    lines: list[Line] = []
    missed: list[Line] = []  # what the trace could not bring (a ring overrun, a stalled test)

    async def collect() -> None:
        batches = client.trace(interval_ms=100, detail=500, heartbeats="show", received=True)
        async for batch in batches:
            lines.extend(ln for ln in batch["lines"] if ln["kind"] == "message")
            missed.extend(ln for ln in batch["lines"] if ln["kind"] == "missed")

    collector = asyncio.create_task(collect())
    try:
        # Every link carries a write first: a node that started late under load (its leader's
        # link still connecting) would lose the window's first append and be probed instead.
        await _write(client, 0)
        leader = await cluster.leader()
        await cluster.wait_applied((await cluster.node_get(leader, "/status"))["commit_position"])
        await client.set_tempo(TEMPO)
        await wait_for(
            lambda: probe.statuses(),
            lambda s: all(v is not None and v["tempo"]["scale"] == TEMPO for v in s.values()),
            30,
            f"every node at tempo {TEMPO}",
        )
        leader = await cluster.leader()
        follower = next(n for n in cluster.config.node_ids if n != leader)
        term = (await probe.status(leader) or {})["term"]
        slowed_at = time.time()

        def sent() -> list[Line]:
            return [
                m
                for m in lines
                if m["dir"] == "send"
                and m["node"] == leader
                and m["to"] == follower
                and m["type"] == "append"
            ]

        def received() -> list[Line]:
            return [
                m
                for m in lines
                if m["dir"] == "recv"
                and m["node"] == follower
                and m["frm"] == leader
                and m["type"] == "append"
            ]

        # A write: its AppendEntries, with an entry, marks where the window starts.  Sent after
        # the slow-down: the trace's first batch also holds what came before (the no-op, the
        # write above), which the follower's own history may no longer show as received.
        await _write(client, 1)
        first = await _seen(
            lines,
            lambda: next(
                (
                    m
                    for m in sent()
                    if m["type"] == "append" and m["entries"] and m["time"] >= slowed_at
                ),
                None,
            ),
            "AppendEntries with the first write",
        )

        # A heartbeat after it, still on its way, dropped by its seq.
        def in_flight(after: int) -> Line | None:
            return next(
                (
                    m
                    for m in sent()
                    if m["type"] == "append"
                    and not m["entries"]
                    and m["seq"] > after
                    and time.time() - m["time"] < FLIGHT - 0.3
                ),
                None,
            )

        after = first["seq"]
        for _ in range(10):
            dropped = await _seen(lines, lambda a=after: in_flight(a), "a heartbeat in flight")
            try:
                answer = await client.drop_message(leader, dropped["seq"])
            except GateError as exc:  # the machine stalled past its delay: the next one
                assert exc.code == "message_not_found", exc
                after = dropped["seq"]
                continue
            assert answer == {
                "node": leader,
                "id": dropped["seq"],
                "to": follower,
                "type": "append",
            }
            break
        else:
            raise AssertionError("no heartbeat could be dropped in flight in 10 tries")
        with pytest.raises(GateError) as gone:
            await client.drop_message(leader, dropped["seq"])
        assert gone.value.status == 404 and gone.value.code == "message_not_found", gone.value
        # A write after: the window ends at its AppendEntries, once the follower received it.
        await _write(client, 2)
        last = await _seen(
            lines,
            lambda: next(
                (
                    m
                    for m in sent()
                    if m["type"] == "append" and m["entries"] and m["seq"] > dropped["seq"]
                ),
                None,
            ),
            "AppendEntries with the second write",
        )
        window = [m for m in sent() if first["seq"] <= m["seq"] <= last["seq"]]
        assert dropped in window and len(window) >= 3, window

        def arrived() -> list[Line] | None:
            got = received()
            start = next((i for i, m in enumerate(got) if _key(m) == _key(first)), None)
            end = next((i for i, m in enumerate(got) if _key(m) == _key(last)), None)
            return None if start is None or end is None else got[start : end + 1]

        got = await _seen(
            lines,
            lambda: arrived() and {"got": arrived()},
            "the second write",
            lambda: {
                "first": _key(first),
                "last": _key(last),
                "received": [_key(m) for m in received()],
                "missed": missed,
            },
        )
        expected = [_key(m) for m in window if m["seq"] != dropped["seq"]]
        # Every other message arrived, and the dropped one's kind once fewer. Compared as
        # multisets: a heartbeat and an append made at the same moment by two tasks can be
        # numbered in one order and leave the delay line in the other (seen under CI's load).
        assert Counter(_key(m) for m in got["got"]) == Counter(expected), (dropped, window, got)
        # Otherwise unchanged: the same leader in the same term, nobody asked for votes.
        status = await probe.status(leader)
        assert status is not None and status["role"] == "leader" and status["term"] == term
        votes = [m for m in lines if m["type"] == "vote" and m["time"] > slowed_at]
        assert not votes, votes
        metrics = await node_text(cluster, leader, "/metrics")
        assert f'gate_node_messages_dropped_by_hand_total{{node="{leader}"}} 1.0' in metrics
        log = await client.node_log(leader)
        assert any("dropped in flight" in line["text"] for line in log["lines"]), log
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
        await probe.close()
        await client.close()


async def test_dropping_a_message_that_is_not_in_flight_is_one_clear_error(
    make_cluster: MakeCluster,
) -> None:
    cluster = await make_cluster()
    async with cluster.new_client() as client:
        leader = await cluster.leader()
        # At full speed nothing waits: whatever the number, it has gone (or never was).
        for trace_id in (1, 999_999):
            with pytest.raises(GateError) as gone:
                await client.drop_message(leader, trace_id)
            assert gone.value.status == 404 and gone.value.code == "message_not_found"
            assert f"message {trace_id} of {leader} is not in flight" in gone.value.message
