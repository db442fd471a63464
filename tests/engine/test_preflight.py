"""The checks before a cluster starts, with real sockets: a plain listener, a real gateway."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.client import LaunchError
from engine.client.launcher import EmbeddedCluster
from engine.client.preflight import (
    GatewayRunning,
    PreflightError,
    check_ports,
    check_start,
    gateway_url,
)
from engine.config import load_config
from tests.cluster_harness import RunningCluster, cluster_config, write_config


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A plain listening socket on a free loopback port: not Gate, not even HTTP."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


@pytest.mark.parametrize(
    "key", ["gateway.http.port", "nodes.node2.http.port", "nodes.node3.tcp.port"]
)
def test_a_port_held_by_another_program_is_named_with_its_key(
    tmp_path: Path, listener: socket.socket, key: str
) -> None:
    port = listener.getsockname()[1]
    raw = cluster_config(tmp_path)
    *path, last = key.split(".")
    section = raw
    for name in path:
        section = section[name]
    section[last] = port
    config = load_config(write_config(tmp_path, raw))
    started = time.monotonic()
    with pytest.raises(PreflightError) as caught:
        check_ports(config)
    assert time.monotonic() - started < 2
    assert not isinstance(caught.value, GatewayRunning)
    message = str(caught.value)
    assert f"port {port} " in message and key in message and "\n" not in message


def test_free_ports_pass(tmp_path: Path) -> None:
    check_ports(load_config(write_config(tmp_path, cluster_config(tmp_path))))


def test_a_running_gate_gateway_is_recognised(cluster: RunningCluster, tmp_path: Path) -> None:
    # A second cluster from another directory, on the first one's ports.
    raw = cluster_config(tmp_path)
    raw["gateway"]["http"]["port"] = cluster.config.gateway.http.port
    config = load_config(write_config(tmp_path, raw))
    started = time.monotonic()
    with pytest.raises(GatewayRunning) as caught:
        check_ports(config, attach="gate-repl")
    assert time.monotonic() - started < 2
    assert str(caught.value) == (
        f"a Gate gateway is already running at {cluster.url}; "
        f"attach to it with: gate-repl --connect {cluster.url}"
    )


async def test_the_launcher_refuses_before_starting_anything(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    raw = cluster_config(tmp_path)
    raw["gateway"]["http"]["port"] = cluster.config.gateway.http.port
    embedded = EmbeddedCluster(write_config(tmp_path, raw))
    with pytest.raises(LaunchError, match="already running"):
        await embedded.start()
    assert embedded.process is None
    assert not (tmp_path / "data").exists(), "nothing may be started or written"


async def test_the_launcher_says_when_its_log_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    config = write_config(tmp_path, cluster_config(tmp_path))
    embedded = EmbeddedCluster(config, log_file=tmp_path / "file" / "gateway.log")
    with pytest.raises(LaunchError, match=r"cannot write the cluster.s log .*file/gateway\.log"):
        await embedded.start()
    assert embedded.process is None


def test_a_data_dir_that_cannot_be_written(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path)
    (tmp_path / "file").write_text("")
    raw["storage"]["dataDir"] = str(tmp_path / "file" / "data")  # under a file: never writable
    with pytest.raises(
        PreflightError, match=r"cannot write the cluster.s data in .*storage\.dataDir"
    ):
        check_start(None, write_config(tmp_path, raw), attach="gate-console")


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("127.0.0.1:8899", "http://127.0.0.1:8899"),
        ("localhost:8899/", "http://localhost:8899"),
        ("https://gate.example:443", "https://gate.example:443"),
        ("http://[::1]:8899", "http://[::1]:8899"),
    ],
)
def test_connect_urls_are_accepted(given: str, url: str) -> None:
    assert gateway_url(given) == url


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("http://127.0.0.1:99999", "port must be between 1 and 65535"),
        ("http://127.0.0.1:0", "port must be between 1 and 65535"),
        ("http://127.0.0.1:x", "port must be between 1 and 65535"),
        ("ftp://127.0.0.1:8899", "must start with http:// or https://"),
        ("http://:8899", "no host"),
        ("http://127.0.0.1:8899/api", "address only"),
    ],
)
def test_bad_connect_urls_are_one_reason(given: str, reason: str) -> None:
    with pytest.raises(PreflightError, match=reason) as caught:
        gateway_url(given)
    assert str(caught.value).startswith(f"--connect {given}: ")
