"""NodeSupervisor with tiny real child processes standing in for nodes."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from engine.config_model import (
    ClusterConfig,
    Endpoint,
    GatewayConfig,
    NodeConfig,
    SecurityConfig,
    StorageConfig,
)
from engine.gateway.supervisor import NodeStartError, NodeSupervisor, clear_data
from tests.gateway.fake_node import wait_until

# The stand-in node: serves GET /health on argv[1]; argv[2] picks how it behaves.
CHILD = """
import signal, sys, time
from aiohttp import web

port, mode = int(sys.argv[1]), sys.argv[2]
print(f"child {mode} on port {port}")
if mode == "fail":
    print("boom: cannot open the database")
    sys.exit(1)
if mode == "silent":
    time.sleep(60)
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


async def say_bye(app):
    print("child stopped cleanly")

app = web.Application()
app.router.add_get("/health", lambda request: web.json_response({"status": "ok"}))
app.on_cleanup.append(say_bye)
web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=mode == "serve")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_config(tmp_path: Path, *node_ids: str, **gateway: float) -> ClusterConfig:
    nodes = tuple(
        NodeConfig(
            nid,
            i == 0,
            Endpoint("127.0.0.1", free_port()),
            Endpoint("127.0.0.1", free_port(), enabled=False),
        )
        for i, nid in enumerate(node_ids)
    )
    return ClusterConfig(
        source="test",
        nodes=nodes,
        gateway=GatewayConfig(**{"start_timeout": 10.0, "drain_timeout": 5.0, **gateway}),
        storage=StorageConfig(data_dir=tmp_path / "data"),
        security=SecurityConfig(cluster_secret="test-secret"),
    )


def child_command(
    tmp_path: Path, config: ClusterConfig, modes: dict[str, str]
) -> Callable[[str], list[str]]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    def command(node_id: str) -> list[str]:
        port = config.node(node_id).http.port
        return [sys.executable, str(script), str(port), modes.get(node_id, "serve")]

    return command


def make_supervisor(tmp_path: Path, config: ClusterConfig, **modes: str) -> NodeSupervisor:
    return NodeSupervisor(
        config, tmp_path / "cluster.yaml", command=child_command(tmp_path, config, modes)
    )


