"""A gateway with ``backend: jetstream`` and the nats-servers it launches, for tests.

``jetstream_config`` writes no file: it is the config dict of ``servers`` nats-servers on free
loopback ports (monitoring, client and route port each), data under ``directory``.
``start_jetstream_gateway`` runs ``gate-gateway`` on it as its own process (the supervisor then
starts the servers) and waits until the gateway's cluster view has every server up and a meta
leader; ``JetStreamGateway.stop`` ends it (and with it its servers).  Shared by the tests of the
servers' supervision and view (tests/jetstream/) and those of the JetStream backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.lib.cluster import wait_for, write_config
from bench.lib.jetstream import jetstream_config
from engine.client import GateClient
from engine.client.results import ClusterView

START_TIMEOUT = 30.0
__all__ = [
    "START_TIMEOUT",
    "JetStreamGateway",
    "all_up",
    "jetstream_config",
    "jetstream_gateway",
    "launch",
    "start_ready",
]


@dataclass
class JetStreamGateway:
    """A running gateway process over its nats-servers."""

    process: subprocess.Popen[bytes]
    config_path: Path
    raw: dict[str, Any]
    log_file: Path

    @property
    def url(self) -> str:
        http = self.raw["gateway"]["http"]
        return f"http://{http['host']}:{http['port']}"

    def client(self) -> GateClient:
        return GateClient(self.url)

    def client_urls(self) -> list[str]:
        """The servers' NATS URLs (their client ports)."""
        return [
            f"nats://{node['tcp']['host']}:{node['tcp']['port']}"
            for node in self.raw["nodes"].values()
        ]

    async def view(self, ok: Any, what: str, timeout: float = START_TIMEOUT) -> ClusterView:
        """The cluster view once ``ok(view)`` holds (AssertionError with the last one if not)."""
        async with self.client() as client:
            return await wait_for(client.cluster, ok, timeout, what)

    def stop(self) -> int:
        """SIGTERM the gateway (it stops its servers) and return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def all_up(view: ClusterView) -> bool:
    """Every server answers over HTTP and TCP, and the view names a meta leader."""
    nodes = view["nodes"]
    return (
        view["leader"] is not None
        and bool(nodes)
        and all(n["http"]["up"] and n["tcp"]["up"] for n in nodes)
    )


def launch(directory: Path, raw: dict[str, Any], *, clear: bool = False) -> JetStreamGateway:
    """Write the config and start ``gate-gateway`` on it (not waiting for anything)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = write_config(directory, raw)
    log_file = directory / "gateway.log"
    with log_file.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.gateway.main",
                "--config",
                str(path),
                "--parent-pid",
                str(os.getpid()),
                *(["--clear"] if clear else []),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return JetStreamGateway(process, path, raw, log_file)


def start_ready(directory: Path, raw: dict[str, Any] | None = None) -> JetStreamGateway:
    """Launch a gateway (``jetstream_config`` by default) and wait, blocking, until every
    server is up with a meta leader and the gateway has created its stores (``/ready``)."""
    gateway = launch(directory, raw or jetstream_config(directory))

    async def ready() -> None:
        await gateway.view(all_up, "every nats-server up and a meta leader")
        async with gateway.client() as client:
            await wait_for(client.ready, bool, START_TIMEOUT, "the gateway ready")

    try:
        asyncio.run(ready())
    except AssertionError:
        gateway.stop()
        log = gateway.log_file.read_text(errors="replace")[-2000:]
        raise AssertionError(f"the gateway did not come up; its log ends:\n{log}") from None
    return gateway


@contextlib.asynccontextmanager
async def jetstream_gateway(
    directory: Path, raw: dict[str, Any], *, clear: bool = False
) -> AsyncIterator[JetStreamGateway]:
    """A started gateway whose view has every server up and a meta leader; stopped after."""
    gateway = launch(directory, raw, clear=clear)
    try:
        try:
            await gateway.view(all_up, "every nats-server up and a meta leader")
        except AssertionError:
            log = gateway.log_file.read_text(errors="replace")[-2000:]
            raise AssertionError(f"the gateway did not come up; its log ends:\n{log}") from None
        yield gateway
    finally:
        await asyncio.to_thread(gateway.stop)
