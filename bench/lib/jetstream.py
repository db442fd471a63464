"""NATS JetStream as an append target: a 3-server cluster on loopback and an R3 file stream.

Each server is a real ``nats-server`` process with its own config file, store directory and
cluster routes to the others.  The stream ``BENCH`` (subjects ``bench.>``, file storage, three
replicas) is created through one server; the benchmark's client then connects to a server that
does not lead the stream, so an append takes the hops Gate's take (client → gateway → leader).
Every message carries its event id as ``Nats-Msg-Id``: JetStream deduplicates by it, as Gate
does by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import orjson
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.api import StorageType, StreamConfig
from nats.js.client import JetStreamContext

from bench.lib.cluster import free_ports
from bench.lib.driver import Request, Scenario, sample_events

STREAM = "BENCH"
MSG_ID = "Nats-Msg-Id"


def server_version(binary: str) -> str:
    """What ``nats-server --version`` says (``nats-server: v2.9.10``), without the name."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip().rsplit(" ", 1)[-1]


def server_config(
    name: str, port: int, cluster_port: int, routes: list[int], store: Path, sync: str | None
) -> str:
    """One server's config: client and cluster listeners on loopback, JetStream in ``store``.

    ``sync`` is JetStream's ``sync_interval`` (``always``: fsync every write, nats-server 2.10
    and later); None keeps the server's default (a periodic fsync, every 2 minutes).
    """
    sync_line = f"\n  sync_interval: {sync}" if sync else ""
    route_urls = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in routes)
    return (
        f"server_name: {name}\nhost: 127.0.0.1\nport: {port}\n"
        f'jetstream {{\n  store_dir: "{store}"{sync_line}\n}}\n'
        f"cluster {{\n  name: bench\n  host: 127.0.0.1\n  port: {cluster_port}\n"
        f"  routes: [{route_urls}]\n}}\n"
    )


@dataclass
class NatsCluster:
    """Three started servers, their client URLs by server name, and the stream's leader."""

    processes: dict[str, asyncio.subprocess.Process]
    urls: dict[str, str]
    directory: Path
    leader: str = ""

    @property
    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.processes.items()}

    def follower_url(self) -> str:
        """The URL of a server that does not lead the stream."""
        return next(url for name, url in self.urls.items() if name != self.leader)


async def _quiet(exc: Exception) -> None:
    """nats-py's default error callback prints a traceback; a slice counts its errors instead."""


async def connect(urls: list[str]) -> NatsClient:
    """A client of ``urls`` that reports errors through the calls that fail, not on stderr."""
    return await nats.connect(servers=urls, connect_timeout=2, error_cb=_quiet)


async def _wait_listening(cluster: NatsCluster, deadline: float) -> None:
    """Wait until every server accepts connections; RuntimeError with its log if one exited."""
    for name, url in cluster.urls.items():
        port = int(url.rsplit(":", 1)[1])
        while True:
            proc = cluster.processes[name]
            if proc.returncode is not None:
                log = (cluster.directory / f"{name}.log").read_text(errors="replace")
                raise RuntimeError(f"nats-server {name} exited ({proc.returncode}): {log[-500:]}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server {name} did not listen on {port}") from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            break


async def _create_stream(cluster: NatsCluster, timeout: float) -> str:
    """Create the R3 stream (once the cluster has elected its meta leader); its leader's name."""
    deadline = time.monotonic() + timeout
    await _wait_listening(cluster, deadline)
    nc = await connect(list(cluster.urls.values()))
    try:
        js = nc.jetstream(timeout=2)
        config = StreamConfig(
            name=STREAM, subjects=["bench.>"], storage=StorageType.FILE, num_replicas=3
        )
        while True:
            try:
                info = await js.add_stream(config)
                if info.cluster is not None and info.cluster.leader:
                    return info.cluster.leader
            except (NatsError, TimeoutError) as exc:  # no meta leader yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JetStream made no stream in {timeout:g} s: {exc}") from exc
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