def proc_state(pid: int) -> str | None:
    """The state letter in /proc/<pid>/stat (R, S, T, Z...), None once the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def pid_of(supervisor: NodeSupervisor, node_id: str) -> int:
    managed, pid = supervisor.managed_info(node_id)
    assert managed and pid is not None
    return pid


@pytest.fixture
async def two_nodes(tmp_path: Path) -> AsyncIterator[NodeSupervisor]:
    config = make_config(tmp_path, "node1", "node2")
    supervisor = make_supervisor(tmp_path, config)
    yield supervisor
    await supervisor.stop_all()


async def test_start_all_waits_until_every_node_answers(two_nodes: NodeSupervisor) -> None:
    assert two_nodes.state("node1") == "stopped"
    assert two_nodes.managed_info("node1") == (True, None)

    await two_nodes.start_all()

    pids = [pid_of(two_nodes, n) for n in ("node1", "node2")]
    assert [two_nodes.state(n) for n in ("node1", "node2")] == ["running", "running"]
    assert all(proc_state(pid) in ("R", "S") for pid in pids)
    log_text = two_nodes.log_file("node2").read_text()
    assert "gate supervisor: starting node2" in log_text
    assert "child serve on port" in log_text

    await two_nodes.stop_all()

    assert [two_nodes.state(n) for n in ("node1", "node2")] == ["stopped", "stopped"]
    assert [proc_state(pid) for pid in pids] == [None, None]  # reaped, no zombies
    await two_nodes.stop_all()  # stopping stopped nodes is fine


async def test_a_node_that_exits_at_start_is_reported(tmp_path: Path) -> None:
    config = make_config(tmp_path, "node1", "node2")
    supervisor = make_supervisor(tmp_path, config, node2="fail")

    with pytest.raises(NodeStartError) as caught:
        await supervisor.start_all()

    err = caught.value
    log_file = tmp_path / "data" / "logs" / "node2.log"
    assert (err.node_id, err.log_file, err.last_line) == (
        "node2",
        log_file,
        "boom: cannot open the database",
    )
    assert str(err) == (
        f"node node2 failed to start: exited with code 1 (log: {log_file}); "
        "last log line: boom: cannot open the database"
    )
    assert supervisor.state("node1") == "stopped"  # the others were stopped first


async def test_a_node_that_never_answers_is_reported(tmp_path: Path) -> None:
    config = make_config(tmp_path, "node1", start_timeout=1.0)
    supervisor = make_supervisor(tmp_path, config, node1="silent")

    with pytest.raises(NodeStartError, match=r"did not answer GET /health on .* within 1 s"):
        await supervisor.start_all()

    assert supervisor.state("node1") == "stopped"
    assert "\n" not in str(NodeStartError("node1", Path("x.log"), "why", "last"))


async def test_a_taken_port_is_reported_before_launching(tmp_path: Path) -> None:
    config = make_config(tmp_path, "node1", "node2")
    supervisor = make_supervisor(tmp_path, config)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", config.node("node2").http.port))
        squatter.listen()

        with pytest.raises(NodeStartError, match=r"HTTP port 127\.0\.0\.1:\d+ is already in use"):
            await supervisor.start_all()

    assert supervisor.state("node1") == "stopped"  # launched before node2 failed, then stopped
    assert supervisor.managed_info("node2") == (True, None)


async def test_stop_sends_sigterm(two_nodes: NodeSupervisor) -> None:
    await two_nodes.start("node1")
    pid = pid_of(two_nodes, "node1")
    assert two_nodes.state("node2") == "stopped"

    await two_nodes.stop("node1")

    assert two_nodes.state("node1") == "stopped"
    assert proc_state(pid) is None
    # Only SIGTERM (aiohttp's graceful shutdown) lets the child run its cleanup.
    assert two_nodes.log_file("node1").read_text().endswith("child stopped cleanly\n")


async def test_kill_and_start_again(two_nodes: NodeSupervisor) -> None:
    await two_nodes.start("node1")
    first = pid_of(two_nodes, "node1")

    two_nodes.kill("node1")

    assert two_nodes.state("node1") == "stopped"
    assert two_nodes.managed_info("node1") == (True, None)
    await wait_until(lambda: proc_state(first) is None)  # reaped by the event loop
    await two_nodes.start("node1")
    assert pid_of(two_nodes, "node1") != first
    assert two_nodes.state("node1") == "running"


async def test_restart_replaces_the_process(two_nodes: NodeSupervisor) -> None:
    await two_nodes.start("node1")
    first = pid_of(two_nodes, "node1")
    await two_nodes.start("node1")  # already running: nothing happens
    assert pid_of(two_nodes, "node1") == first

    await two_nodes.restart("node1")

    assert pid_of(two_nodes, "node1") != first
    assert proc_state(first) is None


async def test_pause_resume_and_stop_a_paused_node(two_nodes: NodeSupervisor) -> None:
    await two_nodes.start("node1")
    pid = pid_of(two_nodes, "node1")

    two_nodes.pause("node1")
    assert two_nodes.state("node1") == "paused"
    await wait_until(lambda: proc_state(pid) == "T")

    two_nodes.resume("node1")
    assert two_nodes.state("node1") == "running"
    await wait_until(lambda: proc_state(pid) in ("R", "S"))

    two_nodes.pause("node1")
    await wait_until(lambda: proc_state(pid) == "T")
    await two_nodes.stop("node1")  # resumed first, so SIGTERM gets through
    assert proc_state(pid) is None
    assert two_nodes.state("node1") == "stopped"


async def test_stop_all_kills_a_node_that_ignores_sigterm(tmp_path: Path) -> None:
    config = make_config(tmp_path, "node1", "node2", drain_timeout=0.5)
    supervisor = make_supervisor(tmp_path, config, node2="ignore-term")
    await supervisor.start_all()
    pids = [pid_of(supervisor, n) for n in ("node1", "node2")]
    loop = asyncio.get_running_loop()

    started = loop.time()
    await supervisor.stop_all()

    assert loop.time() - started >= 0.5
    assert [proc_state(pid) for pid in pids] == [None, None]
    assert "stopped cleanly" in supervisor.log_file("node1").read_text()
    assert "stopped cleanly" not in supervisor.log_file("node2").read_text()
    assert [supervisor.state(n) for n in ("node1", "node2")] == ["stopped", "stopped"]


async def test_an_unexpected_exit_is_noticed(
    two_nodes: NodeSupervisor, caplog: pytest.LogCaptureFixture
) -> None:
    await two_nodes.start("node1")
    pid = pid_of(two_nodes, "node1")

    with caplog.at_level(logging.WARNING, logger="gate.supervisor"):
        os.kill(pid, signal.SIGKILL)
        await wait_until(lambda: two_nodes.state("node1") == "exited")

    assert two_nodes.managed_info("node1") == (True, None)
    log_file = two_nodes.log_file("node1")
    assert caplog.messages == [f"node node1 exited unexpectedly with code -9 (log: {log_file})"]
    await two_nodes.start("node1")
    assert two_nodes.state("node1") == "running"


async def test_unknown_nodes_raise_key_error(two_nodes: NodeSupervisor) -> None:
    for call in (two_nodes.state, two_nodes.managed_info, two_nodes.kill, two_nodes.pause):
        with pytest.raises(KeyError):
            call("node9")
    with pytest.raises(KeyError):
        await two_nodes.start("node9")
    with pytest.raises(KeyError):
        await two_nodes.stop("node9")


def test_clear_data_deletes_node_data_and_logs(tmp_path: Path) -> None:
    config = make_config(tmp_path, "node1", "node2")
    data = tmp_path / "data"
    paths = ("node1/raft.db", "node2/stores/reg_gh.db", "logs/node1.log", "keep.txt")
    for path in (*paths, "cluster.secret"):
        (data / path).parent.mkdir(parents=True, exist_ok=True)
        (data / path).write_text("x")

    clear_data(config)
    clear_data(config)  # nothing left to delete is fine

    remaining = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
    assert remaining == ["cluster.secret", "keep.txt", "logs"], "the cluster keeps its secret"


@pytest.mark.parametrize("where", ["root", "home"])
def test_clear_data_refuses_root_and_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    home = tmp_path / "home"
    (home / "node1").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    data_dir = Path("/") if where == "root" else home
    config = ClusterConfig(
        source="test",
        nodes=make_config(tmp_path, "node1").nodes,
        storage=StorageConfig(data_dir=data_dir),
    )

    with pytest.raises(ValueError, match="refusing to clear data"):
        clear_data(config)

    assert (home / "node1").is_dir()
