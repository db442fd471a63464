"""A node whose log cannot be written stops, rather than answering probes without replicating."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine.config import load_config
from engine.node.host import APPLY_FAILED, LOG_FAILED, RaftHost
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
