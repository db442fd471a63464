"""What the JetStream backend refuses, with one clear line each, against real nats-servers."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from bench.lib.cluster import free_ports
from engine.backends.jetstream.backend import MAX_BATCH, JetStreamBackend
from engine.client import GateClient
from engine.protocol import commands
from engine.protocol.errors import GateError
from tests.cluster_harness import wait_for
from tests.jetstream_cluster import START_TIMEOUT, JetStreamGateway, jetstream_config, launch

DEBIAN_NATS = "/usr/sbin/nats-server"  # 2.9, no atomic batches (.ci/run installs it)


@pytest.fixture(scope="module")
def jetstream_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JetStreamGateway]:
    """A gateway process with ``backend: jetstream`` and the three nats-servers it launched."""
    directory = tmp_path_factory.mktemp("js")
    served = launch(directory, jetstream_config(directory))

    async def ready() -> bool:
        async with GateClient(served.url) as client:
            return await client.ready()

    try:
        asyncio.run(wait_for(ready, bool, START_TIMEOUT, "the gateway ready"))
        yield served
    finally:
        served.stop()


@contextlib.asynccontextmanager
async def old_server(directory: Path) -> AsyncIterator[str]:
    (port,) = free_ports(1)
    process = await asyncio.create_subprocess_exec(
        DEBIAN_NATS,
        "-js",
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-sd",
        str(directory),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.kill()
        await process.wait()


@pytest.mark.slow
async def test_a_server_without_atomic_batches_is_refused_by_name(tmp_path: Path) -> None:
    async with old_server(tmp_path) as url:
        backend = JetStreamBackend([url], replicas=1, request_timeout=5.0, max_events=10)
        command = commands.build_create_store({"store_id": "s"}, now_epoch_us=1)

        async def refusal() -> str:
            try:
                await backend.create_store(command)
            except GateError as err:
                return f"{err.code}: {err.message}"
            return "created"

        try:
            # "no NATS server answers" until the server listens.
            said = await wait_for(refusal, lambda said: "too old" in said, timeout=10)
        finally:
            await backend.close()
    assert said.startswith("unavailable: nats-server 2.9.10 is too old")
    assert "2.12 or later" in said


async def test_an_append_larger_than_one_atomic_batch_is_a_400(
    jetstream_cluster: JetStreamGateway,
) -> None:
    events = [{"event_type": "t", "data": {}} for _ in range(MAX_BATCH + 1)]
    url = jetstream_cluster.url + "/api/stores/reg_gh/streams/big/events"
    async with aiohttp.ClientSession() as session, session.post(url, json={"events": events}) as r:
        body = await r.json()
    assert r.status == 400
    assert body["error"]["code"] == "invalid_request"
    assert f"more than {MAX_BATCH} events" in body["error"]["message"]
    async with GateClient(jetstream_cluster.url) as client:
        ok = await client.append("reg_gh", "big", events[:MAX_BATCH])
        assert ok["version"] == MAX_BATCH - 1
        read = await client.read_stream("reg_gh", "big", start=990, count=100)
        assert [e["event_number"] for e in read["events"]] == list(range(990, 1000))
