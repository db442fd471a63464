"""gate-repl's command line: the embedded cluster it starts and stops, and one-line failures."""

from __future__ import annotations

import socket
import tomllib
from pathlib import Path

import pytest

from console.repl import main as repl_main
from tests.cluster_harness import cluster_config, free_ports, write_config
from tests.console.script_runs import ROOT, assert_clean, run_script


def test_gate_repl_is_a_script_entry() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["gate-repl"] == "console.repl.main:main"


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def test_embedded_cluster_starts_and_stops_with_the_console(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path)
    config = write_config(tmp_path, raw)
    run = await run_script(["--config", str(config), "--clear"], "14\n15\n", tmp_path)
    assert_clean(run)
    gateway_port = raw["gateway"]["http"]["port"]
    assert f"Gateway: http://127.0.0.1:{gateway_port} (started by this console)" in run.stdout
    assert "Leader: node1 (term" in run.stdout
    assert "🛑 Stopping the cluster this console started…" in run.stdout
    ports = [gateway_port] + [n[k]["port"] for n in raw["nodes"].values() for k in ("http", "tcp")]
    assert all(_port_free(port) for port in ports), "the console left its cluster running"


async def test_failures_to_start_are_one_line(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    run = await run_script(["--connect", f"http://127.0.0.1:{port}"], "15\n", tmp_path)
    assert run.returncode == 1
    assert run.stderr == f"gate-repl: cannot reach a Gate gateway at http://127.0.0.1:{port}\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: {node1: {role: boss}}\n")
    run = await run_script(["--config", str(bad)], "15\n", tmp_path)
    assert run.returncode == 2 and run.stderr.startswith("gate-repl: ")
    assert len(run.stderr.splitlines()) == 1 and "bad.yaml" in run.stderr


def test_ctrl_c_while_the_config_loads_ends_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue #15's monkey: Ctrl+C before the shell ran (the config loading) was a traceback.
    def interrupted(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(repl_main, "check_start", interrupted)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert repl_main.main(["--config", str(tmp_path / "cluster.yaml")]) == 130
    assert capsys.readouterr() == ("", "")
