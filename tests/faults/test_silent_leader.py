"""A silent leader (SIGSTOP, or cut off from its peers) under writers: the first write sent after
the fault is acknowledged as soon as a new leader is elected, like after a SIGKILL (issue #24,
point 5).

The gateway here runs a health round only every 5 s, so a write acknowledged sooner cannot owe
it to a round: it was re-routed because the new leader announced itself over its TCP link
(engine/node/leadership.py) and the write waiting on the silent one followed it at once.

How fast is a figure, not a test's bound: ``python -m bench.failover_time`` measures it (p50
and max per fault kind; under a second on an idle machine).  What this test proves is how: the
write waiting on the silent leader followed the new one's announcement, so every round ends well
before the 5 s health round could have re-routed it (an election takes 0.3 to 0.6 s; a loaded
machine added up to a second more), and the gateway counts a pushed leader per failover.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from bench.lib.nemesis import Nemesis, Workload, converge
from engine.client.checker import check_histories
from tests.cluster_harness import RunningCluster

MakeCluster = Callable[..., Awaitable[RunningCluster]]
ROUNDS = 3
EACH_BOUND = 3.5  # seconds, every round: well under the health round's 5 s
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
async def test_first_write_after_a_silent_leader_follows_the_new_leaders_announcement(
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
    assert max(delays) < EACH_BOUND, figures
    # Each new leader reached the gateway by its announcement, not by a health round.
    assert pushed >= ROUNDS, f"{pushed} leaders learned from a push in {ROUNDS} failovers"
    histories = await converge(cluster, workload.attempts, timeout=30)
    verdict = check_histories(histories, workload.attempts)
    assert verdict.ok, verdict.report()
