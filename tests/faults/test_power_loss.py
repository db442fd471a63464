"""Power loss: every process SIGKILLed at once, then every write not fsynced dropped.

Three nodes keep their data dirs on the power-cut file system (tests/powercut/), writers
append events with unique ids through the gateway, and each round kills the gateway and the
nodes at the same instant, cuts the power and starts them again.  With ``fsync: always`` no
acknowledged write may be lost; with ``os`` only those acknowledged within ``OS_WINDOW`` before
the cut (docs/ENGINE.md, "What a crash can lose").  Either way every node must hold what the
leader holds within 30 s, and no node may exit for an operator.  ``pytest -s`` prints each
round's figures.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import pytest

from bench.lib.nemesis import Workload, converge
from engine.client.checker import Attempt, check_histories
from tests.cluster_harness import HandStartedCluster, cluster_config, start_by_hand
from tests.powercut import power_cut_fs

pytestmark = pytest.mark.slow

ROUNDS = 3
CONVERGE_TIMEOUT = 30.0
# What fsync: os may lose: the log's WAL is fsynced at each checkpoint and each durable point,
# each at most a second apart (engine/storage/wal.py, durability.py): writes acknowledged up to
# a second before the cut, plus the fsync under way then, which this file system slows down
# (docs/ENGINE.md, "What a crash can lose", has the figures).
OS_WINDOW = 2.0


def _kill_everything(cluster: HandStartedCluster) -> None:
    for proc in cluster.procs.values():
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    for proc in cluster.procs.values():
        proc.wait()


async def _recovering(cluster: HandStartedCluster) -> set[str]:
    """The nodes whose status says they lost state and have not caught up yet."""
    out = set()
    async with aiohttp.ClientSession() as http:
        for node_id, node in cluster.raw["nodes"].items():
            url = f"http://{node['http']['host']}:{node['http']['port']}/status"
            async with http.get(url) as resp:
                if (await resp.json())["recovering"]:
                    out.add(node_id)
    return out


async def _node_logs(cluster: HandStartedCluster) -> str:
    """Each node's status and timeline (GET /status, GET /log), to explain a failure."""
    out = []
    async with aiohttp.ClientSession() as http:
        for node_id, node in cluster.raw["nodes"].items():
            url = f"http://{node['http']['host']}:{node['http']['port']}"
            for path in ("/status", "/log"):
                async with http.get(url + path) as resp:
                    out.append(f"{node_id} {path}: {await resp.text()}")
    return "\n".join(out)


# A cut: the moment the kill began, and the moment every write in flight had its outcome (an
# answer sent just before the kill may be read after it).
Cut = tuple[float, float]


def _before_cut(attempt: Attempt, cuts: Sequence[Cut]) -> float:
    """How long before the next cut ``attempt`` was acknowledged (0 for an answer read while
    the processes were being killed)."""
    finished = attempt.finished
    assert finished is not None
    start = min(start for start, end in cuts if end >= finished)
    return max(0.0, start - finished)


def _excused(attempts: Sequence[Attempt], cuts: Sequence[Cut], window: float) -> list[Attempt]:
    """The attempts, with those acknowledged within ``window`` before a cut counted as
    outcome unknown: ``fsync: os`` may lose them."""
    out = []
    for attempt in attempts:
        finished = attempt.finished
        if (
            attempt.outcome == "ack"
            and finished is not None
            and any(start - window <= finished <= end for start, end in cuts)
        ):
            attempt = dataclasses.replace(attempt, outcome="unknown")
        out.append(attempt)
    return out


# Three rounds of writes, a cut and up to 30 s of convergence each: 75-85 s alone here.
@pytest.mark.timeout(400)
@pytest.mark.parametrize(("fsync", "seed"), [("always", 24), ("os", 25)])
async def test_power_loss_loses_only_what_the_policy_allows_and_nodes_converge(
    tmp_path: Path, fsync: str, seed: int
) -> None:
    rng = random.Random(seed)
    with power_cut_fs(tmp_path / "fs") as fs:
        raw = cluster_config(
            tmp_path,
            extra={
                "storage": {"dataDir": str(fs.mount / "data"), "fsync": fsync},
                "replication": {"writeQuorum": "majority"},
            },
        )
        attempts: list[Attempt] = []
        cuts: list[Cut] = []
        cluster: HandStartedCluster | None = None
        try:
            for round_no in range(ROUNDS):
                directory = tmp_path / f"round{round_no}"
                directory.mkdir()
                cluster = await start_by_hand(directory, raw)
                # Writers numbered apart in each round, so event ids never repeat.
                workload = Workload(
                    cluster.url,
                    seed=seed,
                    writers=6,
                    first_writer=10 * round_no,
                    probe_interval=None,
                )
                workload.start()
                # Seeded: the cut falls after 2-6 s of steady writes, so most acknowledged
                # writes lie before the window fsync: os may lose.
                await workload.wait_acked(rng.randrange(600, 1500), timeout=90)
                cut = time.monotonic()
                _kill_everything(cluster)
                cluster = None
                await workload.stop()  # the writes in flight end unknown
                cuts.append((cut, time.monotonic()))
                attempts += workload.attempts
                report = fs.cut()
                directory = tmp_path / f"round{round_no}-after"
                directory.mkdir()
                cluster = await start_by_hand(directory, raw)
                # fsync: always must keep every acknowledged write, even one read during the kill.
                allowed = _excused(attempts, cuts, OS_WINDOW) if fsync == "os" else attempts
                histories = await converge(cluster, allowed, timeout=CONVERGE_TIMEOUT)
                verdict = check_histories(histories, allowed)
                exited = {n: p.returncode for n, p in cluster.procs.items() if p.poll() is not None}
                present = {e["event_id"] for e in next(iter(histories.values()))}
                acked = [a for a in workload.attempts if a.outcome == "ack"]
                lost = [a for a in acked if a.event_ids[0] not in present]
                oldest = max((_before_cut(a, cuts) for a in lost), default=0.0)
                # Still voting only with their kind: a leader of the very term they restarted in
                # cannot end that (docs/ENGINE.md, "What a crash can lose").
                recovering = sorted(await _recovering(cluster))
                print(
                    f"\n{fsync} round {round_no}: cut {report}; {len(lost)} of {len(acked)} "
                    f"acknowledged writes lost (the oldest acknowledged {oldest:.2f} s before "
                    f"the cut); recovering: {recovering or 'none'}; {verdict.report()}"
                )
                assert not exited, f"nodes exited: {exited}"
                if not verdict.ok:
                    pytest.fail(f"{verdict.report()}\n{await _node_logs(cluster)}")
                if fsync == "always":
                    assert not lost
                _kill_everything(cluster)
                cluster = None
        finally:
            if cluster is not None:
                _kill_everything(cluster)
