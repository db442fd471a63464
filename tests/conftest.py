"""Shared fixtures: real clusters of real processes on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster_harness import (
    RunningCluster,
    start_cluster,
    start_cluster_async,
    stop_cluster,
)
from tests.jetstream_cluster import JetStreamGateway, start_ready

# Real processes are slow: tests that start a cluster (any fixture named ``*cluster``) or a
# node, or drive faults, are marked so that ``-m "not slow"`` is the quick loop. CI runs all.
_SLOW_DIRS = ("faults",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        in_slow_dir = any(f"tests/{d}/" in str(item.path) for d in _SLOW_DIRS)
        if in_slow_dir or any(name.endswith("cluster") for name in names):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    """A 3-node cluster shared by one test module; tests must not break it."""
    running = start_cluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield running
    finally:
        stop_cluster(running)


@pytest.fixture(scope="module")
def jetstream_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JetStreamGateway]:
    """A gateway with ``backend: jetstream`` over the three nats-servers it launched, shared
    by one test module; tests must not break it."""
    gateway = start_ready(tmp_path_factory.mktemp("jetstream"))
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
async def make_cluster(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[RunningCluster]]]:
    """Start private clusters (``await make_cluster()``) for tests that break nodes."""
    started: list[RunningCluster] = []

    async def make(nodes: int = 3, *, extra: dict[str, Any] | None = None) -> RunningCluster:
        directory = tmp_path / f"cluster{len(started)}"
        directory.mkdir()
        running = await start_cluster_async(directory, nodes, extra=extra)
        started.append(running)
        return running

    yield make
    for running in started:
        await running.embedded.stop()
