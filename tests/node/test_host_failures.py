"""A node whose log cannot be written stops, rather than answering probes without replicating."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.config import load_config
from engine.node import host as host_module
from engine.node.host import RaftHost
from tests.cluster_harness import cluster_config, write_config


class Exited(Exception):
    pass


async def test_a_log_write_that_fails_stops_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = cluster_config(tmp_path, 1, extra={"security": {"clusterSecret": "test-secret"}})
    config = load_config(write_config(tmp_path, raw))
    host = RaftHost(config, "node1")
    codes: list[int] = []

    def exit_(code: int) -> None:
        codes.append(code)
        raise Exited

    def failing_save(*_: Any) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(host_module.os, "_exit", exit_)
    monkeypatch.setattr(host.log_storage, "save", failing_save)
    await host.start()
    try:
        async with asyncio.timeout(5):
            while not codes:
                await asyncio.sleep(0.01)
        assert codes == [74]
    finally:
        await host.stop()
