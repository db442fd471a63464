"""A node after a power loss with ``fsync: os``: it knows it may have lost state, and a store
that kept what its log lost makes it start over (tests/faults/test_power_loss.py runs it whole)."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from pathlib import Path

from engine.config import load_config
from engine.config_model import ClusterConfig
from engine.node.host import RUNNING_MARKER, RaftHost
from engine.protocol.commands import build_append, build_create_store
from tests.cluster_harness import cluster_config, write_config


def _config(tmp_path: Path, fsync: str) -> ClusterConfig:
    extra = {"security": {"clusterSecret": "test-secret"}, "storage": {"fsync": fsync}}
    return load_config(write_config(tmp_path, cluster_config(tmp_path, 1, extra=extra)))


def _texts(host: RaftHost) -> list[str]:
    return [line["text"] for line in host.node_log.page()["lines"]]


async def _write(host: RaftHost, events: int) -> int:
    """Create store ``s`` and append ``events`` events to it; the last index."""
    async with asyncio.timeout(10):
        while not host.core.serving:
            await asyncio.sleep(0.01)
    await host.propose(build_create_store({"store_id": "s", "config": {}}, now_epoch_us=1), 5)
    index = 0
    ids = (f"id-{k}" for k in itertools.count())
    for k in range(events):
        body = {"expected_version": "any", "events": [{"event_type": "t", "data": {"k": k}}]}
        cmd = build_append("s", "x", body, now_epoch_us=1, new_id=ids.__next__, max_events=10)
        index = (await host.propose(cmd, 5))["index"]
    return index


async def test_a_start_after_an_unclean_stop_votes_as_a_node_that_lost_state(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "os")
    host = RaftHost(config, "node1")
    marker = config.node_data_dir("node1") / RUNNING_MARKER
    assert marker.exists() and not host.core.recovering
    await host.stop()
    assert not marker.exists()  # a clean stop
    assert not RaftHost(config, "node1").core.recovering  # (left running: marked)
    restarted = RaftHost(config, "node1")  # the last one never stopped
    assert restarted.core.recovering
    assert any("did not stop cleanly" in text for text in _texts(restarted))
    await restarted.stop()
    # With fsync: always nothing is lost: an unclean stop changes nothing.
    marker.touch()
    assert not RaftHost(_config(tmp_path, "always"), "node1").core.recovering


async def test_stores_that_kept_entries_their_log_lost_are_rebuilt_from_the_log(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "os")
    host = RaftHost(config, "node1")
    await host.start()
    last = await _write(host, 5)
    await host.stop()
    # The power loss: the log's last entries were never fsynced, the store's were.
    node_dir = config.node_data_dir("node1")
    with sqlite3.connect(node_dir / "raft.db") as db:
        db.execute("DELETE FROM log WHERE idx > ?", (last - 2,))
        db.execute("UPDATE hard_state SET commit_idx = ?", (last - 2,))
    (node_dir / RUNNING_MARKER).touch()
    restarted = RaftHost(config, "node1")
    try:
        # The log (never compacted) stays; the stores start over and replay it.
        assert restarted.core.last_index == last - 2 and restarted.applied_index == 0
        assert restarted.state.held_index == 0 and not list(restarted.state.stores_dir.iterdir())
        assert restarted.core.recovering and restarted.core.term == host.core.term
        lost = f"its stores hold entries up to index {last} but its log ends at {last - 2}"
        assert any(
            f"{lost} (a power loss): its stores are discarded and rebuilt" in text
            for text in _texts(restarted)
        )
        await restarted.start()
        async with asyncio.timeout(10):  # it leads (the only node) and replays its log
            while restarted.state.held_index < last - 2:
                await asyncio.sleep(0.01)
    finally:
        await restarted.stop()
