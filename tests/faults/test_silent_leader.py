"""A silent leader (SIGSTOP, or cut off from its peers) under writers: the first write sent after
the fault is acknowledged within a second, like after a SIGKILL (issue #24, point 5).

The gateway here runs a health round only every 5 s, so a write acknowledged sooner cannot owe
it to a round: it was re-routed because the new leader announced itself over its TCP link
(engine/node/leadership.py) and the write waiting on the silent one followed it at once.

The bound, and why on the median: the new leader is elected one election timeout after the
fault at the earliest, 0.3 to 0.6 s with the default 50 ms ticks (a follower's timer may have
started up to one heartbeat before the fault); then one commit of its no-op and of the write,
a few ms on an idle machine.  That leaves 0.4 s of margin under 1.0 s.  This VM is shared with
other work, and one round in which the scheduler holds a process for a few hundred ms would
fail a bound on every round, so the 1.0 s bound is asserted on the median of three rounds, and
each round only under 2.5 s (a round that no push re-routed waits for the 5 s health round).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from bench.lib.nemesis import Nemesis, Workload, converge
from engine.client.checker import check_histories
from tests.cluster_harness import RunningCluster

MakeCluster = Callable[..., Awaitable[RunningCluster]]
ROUNDS = 3
GOAL = 1.0  # seconds, on the median of the rounds
EACH_BOUND = 2.5  # seconds, every round
HEALTH_INTERVAL = 5.0  # no health round falls inside a failover of the test
SILENT_FOR = 1.5  # seconds the old leader stays stopped or cut off


async def _pushed_leaders(cluster: RunningCluster) -> float:
    """The gateway's ``gate_gateway_leaders_pushed_total``."""
    async with aiohttp.ClientSession() as http, http.get(cluster.url + "/metrics") as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith("gate_gateway_leaders_pushed_total "):
            return float(line.split()[1])
    raise AssertionError(f"no gate_gateway_leaders_pushed_total in /metrics:\n{text}")


@pytest.mark.parametrize("fault", ["sigstop", "isolate"])
async def test_first_write_after_a_silent_leader_is_acknowledged_within_a_second(
    make_cluster: MakeCluster, fault: str
) -> None:
    cluster = await make_cluster(extra={"gateway": {"healthInterval": HEALTH_INTERVAL}})
    workload = Workload(cluster.url, token=cluster.config.security.auth_token, seed=24, writers=8)
    workload.start()
    delays: list[float] = []
    try:
        await workload.wait_acked(100, timeout=30)
        pushed_before = await _pushed_leaders(cluster)
        async with (
            cluster.new_client(retry_deadline=0) as admin,
            Nemesis(cluster, workload, rng=random.Random(24), log=lambda line: None) as nemesis,
        ):
            for _ in range(ROUNDS):
                old = await nemesis.leader()
                pid = await cluster.node_pid(old)
                since = time.monotonic()
                if fault == "sigstop":
                    os.kill(pid, signal.SIGSTOP)
                else:
                    await admin.isolate(old)
                try:
                    delay = await workload.wait_ack_after(since, timeout=10)
                    new = await nemesis.leader(exclude=old)
                finally:
                    # The fault's length, not a wait for something: silent past the election.
                    await asyncio.sleep(max(0.0, since + SILENT_FOR - time.monotonic()))
                    if fault == "sigstop":
                        os.kill(pid, signal.SIGCONT)
                    else:
                        await admin.heal(old)
                assert delay is not None, f"no write acknowledged after {fault} of {old}"
                assert new != old
                delays.append(delay)
                await nemesis.rejoined(old)
            assert not nemesis.history.conflicts(), nemesis.history.claims
        pushed = await _pushed_leaders(cluster) - pushed_before
    finally:
        await workload.stop()
    figures = ", ".join(f"{d:.3f}" for d in delays)
    print(f"\n{fault}: fault -> first acknowledged write issued after it: {figures} s")
    assert statistics.median(delays) < GOAL, figures
    assert max(delays) < EACH_BOUND, figures
    # Each new leader reached the gateway by its announcement, not by a health round.
    assert pushed >= ROUNDS, f"{pushed} leaders learned from a push in {ROUNDS} failovers"
    histories = await converge(cluster, workload.attempts, timeout=30)
    verdict = check_histories(histories, workload.attempts)
    assert verdict.ok, verdict.report()
