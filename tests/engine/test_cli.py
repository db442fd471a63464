"""The engine's programs fail with one clear line on bad config or a taken port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from tests.cluster_harness import cluster_config, write_config


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout
    )


def test_gateway_rejects_a_bad_config_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "nodes:\n  node1:\n    role: master\n"
        "    http: {host: 127.0.0.1, port: 80800}\n    tcp: {host: 127.0.0.1, port: 8890}\n"
    )
    result = run("engine.gateway.main", "--config", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "bad.yaml" in lines[0] and "nodes.node1.http.port" in lines[0]


def test_gateway_reports_a_missing_file(tmp_path: Path) -> None:
    result = run("engine.gateway.main", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_gateway_reports_a_taken_port(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        raw["gateway"]["http"]["port"] = port
        path = write_config(tmp_path, raw)
        result = run("engine.gateway.main", "--config", str(path))
    assert result.returncode == 2
    assert result.stderr == (
        f"gate-gateway: port {port} on 127.0.0.1 is in use by another program; stop it, "
        "or set gateway.http.port to a free port in a config file (--config FILE)\n"
    )


def test_gateway_names_a_node_that_fails_to_start(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        raw["nodes"]["node2"]["tcp"]["port"] = taken.getsockname()[1]
        path = write_config(tmp_path, raw)
        result = run("engine.gateway.main", "--config", str(path), timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gate-gateway:") and "node2" in last and "node2.log" in last


def test_node_rejects_an_unknown_node_id(tmp_path: Path) -> None:
    path = write_config(tmp_path, cluster_config(tmp_path))
    result = run("engine.node.main", "--config", str(path), "--node", "node7")
    assert result.returncode == 2
    assert "node7" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_elysiangate_example_loads() -> None:
    result = run("engine.config", "examples/elysiangate.yaml")
    assert result.returncode == 0, result.stderr
