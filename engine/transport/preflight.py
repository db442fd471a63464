"""Checks made before a cluster starts here, each failing in one line.

``check_ports`` makes sure a config's cluster can start here: no Gate gateway already answers on
its gateway port (a second console would otherwise drive, and stop, someone else's cluster), and
no other program holds its ports.  ``check_data_dir`` that its data directory can be written.
The gateway runs them, and so do the consoles through ``engine.client.preflight``.
"""

from __future__ import annotations

import errno
import json
import socket
import ssl
import tempfile
import urllib.request

from engine.config_model import ClusterConfig, Endpoint, TlsConfig
from engine.tls import TlsError, client_context

# What the gateway's /health names itself as, so a preflight tells Gate from anything else.
GATEWAY_SERVICE = "gate-gateway"
# No proxy from the environment: the gateway asked about is on this machine's own ports.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class PreflightError(Exception):
    """Why a cluster cannot start, or an address cannot be used, in one line."""


class GatewayRunning(PreflightError):
    """A Gate gateway already answers on the config's gateway port."""

    def __init__(self, url: str, attach: str) -> None:
        super().__init__(
            f"a Gate gateway is already running at {url}; "
            f"attach to it with: {attach} --connect {url}"
        )
        self.url = url


def _ports(config: ClusterConfig, nodes: bool) -> list[tuple[str, Endpoint]]:
    """The endpoints to check, each with the config key that sets its port."""
    ports = [("gateway.http.port", config.gateway.http)]
    if nodes and config.gateway.starts_nodes:
        for node_id in config.node_ids:
            node = config.node(node_id)
            for kind, endpoint in (("http", node.http), ("tcp", node.tcp)):
                if endpoint.enabled:
                    ports.append((f"nodes.{node_id}.{kind}.port", endpoint))
    return ports


def _taken(endpoint: Endpoint) -> bool:
    """Whether binding the endpoint fails because something listens there."""
    # SO_REUSEADDR as the servers bind, so a port in TIME_WAIT from a cluster that just
    # stopped is not reported; only a live listener makes this bind fail.
    with socket.socket(socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((endpoint.host, endpoint.port))
        except OSError as exc:
            # Other bind failures (an address not on this machine) are the servers' to report.
            return exc.errno == errno.EADDRINUSE
    return False


def is_gate_gateway(url: str, timeout: float = 1.0, tls: ssl.SSLContext | None = None) -> bool:
    """Whether ``url`` answers ``GET /health`` as a Gate gateway does (``tls`` for https)."""
    opener = (
        _OPENER
        if tls is None
        else urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls)
        )
    )
    try:
        with opener.open(f"{url}/health", timeout=timeout) as response:
            body = json.loads(response.read(4096))
    except (OSError, ValueError):
        return False
    return isinstance(body, dict) and body.get("service") == GATEWAY_SERVICE


def check_ports(
    config: ClusterConfig, *, attach: str = "gate-console", nodes: bool = True, timeout: float = 1.0
) -> None:
    """Raise :class:`GatewayRunning` or :class:`PreflightError` unless the cluster can start.

    ``attach`` is the program the message tells to ``--connect`` to a running gateway; with
    ``nodes`` false only the gateway port is checked (a gateway's supervisor reports a node that
    cannot listen, naming its log).  Takes at most ``timeout`` seconds (one ``/health``
    request) plus a bind per port.
    """
    for key, endpoint in _ports(config, nodes):
        if not _taken(endpoint):
            continue
        if key == "gateway.http.port":
            url, tls = f"http://{endpoint.addr}", None
            if config.security.tls is not None:
                url, tls = f"https://{endpoint.addr}", _gateway_client_tls(config.security.tls)
            if is_gate_gateway(url, timeout, tls):
                raise GatewayRunning(url, attach)
        raise PreflightError(
            f"port {endpoint.port} on {endpoint.host} is in use by another program; "
            f"stop it, or set {key} to a free port in a config file (--config FILE)"
        )


def _gateway_client_tls(tls: TlsConfig) -> ssl.SSLContext | None:
    """A context that trusts the config's CA (None when it cannot be read: the start says so)."""
    own = (tls.cert, tls.key) if tls.client_auth else (None, None)
    try:
        return client_context(tls.ca, *own)
    except TlsError:
        return None


def check_data_dir(config: ClusterConfig) -> None:
    """Raise :class:`PreflightError` unless the cluster's data directory can be written."""
    directory = config.storage.data_dir
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # A file, not os.access: root passes access checks on a read-only mount.
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise PreflightError(
            f"cannot write the cluster's data in {directory}: {exc.strerror or exc}"
            " (start from a writable directory, or set storage.dataDir in a config file)"
        ) from None
