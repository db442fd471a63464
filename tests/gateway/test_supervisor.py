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
from typing import Any

import pytest

from engine.config_model import (
    ClusterConfig,
    Endpoint,
    GatewayConfig,
    NodeConfig,
    SecurityConfig,
    StorageConfig,
)
from engine.gateway.supervisor import (
    Backoff,
    NodeStartError,
    NodeSupervisor,
    clear_data,
    exit_words,
)
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


def make_config(tmp_path: Path, *node_ids: str, **gateway: Any) -> ClusterConfig:
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
    except (FileNotFoundError, ProcessLookupError):  # reaped between the open and the read
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


async def test_an_unexpected_exit_is_noticed_and_left_alone_with_restart_never(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps = Sleeps()
    config = make_config(tmp_path, "node1", restart="never")
    supervisor = make_supervisor(tmp_path, config, sleep=sleeps)
    await supervisor.start("node1")
    pid = pid_of(supervisor, "node1")
    try:
        with caplog.at_level(logging.WARNING, logger="gate.supervisor"):
            os.kill(pid, signal.SIGKILL)
            await wait_until(lambda: supervisor.state("node1") == "exited")

        assert supervisor.managed_info("node1") == (True, None)
        assert supervisor.restart_info("node1") == (0, -9)
        assert sleeps.delays == []
        log_file = supervisor.log_file("node1")
        assert caplog.messages == [f"node node1 exited unexpectedly (signal 9) (log: {log_file})"]
        await supervisor.start("node1")
        assert supervisor.state("node1") == "running"
    finally:
        await supervisor.stop_all()


# -- restarts (gateway.restart: on-failure) -------------------------------------------------


def test_backoff_doubles_to_its_cap_and_starts_over_after_a_long_run() -> None:
    backoff = Backoff()
    delays: list[float] = []
    previous: float | None = None
    for _ in range(9):
        previous = backoff.delay(previous, up_for=1.0)
        delays.append(previous)

    assert delays == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 10.0]
    assert backoff.delay(10.0, up_for=59.9) == 10.0
    assert backoff.delay(10.0, up_for=60.0) == 0.2  # a minute up: a new crash starts over
    assert Backoff(first=1.0, cap=3.0, reset_after=5.0).delay(2.0, up_for=0.0) == 3.0


def test_exit_words() -> None:
    assert [exit_words(code) for code in (-9, -15, 1, 0)] == [
        "signal 9",
        "signal 15",
        "code 1",
        "code 0",
    ]


class Sleeps:
    """The supervisor's sleep: notes each delay and returns at once, or, from call
    ``block_from`` on, waits until cancelled (a restart held in its delay)."""

    def __init__(self, block_from: int | None = None) -> None:
        self.delays: list[float] = []
        self.block_from = block_from
        self.hook: Callable[[int], None] | None = None  # called with each call's number

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.hook is not None:
            self.hook(len(self.delays))
        if self.block_from is not None and len(self.delays) >= self.block_from:
            await asyncio.Event().wait()
        await asyncio.sleep(0)


def restarting_supervisor(
    tmp_path: Path,
    sleeps: Sleeps,
    *,
    clock: Callable[[], float] = lambda: 0.0,
    modes: Callable[[int], str] = lambda launch: "serve",
    config: ClusterConfig | None = None,
) -> tuple[NodeSupervisor, list[str]]:
    """A one-node supervisor (restart: on-failure); ``modes(n)`` says how launch n behaves.
    Also returns the modes launched so far."""
    config = config or make_config(tmp_path, "node1")
    assert config.gateway.restart == "on-failure"  # the default
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    launched: list[str] = []

    def command(node_id: str) -> list[str]:
        launched.append(modes(len(launched) + 1))
        port = config.node(node_id).http.port
        return [sys.executable, str(script), str(port), launched[-1]]

    supervisor = NodeSupervisor(
        config, tmp_path / "cluster.yaml", command=command, clock=clock, sleep=sleeps
    )
    return supervisor, launched


