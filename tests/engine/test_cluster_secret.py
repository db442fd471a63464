"""The cluster secret is always there at run time: from the config, or from the secret file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cluster_secret import (
    SecretError,
    cluster_key,
    resolve_cluster_secret,
    secret_path,
)
from engine.config import load_config
from engine.config_model import ClusterConfig
from tests.cluster_harness import cluster_config, write_config


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATE_CLUSTER_SECRET", raising=False)


def config_in(tmp_path: Path, **security: str) -> ClusterConfig:
    raw = cluster_config(tmp_path, extra={"security": security} if security else None)
    return load_config(write_config(tmp_path, raw))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GATE_CLUSTER_SECRET"}
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=30, env=env
    )


def test_the_first_start_creates_a_private_secret_file(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    path = secret_path(config)

    resolved = resolve_cluster_secret(config, create=True)

    assert path == tmp_path / "data" / "cluster.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = resolved.security.cluster_secret
    assert secret is not None and len(secret) == 64 and path.read_text() == secret + "\n"
    # Later starts, and the nodes, read the same secret.
    assert resolve_cluster_secret(config, create=True) == resolved
    assert resolve_cluster_secret(config, create=False) == resolved
    assert cluster_key(resolved) == secret.encode()


def test_the_file_is_created_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        resolve_cluster_secret(config_in(tmp_path), create=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "data" / "cluster.secret").stat().st_mode) == 0o600


def test_a_secret_in_the_config_wins_and_no_file_is_made(tmp_path: Path) -> None:
    config = config_in(tmp_path, clusterSecret="from-the-file")

    assert resolve_cluster_secret(config, create=True) is config
    assert not secret_path(config).exists()


def test_without_a_secret_or_the_file_nothing_starts(tmp_path: Path) -> None:
    config = config_in(tmp_path)

    with pytest.raises(SecretError) as info:
        resolve_cluster_secret(config, create=False)

    message = str(info.value)
    assert "security.clusterSecret" in message and "GATE_CLUSTER_SECRET" in message
    assert str(secret_path(config)) in message and "\n" not in message
    with pytest.raises(SecretError, match="not resolved"):
        cluster_key(config)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_secret_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    config = config_in(tmp_path)
    resolve_cluster_secret(config, create=True)
    secret_path(config).chmod(mode)

    with pytest.raises(SecretError, match=f"mode {mode:04o}.*chmod 600"):
        resolve_cluster_secret(config, create=False)


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    path = secret_path(config)
    path.parent.mkdir(parents=True)
    path.touch(0o600)

    with pytest.raises(SecretError, match="empty"):
        resolve_cluster_secret(config, create=True)


def test_gate_node_without_a_secret_exits_2_with_one_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, cluster_config(tmp_path))

    result = run("engine.node.main", "--config", str(path), "--node", "node1")

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gate-node: no cluster secret: set security.clusterSecret")
    assert str(tmp_path / "data" / "cluster.secret") in lines[0]
    assert not (tmp_path / "data" / "cluster.secret").exists()


def test_gate_node_refuses_a_world_readable_secret_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, cluster_config(tmp_path))
    secret = tmp_path / "data" / "cluster.secret"
    secret.parent.mkdir()
    secret.write_text("0123456789abcdef\n")
    secret.chmod(0o644)

    result = run("engine.node.main", "--config", str(path), "--node", "node1")

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"gate-node: {secret}: other users may read or change")


def test_a_gateway_that_starts_no_nodes_needs_the_secret_too(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path, extra={"gateway": {"startsNodes": False}})
    path = write_config(tmp_path, raw)

    result = run("engine.gateway.main", "--config", str(path))

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gate-gateway: no cluster secret: set security.clusterSecret")
