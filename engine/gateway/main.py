"""``gate-gateway [--config FILE] [--clear]``: run a gateway (and its nodes) until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from engine.backends.jetstream.backend import JetStreamBackend
from engine.backends.jetstream.cluster_ops import JetStreamClusterOps
from engine.backends.port import Backend, ClusterOps
from engine.cli_support import (
    bind_error,
    configure_logging,
    fail,
    run,
    stop_event_on_signals,
    watch_parent,
)
from engine.cluster_secret import SecretError, resolve_cluster_secret
from engine.config import ConfigError, default_config_path, load_config
from engine.config_model import ClusterConfig
from engine.exposure import insecure_reasons, jetstream_reasons
from engine.gateway.app import Gateway, build_gateway_app
from engine.gateway.gate_backend import GateBackend
from engine.gateway.gate_cluster_ops import GateClusterOps
from engine.gateway.health import ClusterMonitor, HealthMonitor
from engine.gateway.routing import Router
from engine.gateway.supervisor import NodeStartError, NodeSupervisor, clear_data
from engine.gateway.tcp_pool import NodePool
from engine.heap import freeze_startup_heap
from engine.jetstream.monitor import JetStreamMonitor
from engine.jetstream.servers import ServerError, ServerLauncher
from engine.tls import ProcessTls, TlsError, process_tls
from engine.transport.http_server import HttpRunner
from engine.transport.preflight import PreflightError, check_ports

log = logging.getLogger("gate.gateway")
PROGRAM = "gate-gateway"


async def serve(
    config: ClusterConfig,
    config_path: Path,
    *,
    clear: bool,
    parent_pid: int | None,
    insecure_ok: bool = False,
) -> None:
    """Run the gateway until a stop signal (or the parent's death)."""
    stop = stop_event_on_signals()
    try:
        tls: ProcessTls | None = process_tls(config, None)
    except TlsError as exc:
        fail(PROGRAM, f"security.tls: {exc}", 2)
    link_tls = tls.client if tls else None
    exposure = jetstream_reasons if config.backend == "jetstream" else insecure_reasons
    insecure = [] if insecure_ok else exposure(config)
    for reason in insecure:
        log.warning("insecure: %s (--insecure-ok if this is on purpose)", reason)
    if clear:
        try:
            clear_data(config)
        except (ValueError, OSError) as exc:
            fail(PROGRAM, f"--clear: {exc}")
        log.info(
            "cleared the data of %s under %s", ", ".join(config.node_ids), config.storage.data_dir
        )
    pool = NodePool(config, tls=link_tls)
    try:
        supervisor = (
            _supervisor(config, config_path, pool, link_tls, insecure_ok)
            if config.gateway.starts_nodes
            else None
        )
    except ServerError as exc:
        fail(PROGRAM, str(exc), 2)
    health = _monitor(config, pool, supervisor)
    router = Router(config, pool, health)
    backend, ops = _backend(config, router, health)
    gateway = Gateway(config, router, health, supervisor, backend, ops)
    gateway.insecure = insecure
    runner = HttpRunner(build_gateway_app(gateway), config.gateway.idle_timeout, config.limits)
    await runner.setup()
    http = config.gateway.http
    tasks: list[asyncio.Task[None]] = []
    try:
        try:
            await web.TCPSite(
                runner,
                http.host,
                http.port,
                reuse_address=True,
                ssl_context=tls.server if tls else None,
            ).start()
        except OSError as exc:
            fail(PROGRAM, bind_error("the gateway", http.host, http.port, exc))
        if supervisor is not None:
            try:
                await supervisor.start_all()
            except NodeStartError as exc:
                fail(PROGRAM, str(exc))
        health.start()
        freeze_startup_heap()
        tasks.append(asyncio.create_task(gateway.ensure_stores()))
        if parent_pid is not None:
            tasks.append(asyncio.create_task(watch_parent(parent_pid, stop)))
        if tls is not None:
            tasks.append(tls.start_reloading())
        log.info(
            "gateway serving on %s://%s (config %s, %d nodes%s)",
            "https" if tls else "http",
            http.addr,
            config.source,
            len(config.nodes),
            ", managed" if supervisor else "",
        )
        await stop.wait()
        log.info("gateway stopping")
    finally:
        for task in tasks:
            task.cancel()
        await gateway.close()
        await health.stop()
        await runner.cleanup()
        pool.close()
        if supervisor is not None:
            await supervisor.stop_all()


def _supervisor(
    config: ClusterConfig,
    config_path: Path,
    pool: NodePool,
    link_tls: ssl.SSLContext | None,
    insecure_ok: bool,
) -> NodeSupervisor:
    """The supervisor of the config's nodes: Gate's, or (backend jetstream) nats-servers,
    launched from the config files engine/jetstream/servers.py writes."""
    if config.backend == "jetstream":
        servers = ServerLauncher(config)
        return NodeSupervisor(
            config,
            config_path,
            members=pool.members,
            command=servers.command,
            ready_path=servers.ready_path,
            preexec=servers.preexec,
        )
    return NodeSupervisor(
        config, config_path, members=pool.members, tls=link_tls, insecure_ok=insecure_ok
    )


def _backend(
    config: ClusterConfig, router: Router, health: ClusterMonitor
) -> tuple[Backend, ClusterOps]:
    """What stores the events and does the cluster operations: Gate's nodes through the
    router, or (backend jetstream) the nats-servers through their client ports
    (docs/ENGINE.md, "JetStream backend")."""
    if config.backend != "jetstream":
        return GateBackend(config, router), GateClusterOps(router)
    js = config.jetstream
    options: dict[str, Any] = {}
    if js.user is not None:
        options |= {"user": js.user, "password": js.password}
    if js.creds is not None:
        options["user_credentials"] = str(js.creds)
    if js.ca is not None:
        options["tls"] = ssl.create_default_context(cafile=str(js.ca))
    backend = JetStreamBackend(
        [f"nats://{node.tcp.connect_host}:{node.tcp.port}" for node in config.nodes],
        replicas=js.replicas,
        request_timeout=config.gateway.request_timeout,
        max_events=config.limits.max_events_per_append,
        connect_options=options,
    )
    return backend, JetStreamClusterOps(backend, lambda: health.view.get("streams", []))


def _monitor(
    config: ClusterConfig, pool: NodePool, supervisor: NodeSupervisor | None
) -> ClusterMonitor:
    """The cluster view's monitor for the config's backend."""
    managed_info = supervisor.managed_info if supervisor else None
    node_state = supervisor.state if supervisor else None
    restart_info = supervisor.restart_info if supervisor else None
    if config.backend == "jetstream":
        return JetStreamMonitor(
            config, managed_info=managed_info, node_state=node_state, restart_info=restart_info
        )
    return HealthMonitor(
        config, pool, managed_info=managed_info, node_state=node_state, restart_info=restart_info
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``gate-gateway``."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Run a Gate gateway (and, with gateway.startsNodes, its nodes) until Ctrl+C.\n"
        "The bundled config: gateway on 127.0.0.1:8899, nodes on 8090-8092 (HTTP) and\n"
        "8890-8892 (TCP), data under ./data.",
        epilog=f"example:\n  {PROGRAM} --config examples/cluster-5-nodes.yaml --clear",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", help="cluster config file (YAML) (default: the bundled 3-node config)"
    )
    parser.add_argument(
        "--clear", action="store_true", help="delete the nodes' data before starting"
    )
    parser.add_argument(
        "--insecure-ok",
        action="store_true",
        help="no warning for endpoints open to the network without a token or TLS "
        "(also security.insecureOk)",
    )
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    configure_logging()
    config_path = Path(args.config) if args.config else default_config_path()
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        fail(PROGRAM, str(exc), 2)
    if args.clear and not config.gateway.starts_nodes:
        fail(
            PROGRAM,
            "--clear deletes the data of nodes this gateway starts; gateway.startsNodes is false",
            2,
        )
    try:
        check_ports(config, nodes=False)
    except PreflightError as exc:
        fail(PROGRAM, str(exc), 2)
    try:
        # A gateway that starts its nodes makes the secret they will read; others must find it.
        config = resolve_cluster_secret(config, create=config.gateway.starts_nodes)
    except SecretError as exc:
        fail(PROGRAM, str(exc), 2)
    with contextlib.suppress(KeyboardInterrupt):
        run(
            serve(
                config,
                config_path,
                clear=args.clear,
                parent_pid=args.parent_pid,
                insecure_ok=args.insecure_ok or config.security.insecure_ok,
            )
        )


if __name__ == "__main__":
    main()
