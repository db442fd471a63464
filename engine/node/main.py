"""``gate-node --config FILE --node ID``: run one node of a cluster until SIGINT/SIGTERM.

A node added at run time (``POST /api/cluster/nodes``) is not in the config: it is started with
``--http HOST:PORT --tcp HOST:PORT``, and ``--peer ID=HOST:PORT`` for each member the config does
not list (its TCP endpoint), so it can answer a leader the config does not know.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
from dataclasses import replace
from typing import Any

from aiohttp import web

from engine.cli_support import (
    bind_error,
    configure_logging,
    fail,
    run,
    stop_event_on_signals,
    watch_parent,
)
from engine.cluster_secret import SecretError, resolve_cluster_secret
from engine.config import ConfigError, load_config
from engine.config_model import ClusterConfig, Endpoint, NodeConfig
from engine.exposure import insecure_reasons
from engine.heap import freeze_startup_heap
from engine.node.host import RaftHost
from engine.node.http_app import build_node_app
from engine.node.repair import DAMAGED, RepairNeeded, refusal, set_aside
from engine.node.tcp_server import NodeTcpServer
from engine.tls import ProcessTls, TlsError, process_tls
from engine.transport.http_server import HttpRunner

log = logging.getLogger("gate.node")
PROGRAM = "gate-node"
# Seconds the node's HTTP requests in flight get to finish when it stops or restarts for a
# repair (aiohttp waits 60 s by default: a repairing node was unreachable that long).
HTTP_SHUTDOWN_GRACE = 2.0


async def serve(
    config: ClusterConfig,
    node_id: str,
    parent_pid: int | None = None,
    *,
    joining: NodeConfig | None = None,
    peer_hints: dict[str, Endpoint] | None = None,
    insecure_ok: bool = False,
    repair: bool = False,
) -> None:
    """Run the node until a stop signal (``joining``: its endpoints, when the config does not
    list it).  A node whose data is damaged sets it aside and runs again on an empty
    directory, rebuilding it from the leader (engine/node/repair.py); with ``repair`` it does
    so even under ``storage.repair: manual``."""
    if repair:
        config = replace(config, storage=replace(config.storage, repair="auto"))
    node = joining or config.node(node_id)
    try:
        tls = process_tls(config, node_id)
    except TlsError as exc:
        fail(PROGRAM, f"security.tls: {exc}", 2)
    for reason in [] if insecure_ok else insecure_reasons(config, node):
        log.warning("insecure: %s (--insecure-ok if this is on purpose)", reason)
    stop = stop_event_on_signals()
    watcher = asyncio.create_task(watch_parent(parent_pid, stop)) if parent_pid else None
    reloader = tls.start_reloading() if tls is not None else None
    try:
        first = True
        while (damage := await _serve_once(config, node, stop, first, peer_hints, tls)) is not None:
            set_aside(config.node_data_dir(node_id), damage)
            first = False
    finally:
        for task in (watcher, reloader):
            if task is not None:
                task.cancel()


async def _serve_once(
    config: ClusterConfig,
    node: NodeConfig,
    stop: asyncio.Event,
    first: bool,
    peer_hints: dict[str, Endpoint] | None,
    tls: ProcessTls | None,
) -> str | None:
    """Run one host over the node's data until a stop signal (None) or until its data is found
    damaged (what is damaged, to set aside: the caller runs a new host)."""
    node_id = node.node_id
    link_tls = tls.client if tls else None
    try:
        host = RaftHost(config, node_id, peer_hints=peer_hints, link_tls=link_tls)
    except RepairNeeded as exc:
        if config.storage.repair == "manual":
            why = "storage.repair is manual"
            fail(PROGRAM, refusal(node_id, config.source, str(exc), why), DAMAGED)
        log.error("node %s: %s; rebuilding its data from the leader", node_id, exc)
        return str(exc)
    tcp = NodeTcpServer(host, tls.server if tls else None)
    runner: web.AppRunner | None = None
    try:
        try:
            await tcp.start(node.tcp.host, node.tcp.port)
        except OSError as exc:
            fail(PROGRAM, bind_error(f"{node_id} TCP", node.tcp.host, node.tcp.port, exc))
        if node.http.enabled:
            runner = HttpRunner(build_node_app(host), config.gateway.idle_timeout, config.limits)
            await runner.setup()
            try:
                await web.TCPSite(
                    runner,
                    node.http.host,
                    node.http.port,
                    reuse_address=True,
                    ssl_context=tls.server if tls else None,
                    shutdown_timeout=HTTP_SHUTDOWN_GRACE,
                ).start()
            except OSError as exc:
                fail(PROGRAM, bind_error(f"{node_id} HTTP", node.http.host, node.http.port, exc))
        await host.start()
        if first:
            freeze_startup_heap()
        log.info(
            "node %s serving: HTTP %s, TCP %s, data %s",
            node_id,
            node.http.addr if node.http.enabled else "off",
            node.tcp.addr,
            config.node_data_dir(node_id),
        )
        ends: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(stop.wait()),
            host.failure,
            host.repair_requested,
        }
        await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        if host.failure.done():
            # The log cannot be written or an entry applied: end now, without the clean-up
            # below, which would record a durable point past the failure.
            os._exit(host.failure.result())
        if host.repair_requested.done():
            log.info("node %s setting its data aside to rebuild it", node_id)
            return host.repair_requested.result()
        log.info("node %s stopping", node_id)
        return None
    finally:
        await tcp.stop()
        if runner is not None:
            await runner.cleanup()
        await host.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``gate-node``."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Run one node of a Gate cluster until Ctrl+C, for a gateway that does\n"
        "not start its nodes (gateway.startsNodes: false). The node needs the cluster's\n"
        "secret: clusterSecret, GATE_CLUSTER_SECRET, or cluster.secret (mode 0600) in its\n"
        "dataDir.",
        epilog=f"example:\n  {PROGRAM} --config cluster.yaml --node node2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--config", required=True, help="cluster config file (YAML) (required, no default)"
    )
    parser.add_argument(
        "--node", required=True, help="id of the node to run, as in the config (required)"
    )
    parser.add_argument(
        "--repair",
        action="store_true",
        help="if its data is damaged, rebuild it from the leader even with storage.repair: "
        f"manual (else it exits with status {DAMAGED})",
    )
    parser.add_argument(
        "--insecure-ok",
        action="store_true",
        help="no warning for endpoints open to the network without a token or TLS "
        "(also security.insecureOk)",
    )
    parser.add_argument(
        "--http", metavar="HOST:PORT", help="HTTP endpoint of a node the config does not list"
    )
    parser.add_argument(
        "--tcp", metavar="HOST:PORT", help="TCP endpoint of a node the config does not list"
    )
    parser.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="ID=HOST:PORT",
        help="TCP endpoint of a member the config does not list (repeatable)",
    )
    parser.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    configure_logging()
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        fail(PROGRAM, str(exc), 2)
    joining: NodeConfig | None = None
    try:
        peer_hints = dict(_peer(p) for p in args.peer)
        if args.node not in config.node_ids:
            if not (args.http and args.tcp):
                raise ValueError(
                    f"{config.source}: no node {args.node!r} (nodes: "
                    f"{', '.join(config.node_ids)}); a node added at run time needs --http "
                    "and --tcp"
                )
            joining = NodeConfig(args.node, False, _endpoint(args.http), _endpoint(args.tcp))
    except ValueError as exc:
        fail(PROGRAM, str(exc), 2)
    try:
        config = resolve_cluster_secret(config, create=False)
    except SecretError as exc:
        fail(PROGRAM, str(exc), 2)
    with contextlib.suppress(KeyboardInterrupt):
        run(
            serve(
                config,
                args.node,
                args.parent_pid,
                joining=joining,
                peer_hints=peer_hints,
                insecure_ok=args.insecure_ok or config.security.insecure_ok,
                repair=args.repair,
            )
        )


def _endpoint(text: str) -> Endpoint:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return Endpoint(host, int(port))


def _peer(text: str) -> tuple[str, Endpoint]:
    node_id, sep, address = text.partition("=")
    if not sep or not node_id:
        raise ValueError(f"--peer {text!r} is not ID=HOST:PORT")
    return node_id, _endpoint(address)


if __name__ == "__main__":
    main()
