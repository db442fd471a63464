"""``/api/cluster/trace`` on real processes: an election after the leader is killed shows as
vote requests and their answers; a write burst is summed up; bad parameters are one error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from engine.client import GateError
from engine.client.results import TraceBatch
from tests.cluster_harness import RunningCluster

pytestmark = pytest.mark.slow


async def lines_until(
    batches: AsyncIterator[TraceBatch],
    done: Callable[[list[dict[str, Any]]], bool],
    timeout: float,
    what: str,
) -> list[dict[str, Any]]:
    """Every line received until ``done`` holds for them, within ``timeout`` seconds."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not done(seen):
        left = deadline - time.monotonic()
        if left <= 0:
            kinds = sorted({(ln["kind"], ln.get("type", "")) for ln in seen})
            raise AssertionError(f"no {what} within {timeout} s; saw {kinds}")
        batch = await asyncio.wait_for(anext(batches), left)
        assert batch["type"] == "trace" and batch["lines"]
        seen.extend(batch["lines"])
    return seen


async def test_killing_the_leader_shows_the_election(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
) -> None:
    cluster = await make_cluster()
    leader = await cluster.leader()
    async with cluster.new_client() as client:
        batches = client.trace(interval_ms=200)
        # Quiet: heartbeats fold into one line per interval.
        quiet = await lines_until(
            batches, lambda s: any(ln["kind"] == "heartbeats" for ln in s), 10, "heartbeats"
        )
        beats = next(ln for ln in quiet if ln["kind"] == "heartbeats")
        assert leader in beats["nodes"] and beats["count"] >= 2
        await client.node_action(leader, "kill")

        def elected(seen: list[dict[str, Any]]) -> bool:
            return any(
                ln["kind"] == "message"
                and ln["type"] == "vote_response"
                and ln["granted"]
                and not ln["pre_vote"]
                for ln in seen
            )

        seen = await lines_until(batches, elected, 20, "a granted vote")
        messages = [ln for ln in seen if ln["kind"] == "message"]
        votes = [m for m in messages if m["type"] == "vote" and not m["pre_vote"]]
        granted = next(
            m
            for m in messages
            if m["type"] == "vote_response" and m["granted"] and not m["pre_vote"]
        )
        # The winner asked the others for their votes in the term it was granted.
        candidate = granted["to"]
        asked = {v["to"] for v in votes if v["frm"] == candidate and v["term"] == granted["term"]}
        assert candidate != leader and asked == set(cluster.config.node_ids) - {candidate}
        assert all(m["dir"] == "send" and m["node"] == m["frm"] for m in messages)
        assert all(m["frm"] != leader for m in messages if m["time"] >= granted["time"])
        # In time order, with the sender's fields.
        assert [m["time"] for m in messages] == sorted(m["time"] for m in messages)
        vote = next(v for v in votes if v["frm"] == candidate)
        assert vote["last_log_index"] >= 1 and vote["last_log_term"] >= 1
        await batches.aclose()  # type: ignore[attr-defined]


async def test_a_write_burst_is_summed_up(cluster: RunningCluster) -> None:
    async with cluster.new_client() as client:
        batches = client.trace(interval_ms=300, detail=1)
        writes = asyncio.gather(
            *(
                client.append("reg_gh", f"trace-{i % 8}", [{"event_type": "t", "data": {"i": i}}])
                for i in range(300)
            )
        )
        seen = await lines_until(
            batches,
            lambda s: any(ln["kind"] == "summary" and ln["type"] == "append" for ln in s),
            20,
            "a summary of appends",
        )
        await writes
        summary = next(ln for ln in seen if ln["kind"] == "summary" and ln["type"] == "append")
        assert summary["count"] >= 2 and summary["per_second"] > 0
        assert 1 <= summary["entries_min"] <= summary["entries_max"]
        await batches.aclose()  # type: ignore[attr-defined]


async def test_received_messages_are_listed_when_asked_for(cluster: RunningCluster) -> None:
    """Each heartbeat is sent by the leader and received by a follower: both are listed."""
    async with cluster.new_client() as client:
        batches = client.trace(interval_ms=200, received=True, heartbeats="show")

        def both(seen: list[dict[str, Any]]) -> bool:
            return {("send", "append"), ("recv", "append")} <= {
                (ln["dir"], ln["type"]) for ln in seen if ln["kind"] == "message"
            }

        seen = await lines_until(batches, both, 10, "an append sent and one received")
        received = [ln for ln in seen if ln["kind"] == "message" and ln["dir"] == "recv"]
        assert all(ln["node"] == ln["to"] for ln in received)
        await batches.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"interval_ms": 5}, "'interval_ms' must be at least 100"),
        ({"detail": 501}, "'detail' must be at most 500"),
        ({"heartbeats": "hide"}, "'heartbeats' must be fold or show"),
    ],
)
async def test_bad_parameters_are_one_clear_error(
    cluster: RunningCluster, params: dict[str, Any], words: str
) -> None:
    async with cluster.new_client() as client:
        with pytest.raises(GateError) as caught:
            await anext(client.trace(**params))
        assert caught.value.code == "invalid_request" and caught.value.status == 400
        assert words in caught.value.message
