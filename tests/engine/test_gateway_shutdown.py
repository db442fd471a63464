"""A gateway stops at once on SIGTERM though a client keeps an observer WebSocket open: the
shutdown closes it (1001, going away) rather than wait out the stop timeout (20 s, the
launcher's and the tests' ``stop``), over either backend (engine/transport/limits.py)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import aiohttp
import pytest

from engine.client.launcher import EmbeddedCluster
from tests.cluster_harness import start_cluster_async, wait_for
from tests.jetstream_cluster import jetstream_config, launch

STOP_TIMEOUT = 20.0  # EmbeddedCluster.stop's and JetStreamGateway.stop's
EXIT_DEADLINE = 10.0  # well under it


async def _started(backend: str, directory: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """A gateway process over ``backend`` that has created its stores: its URL and process."""
    if backend == "gate":
        running = await start_cluster_async(directory)
        embedded: EmbeddedCluster = running.embedded
        assert embedded.process is not None
        return running.url, embedded.process
    served = launch(directory, jetstream_config(directory))
    async with served.client() as client:
        await wait_for(client.ready, bool, 30.0, "the gateway ready")
    return served.url, served.process


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["gate", "jetstream"])
async def test_sigterm_with_an_observer_open_exits_before_the_stop_timeout(
    backend: str, tmp_path: Path
) -> None:
    url, process = await _started(backend, tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{url}/api/stores/reg_gh/observe")
            first = await ws.receive_json(timeout=10)
            assert first["type"] == "live"
            process.send_signal(signal.SIGTERM)
            closing = await ws.receive(timeout=EXIT_DEADLINE)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
            await ws.close()

        async def exited() -> int | None:
            return process.poll()

        status = await wait_for(
            exited, lambda code: code is not None, EXIT_DEADLINE, "the gateway exited"
        )
        assert status == 0
    finally:
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.wait, STOP_TIMEOUT)
