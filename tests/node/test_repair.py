"""Self-repair's parts on real files: what counts as damage at start, setting the data aside
(bounded, the term and vote kept), the host that starts repairing from it, and the one-line
refusal of ``storage.repair: manual``.  The repair from a leader under load is
tests/faults/test_self_repair.py."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from engine.config import load_config
from engine.config_model import ClusterConfig
from engine.node.host import RaftHost
from engine.node.http_app import build_node_app
from engine.node.repair import DAMAGED, MARKER, RepairNeeded, read_marker, set_aside
from engine.storage.integrity import find_damage, is_damage, quick_check
from tests.cluster_harness import cluster_config, write_config


def _config(tmp_path: Path, repair: str = "auto") -> ClusterConfig:
    raw = cluster_config(
        tmp_path,
        1,
        extra={"security": {"clusterSecret": "test-secret"}, "storage": {"repair": repair}},
    )
    return load_config(write_config(tmp_path, raw))


async def _node_with_data(config: ClusterConfig) -> Path:
    """Run node1 alone until it wrote its log and a store, then stop it: its directory."""
    host = RaftHost(config, "node1")
    await host.start()
    try:
        async with asyncio.timeout(10):
            while not host.core.serving:
                await asyncio.sleep(0.01)
            await host.propose(
                {"op": "create_store", "store": "reg_gh", "config": {}, "created_epoch": 0}, 5
            )
            for k in range(40):
                event = {
                    "event_id": f"e{k}",
                    "event_type": "t",
                    "data": {"x": "y" * 400},
                    "metadata": {},
                    "created_epoch": 0,
                }
                append = {"op": "append", "store": "reg_gh", "stream": f"s{k}", "events": [event]}
                await host.propose({**append, "expected_version": "any"}, 5)
    finally:
        await host.stop()
    return config.node_data_dir("node1")


def _flip(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(size // 2)
        chunk = f.read(4096)
        f.seek(size // 2)
        f.write(bytes(b ^ 0xFF for b in chunk))


async def test_sound_files_pass_and_damaged_ones_are_named(tmp_path: Path) -> None:
    node_dir = await _node_with_data(_config(tmp_path))
    assert find_damage(node_dir) is None
    store = node_dir / "stores" / "reg_gh.db"
    _flip(store)
    damage = find_damage(node_dir)
    assert damage is not None and damage.where == "stores/reg_gh.db", damage
    assert quick_check(node_dir / "raft.db") is None
    os.truncate(node_dir / "raft.db", (node_dir / "raft.db").stat().st_size // 2)
    damage = find_damage(node_dir)
    assert damage is not None and damage.where == "raft.db", damage


def test_only_errors_that_name_a_damaged_file_are_damage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database at all" * 300)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        sqlite3.connect(bad).execute("SELECT 1 FROM sqlite_master").fetchall()
    assert is_damage(caught.value)
    assert not is_damage(sqlite3.OperationalError("database or disk is full"))
    assert not is_damage(OSError(28, "No space left on device"))


async def test_a_host_refuses_damaged_data_and_starts_repairing_once_it_is_set_aside(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    node_dir = await _node_with_data(config)
    _flip(node_dir / "stores" / "reg_gh.db")
    with pytest.raises(RepairNeeded) as caught:
        RaftHost(config, "node1")
    assert caught.value.file == "stores/reg_gh.db"
    # The term and vote of the damaged log are carried over.
    db = sqlite3.connect(node_dir / "raft.db")
    kept = db.execute("SELECT term, vote FROM hard_state").fetchone()
    db.close()
    state = set_aside(node_dir, str(caught.value))
    assert (state.term, state.vote) == tuple(kept) and state.aside is not None
    assert sorted(p.name for p in node_dir.iterdir()) == sorted([MARKER, state.aside])
    assert (node_dir / state.aside / "stores" / "reg_gh.db").exists()

    host = RaftHost(config, "node1")
    try:
        assert host.core.repairing and host.status()["repairing"] == str(caught.value)
        assert host.core.term == kept[0] and host.core.vote == kept[1]
        assert host.core.last_index == 0 and host.state.stores() == []
        async with TestClient(TestServer(build_node_app(host))) as http:
            answer = await (await http.get("/health")).json()
        assert answer == {"status": "repairing", "node_id": "node1", "reason": state.reason}
    finally:
        await host.stop()
    # A second damage keeps only the latest copy; the unfinished repair's term stays.
    (node_dir / "raft.db").write_bytes(b"garbage")
    again = set_aside(node_dir, "again")
    asides = [p.name for p in node_dir.iterdir() if p.name.startswith("damaged-")]
    assert len(asides) == 1 and again.term == kept[0] and again.since == state.since
    assert read_marker(node_dir) == again


def test_manual_refuses_to_start_on_damaged_data_with_one_line(tmp_path: Path) -> None:
    config = _config(tmp_path, repair="manual")
    node_dir = asyncio.run(_node_with_data(config))
    _flip(node_dir / "stores" / "reg_gh.db")
    done = subprocess.run(
        [sys.executable, "-m", "engine.node.main", "--config", config.source, "--node", "node1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == DAMAGED, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("gate-node:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "stores/reg_gh.db" in lines[0] and "--node node1 --repair" in lines[0], lines
    assert not (node_dir / MARKER).exists()  # nothing was moved