@contextlib.asynccontextmanager
async def nats_cluster(
    binary: str, sync: str | None, parent: str | None, timeout: float = 30.0
) -> AsyncIterator[NatsCluster]:
    """Three servers of ``binary`` with the stream made, in a temporary directory removed after."""
    directory = Path(tempfile.mkdtemp(prefix="nats-bench-", dir=parent))
    ports = free_ports(6)
    names = [f"n{i + 1}" for i in range(3)]
    cluster = NatsCluster({}, {}, directory)
    try:
        for i, name in enumerate(names):
            conf = directory / f"{name}.conf"
            routes = [ports[3 + j] for j in range(3) if j != i]
            store = directory / name
            conf.write_text(server_config(name, ports[i], ports[3 + i], routes, store, sync))
            with (directory / f"{name}.log").open("wb") as log:
                cluster.processes[name] = await asyncio.create_subprocess_exec(
                    binary, "-c", str(conf), stdout=log, stderr=subprocess.STDOUT
                )
            cluster.urls[name] = f"nats://127.0.0.1:{ports[i]}"
        cluster.leader = await _create_stream(cluster, timeout)
        yield cluster
    finally:
        for proc in cluster.processes.values():
            proc.terminate()
        for proc in cluster.processes.values():
            await proc.wait()
        shutil.rmtree(directory, ignore_errors=True)


def jetstream_config(
    directory: Path, servers: int = 3, *, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The config of ``servers`` nats-servers and a gateway that starts them (health every
    0.2 s); ``extra`` sections are merged into these key by key (a non-dict replaces)."""
    ports = free_ports(3 * servers + 1)
    raw: dict[str, Any] = {
        "backend": "jetstream",
        "nodes": {
            f"nats{i + 1}": {
                "role": "master" if i == 0 else "slave",
                "http": {"host": "127.0.0.1", "port": ports[3 * i]},
                "tcp": {"host": "127.0.0.1", "port": ports[3 * i + 1]},
                "cluster": {"host": "127.0.0.1", "port": ports[3 * i + 2]},
            }
            for i in range(servers)
        },
        "jetstream": {"replicas": min(3, servers)},
        "gateway": {
            "startsNodes": True,
            "http": {"host": "127.0.0.1", "port": ports[-1]},
            "healthInterval": 0.2,
        },
        "storage": {"dataDir": str(directory / "data")},
        "stores": ["reg_gh"],
    }
    for section, values in (extra or {}).items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **values}
        else:
            raw[section] = values
    return raw


class JetStreamTarget:
    """The appends of the scenarios as JetStream publishes; one subject per worker."""

    def __init__(self, nc: NatsClient, seed: int) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=10)
        self.pool = [orjson.dumps(event) for event in sample_events(seed)]

    def request_for(self, scenario: Scenario, phase: str) -> Request:
        """The publish one worker repeats: one message and its ack, or 100 acks awaited at once."""
        pool, size, batch, js = self.pool, len(self.pool), scenario.batch, self.js
        prefix = f"bench.{phase}.{scenario.key}"

        async def single(worker: int, seq: int) -> None:
            headers = {MSG_ID: str(uuid.uuid4())}
            await js.publish(f"{prefix}.{worker}", pool[(seq + worker) % size], headers=headers)

        async def pipelined(worker: int, seq: int) -> None:
            start = seq * batch + worker
            acks = [
                await js.publish_async(
                    f"{prefix}.{worker}",
                    pool[(start + k) % size],
                    headers={MSG_ID: str(uuid.uuid4())},
                )
                for k in range(batch)
            ]
            await asyncio.gather(*acks)

        return single if batch == 1 else pipelined

    async def send(self, subject: str, event_id: str, i: int) -> None:
        """Publish one small event and wait for its ack (the latency workload)."""
        body = orjson.dumps({"event_type": "t:v1", "data": {"i": i}})
        await self.js.publish(subject, body, headers={MSG_ID: event_id})

    async def feed(self, subject: str, ready: asyncio.Event) -> AsyncIterator[str]:
        """The event ids an ordered push consumer on ``subject`` receives, live."""
        sub = await self.js.subscribe(subject, ordered_consumer=True)
        try:
            ready.set()
            async for msg in sub.messages:
                yield (msg.headers or {}).get(MSG_ID, "")
        finally:
            with contextlib.suppress(NatsError):
                await sub.unsubscribe()
