"""A node whose log cannot be written stops, rather than answering probes without replicating."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine.config import load_config
from engine.node.host import APPLY_FAILED, LOG_FAILED, RaftHost
from engine.node.tcp_server import NodeTcpServer
from engine.protocol.errors import GateError
from engine.storage.free_space import MB, FreeSpace
from tests.cluster_harness import cluster_config, write_config


async def test_a_log_write_that_fails_stops_the_node(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path, 1, extra={"security": {"clusterSecret": "test-secret"}})
    config = load_config(write_config(tmp_path, raw))
    host = RaftHost(config, "node1")

    def failing_save(*_: Any) -> None:
        raise OSError(5, "Input/output error")

    host.log_storage.save = failing_save  # type: ignore[method-assign]
    await host.start()
    try:
        async with asyncio.timeout(5):
            assert await host.failure == LOG_FAILED
    finally:
        await host.stop()


async def test_an_entry_that_cannot_be_applied_stops_the_node_before_its_round_is_saved(
    tmp_path: Path,
) -> None:
    raw = cluster_config(tmp_path, 1, extra={"security": {"clusterSecret": "test-secret"}})
    config = load_config(write_config(tmp_path, raw))
    host = RaftHost(config, "node1")
    await host.start()
    try:
        async with asyncio.timeout(5):
            while not host.core.serving:
                await asyncio.sleep(0.01)
        saved = host.log_storage.last_index()

        def failing_apply(*_: Any) -> None:
            raise OSError(28, "No space left on device")

        host.state.apply = failing_apply  # type: ignore[method-assign]
        proposal = asyncio.ensure_future(host.propose({"op": "delete_store", "store": "nope"}, 2))
        async with asyncio.timeout(5):
            assert await host.failure == APPLY_FAILED
        # Nothing after the failure ran: the proposal is never answered, no round went on.
        await asyncio.sleep(0.1)
        assert not proposal.done()
        assert host.log_storage.last_index() <= saved + 1
        proposal.cancel()
    finally:
        await host.stop()


async def test_a_log_write_that_fails_on_a_full_disk_names_it(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path, 1, extra={"security": {"clusterSecret": "test-secret"}})
    config = load_config(write_config(tmp_path, raw))
    host = RaftHost(config, "node1")
    free = [100 * MB]

    def statvfs(path: Path) -> os.statvfs_result:
        return os.statvfs_result(
            (4096, 4096, 10**6, free[0] // 4096, free[0] // 4096, 0, 0, 0, 0, 255)
        )

    def failing_save(*_: Any) -> None:
        free[0] = 0  # filled from outside, faster than the free-space check looks
        raise sqlite3.OperationalError("database or disk is full")

    node_dir = config.node_data_dir("node1")
    host.free_space = FreeSpace(node_dir, 0, statvfs=statvfs)  # the check off: named all the same
    await host.start()
    try:
        async with asyncio.timeout(5):
            while not host.core.serving:
                await asyncio.sleep(0.01)
        host.log_storage.save = failing_save  # type: ignore[method-assign]
        proposal = asyncio.ensure_future(host.propose({"op": "delete_store", "store": "nope"}, 2))
        async with asyncio.timeout(5):
            assert await host.failure == LOG_FAILED
        proposal.cancel()
        text = host.node_log.page()["lines"][-1]["text"]
        full = f"disk full ({node_dir}: 0 KB free)"
        assert text == f"its log cannot be written: {full}; stopping (exit status 74)"
    finally:
        await host.stop()


async def test_a_node_with_a_full_disk_refuses_proposals_and_snapshot_offers(
    tmp_path: Path,
) -> None:
    raw = cluster_config(tmp_path, 1, extra={"security": {"clusterSecret": "test-secret"}})
    config = load_config(write_config(tmp_path, raw))
    host = RaftHost(config, "node1")
    free = [100 * MB]

    def statvfs(path: Path) -> os.statvfs_result:
        blocks = free[0] // 4096
        return os.statvfs_result((4096, 4096, 10**6, blocks, blocks, 0, 0, 0, 0, 255))

    node_dir = config.node_data_dir("node1")
    host.free_space = FreeSpace(node_dir, 64 * MB, statvfs=statvfs, interval=0)
    server = NodeTcpServer(host)
    await host.start()
    try:
        async with asyncio.timeout(5):
            while not host.core.serving:
                await asyncio.sleep(0.01)
        free[0] = 12 * MB
        async with asyncio.timeout(5):
            while host.disk_full is None:
                await asyncio.sleep(0.01)
        full = f"disk full ({node_dir}: 12 MB free)"
        assert host.status()["disk_full"] == full
        with pytest.raises(GateError) as refused:
            await host.propose({"op": "delete_store", "store": "nope"}, 2)
        assert refused.value.code == "not_leader"
        assert refused.value.message == f"{full}; it hands leadership over"
        offer = {"op": "snapshot_offer", "transfer": "t1", "files": []}
        with pytest.raises(GateError) as refused:
            await server._dispatch(offer)
        assert refused.value.code == "unavailable" and full in refused.value.message
        free[0] = 70 * MB  # space is back: writes go through again
        async with asyncio.timeout(5):
            while host.disk_full is not None:
                await asyncio.sleep(0.01)
        created = {"op": "create_store", "store": "s", "config": {}, "created_epoch": 0}
        assert (await host.propose(created, 2))["index"] > 0
        assert host.state.store("s").last_position == 0
        texts = [line["text"] for line in host.node_log.page()["lines"]]
        assert (
            f"{full}, below storage.minFreeBytes (64 MB): takes no new entries until space is freed"
            in texts
        )
        assert f"disk space back ({node_dir}: 70 MB free): takes new entries again" in texts
    finally:
        await host.stop()