async def test_a_node_killed_from_outside_is_restarted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps = Sleeps()
    supervisor, launched = restarting_supervisor(tmp_path, sleeps)
    await supervisor.start("node1")
    first = pid_of(supervisor, "node1")
    try:
        with caplog.at_level(logging.INFO, logger="gate.supervisor"):
            os.kill(first, signal.SIGKILL)
            await wait_until(lambda: supervisor.restart_info("node1") == (1, -9))

        assert supervisor.state("node1") == "running"
        assert pid_of(supervisor, "node1") != first
        assert sleeps.delays == [0.2]
        assert launched == ["serve", "serve"]
        log_file = supervisor.log_file("node1")
        assert [m for m in caplog.messages if not m.startswith("started node")] == [
            f"node node1 exited unexpectedly (signal 9); restarting it in 0.2 s (log: {log_file})",
            "restarted node node1 (restart 1)",
        ]
    finally:
        await supervisor.stop_all()


async def test_a_node_that_keeps_crashing_waits_longer_each_time(tmp_path: Path) -> None:
    # Launched once for good, then every restart exits at once with code 1.
    sleeps = Sleeps(block_from=8)
    supervisor, launched = restarting_supervisor(
        tmp_path, sleeps, modes=lambda n: "serve" if n == 1 else "fail"
    )
    await supervisor.start("node1")
    try:
        os.kill(pid_of(supervisor, "node1"), signal.SIGKILL)
        await wait_until(lambda: len(sleeps.delays) == 8, within=30)

        assert sleeps.delays == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]
        assert supervisor.restart_info("node1") == (7, 1)
        assert supervisor.state("node1") == "exited"

        await supervisor.stop("node1")  # calls off the restart waiting out its delay

        assert supervisor.state("node1") == "stopped"
        await asyncio.sleep(0)
        assert len(launched) == 8
        assert supervisor.managed_info("node1") == (True, None)
    finally:
        await supervisor.stop_all()


async def test_a_minute_up_starts_the_backoff_over(tmp_path: Path) -> None:
    now = [0.0]
    sleeps = Sleeps()
    supervisor, _ = restarting_supervisor(tmp_path, sleeps, clock=lambda: now[0])
    await supervisor.start("node1")
    try:
        for restarts, up_for in enumerate((1.0, 1.0, 60.0, 59.0), start=1):
            pid = pid_of(supervisor, "node1")
            now[0] += up_for
            os.kill(pid, signal.SIGKILL)
            # Awaited at once, so the loop variable cannot change under the lambda.
            await wait_until(lambda: supervisor.restart_info("node1")[0] == restarts)  # noqa: B023
            await wait_until(lambda: supervisor.state("node1") == "running")

        assert sleeps.delays == [0.2, 0.4, 0.2, 0.4]
    finally:
        await supervisor.stop_all()


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_a_node_stopped_or_killed_through_the_supervisor_stays_down(
    tmp_path: Path, how: str
) -> None:
    sleeps = Sleeps()
    supervisor, launched = restarting_supervisor(tmp_path, sleeps)
    await supervisor.start("node1")
    pid = pid_of(supervisor, "node1")
    try:
        if how == "stop":
            await supervisor.stop("node1")
        else:
            supervisor.kill("node1")
        await wait_until(lambda: proc_state(pid) is None)  # reaped: its watcher has run
        await asyncio.sleep(0)

        assert (sleeps.delays, launched) == ([], ["serve"])
        assert supervisor.state("node1") == "stopped"
        assert supervisor.restart_info("node1") == (0, None)
    finally:
        await supervisor.stop_all()


@pytest.mark.parametrize("how", ["stop", "kill", "stop_all"])
async def test_stopping_a_node_waiting_for_its_restart_calls_the_restart_off(
    tmp_path: Path, how: str
) -> None:
    sleeps = Sleeps(block_from=1)
    supervisor, launched = restarting_supervisor(tmp_path, sleeps)
    await supervisor.start("node1")
    pid = pid_of(supervisor, "node1")
    try:
        os.kill(pid, signal.SIGKILL)
        await wait_until(lambda: sleeps.delays == [0.2])
        assert supervisor.state("node1") == "exited"

        if how == "kill":
            supervisor.kill("node1")
        else:
            await getattr(supervisor, how)(*(["node1"] if how == "stop" else []))
        await asyncio.sleep(0)

        assert supervisor.state("node1") == "stopped"
        assert launched == ["serve"]
        assert proc_state(pid) is None
    finally:
        await supervisor.stop_all()


async def test_a_start_during_the_delay_replaces_the_restart(tmp_path: Path) -> None:
    sleeps = Sleeps(block_from=1)
    supervisor, launched = restarting_supervisor(tmp_path, sleeps)
    await supervisor.start("node1")
    try:
        os.kill(pid_of(supervisor, "node1"), signal.SIGKILL)
        await wait_until(lambda: sleeps.delays == [0.2])

        await supervisor.start("node1")
        await asyncio.sleep(0)

        assert supervisor.state("node1") == "running"
        assert launched == ["serve", "serve"]
        assert supervisor.restart_info("node1") == (0, -9)  # started, not restarted
        # The node crashes again later: restarts resume, the backoff doubling on.
        os.kill(pid_of(supervisor, "node1"), signal.SIGKILL)
        await wait_until(lambda: len(sleeps.delays) == 2)
        assert sleeps.delays == [0.2, 0.4]
    finally:
        await supervisor.stop_all()


async def test_a_restart_that_finds_its_port_taken_tries_again_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps = Sleeps()
    config = make_config(tmp_path, "node1")
    supervisor, launched = restarting_supervisor(tmp_path, sleeps, config=config)
    port = config.node("node1").http.port
    await supervisor.start("node1")
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def squat(call: int) -> None:
        # During the first delay the port is taken; during the second it is free again.
        if call == 1:
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
        else:
            squatter.close()

    sleeps.hook = squat
    try:
        with caplog.at_level(logging.WARNING, logger="gate.supervisor"):
            os.kill(pid_of(supervisor, "node1"), signal.SIGKILL)
            await wait_until(lambda: supervisor.restart_info("node1")[0] == 1)

        assert sleeps.delays == [0.2, 0.4]
        assert caplog.messages[1] == (
            f"node node1 could not be restarted (HTTP port 127.0.0.1:{port} is already in use); "
            f"trying again in 0.4 s (log: {supervisor.log_file('node1')})"
        )
        assert launched == ["serve", "serve"]
        assert supervisor.state("node1") == "running"
    finally:
        squatter.close()
        await supervisor.stop_all()


async def test_unknown_nodes_raise_key_error(two_nodes: NodeSupervisor) -> None:
    for call in (two_nodes.kill, two_nodes.pause):
        with pytest.raises(KeyError):
            call("node9")
    # The health callbacks answer for a member not managed (yet): one just learned.
    assert two_nodes.state("node9") == "stopped"
    assert two_nodes.managed_info("node9") == (False, None)
    assert two_nodes.restart_info("node9") == (0, None)
    with pytest.raises(KeyError):
        await two_nodes.start("node9")
    with pytest.raises(KeyError):
        await two_nodes.stop("node9")


def test_clear_data_deletes_node_data_and_logs(tmp_path: Path) -> None:
    config = make_config(tmp_path, "node1", "node2")
    data = tmp_path / "data"
    # node4 was added at run time: the config does not list it, its Raft log names it.
    paths = ("node1/raft.db", "node2/stores/reg_gh.db", "logs/node1.log", "keep.txt")
    paths += ("node4/raft.db", "logs/node4.log", "other/notes.txt")
    for path in (*paths, "cluster.secret"):
        (data / path).parent.mkdir(parents=True, exist_ok=True)
        (data / path).write_text("x")

    clear_data(config)
    clear_data(config)  # nothing left to delete is fine

    remaining = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
    assert remaining == ["cluster.secret", "keep.txt", "logs", "other", "other/notes.txt"]


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
