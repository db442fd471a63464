"""Starting the programs where they cannot work: one line, the right exit status, no traceback.

Every case runs the real command as a subprocess; ``gate-console`` gets a pty, since it only
runs at a terminal.  Issue #15: a second console must not take over another cluster, a
read-only directory or a bad ``--connect`` must not be a traceback, and no terminal must not
make ``gate-console`` spin.
"""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster_harness import RunningCluster, cluster_config, free_ports, write_config
from tests.console.script_runs import ROOT
from tests.small_disk import MB, small_disk

MODULES = {
    "gate-console": "console.tui.main",
    "gate-repl": "console.repl",
    "gate-produce": "domain.greenhouse.produce_cli",
    "gate-gateway": "engine.gateway.main",
    "gate-node": "engine.node.main",
}


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def one_line(self, program: str, code: int) -> str:
        """The one line on stderr, after checking it is all there is and the exit status."""
        assert "Traceback" not in self.stdout + self.stderr, self.stderr
        assert self.returncode == code, (self.returncode, self.stdout[-1000:], self.stderr)
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        assert lines[0].startswith(f"{program}: "), lines[0]
        return lines[0]


def run(
    program: str,
    *args: str,
    cwd: Path,
    stdin: str = "",
    tty: bool = False,
    timeout: float = 30.0,
    xdg: Path | None = None,
) -> Run:
    """Run ``program`` from ``cwd``; with ``tty``, stdin and stdout are a pty (stderr a pipe)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GATE_AUTH_TOKEN")}
    env["PYTHONPATH"] = str(ROOT)
    # The shell's history and log: never in the home.
    env["XDG_DATA_HOME"] = str(xdg or cwd.parent / "xdg")
    cmd = [sys.executable, "-m", MODULES[program], *args]
    started = time.monotonic()
    if not tty:
        done = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd
        )
        return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            cmd, stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env, cwd=cwd
        )
    finally:
        os.close(slave)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    finally:
        os.close(master)
    return Run(process.returncode, "", err.decode(), time.monotonic() - started)


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """A fresh working directory, as a second user's would be."""
    directory = tmp_path / "here"
    directory.mkdir()
    return directory


def _config(directory: Path, **ports: int) -> Path:
    """A cluster config on free ports, data under ``./data`` of the working directory."""
    raw: dict[str, Any] = cluster_config(directory)
    raw["storage"]["dataDir"] = "./data"
    for key, port in ports.items():
        *path, last = key.split("__")
        section = raw
        for name in path:
            section = section[name]
        section[last] = port
    return write_config(directory.parent, raw)


# -- a second console -----------------------------------------------------------------------


@pytest.mark.parametrize("program", ["gate-console", "gate-repl"])
def test_a_second_console_refuses_to_take_over_a_running_cluster(
    cluster: RunningCluster, here: Path, program: str
) -> None:
    config = _config(here, gateway__http__port=cluster.config.gateway.http.port)
    result = run(program, "--config", str(config), cwd=here, tty=program == "gate-console")
    line = result.one_line(program, 2)
    assert line == (
        f"{program}: a Gate gateway is already running at {cluster.url}; "
        f"attach to it with: {program} --connect {cluster.url}"
    )
    assert result.seconds < 5  # the check itself is under 2 s; the rest is Python starting
    assert not (here / "data").exists(), "it started something"


@pytest.mark.parametrize("program", ["gate-console", "gate-repl"])
def test_a_port_held_by_another_program_is_named(here: Path, program: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _config(here, nodes__node2__tcp__port=port)
        result = run(program, "--config", str(config), cwd=here, tty=program == "gate-console")
    line = result.one_line(program, 2)
    assert f"port {port} " in line and "nodes.node2.tcp.port" in line
    assert result.seconds < 5
    assert not (here / "data").exists()


def test_the_gateway_recognises_a_running_gateway(cluster: RunningCluster, here: Path) -> None:
    config = _config(here, gateway__http__port=cluster.config.gateway.http.port)
    line = run("gate-gateway", "--config", str(config), cwd=here).one_line("gate-gateway", 2)
    assert f"a Gate gateway is already running at {cluster.url}" in line


# -- a read-only working directory ----------------------------------------------------------


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A read-only directory: a tmpfs mounted ``ro`` (root ignores file modes)."""
    with small_disk(tmp_path / "ro", MB, read_only=True) as directory:
        yield directory


@pytest.mark.parametrize("program", ["gate-console", "gate-repl", "gate-gateway"])
def test_a_read_only_directory_is_one_line(read_only: Path, program: str) -> None:
    config = _config(read_only)
    result = run(program, "--config", str(config), cwd=read_only, tty=program == "gate-console")
    line = result.one_line(program, 2)
    assert "Read-only file system" in line and str(read_only / "data") in line


def test_gate_repl_with_a_read_only_data_home_is_one_line(
    cluster: RunningCluster, read_only: Path, here: Path
) -> None:
    result = run("gate-repl", "--connect", cluster.url, cwd=here, xdg=read_only, stdin="15\n")
    assert result.one_line("gate-repl", 1) == (
        f"gate-repl: cannot create {read_only / 'gate'}: Read-only file system (set XDG_DATA_HOME)"
    )


def test_gate_produce_in_a_read_only_directory_is_one_line(read_only: Path) -> None:
    (port,) = free_ports(1)
    result = run("gate-produce", "--connect", f"127.0.0.1:{port}", cwd=read_only)
    assert result.one_line("gate-produce", 1) == (
        f"gate-produce: cannot reach the gateway at http://127.0.0.1:{port}"
    )


# -- --connect ------------------------------------------------------------------------------


@pytest.mark.parametrize("program", ["gate-console", "gate-repl", "gate-produce"])
def test_a_port_out_of_range_is_one_line(here: Path, program: str) -> None:
    result = run(
        program, "--connect", "http://127.0.0.1:99999", cwd=here, tty=program == "gate-console"
    )
    assert result.one_line(program, 2) == (
        f"{program}: --connect http://127.0.0.1:99999: the port must be between 1 and 65535"
    )


def test_connect_without_a_scheme_means_http(cluster: RunningCluster, here: Path) -> None:
    address = cluster.config.gateway.http.addr
    repl = run("gate-repl", "--connect", address, cwd=here, stdin="14\n15\n")
    assert repl.returncode == 0, repl.stderr
    assert f"Gateway: http://{address}" in repl.stdout
    produce = run("gate-produce", "--connect", address, "--duration", "0.5", cwd=here)
    assert produce.returncode == 0, produce.stderr


# -- no terminal ----------------------------------------------------------------------------


def test_gate_console_without_a_terminal_says_so(here: Path) -> None:
    result = run("gate-console", "--connect", "http://127.0.0.1:1", cwd=here, timeout=10)
    assert result.one_line("gate-console", 2) == (
        "gate-console: needs a terminal; for scripts use gate-repl (it reads choices from stdin)"
    )


# -- --help ---------------------------------------------------------------------------------


@pytest.mark.parametrize("program", [*MODULES, "python -m engine.config"])
def test_every_help_has_a_description_defaults_and_an_example(here: Path, program: str) -> None:
    if program in MODULES:
        result = run(program, "--help", cwd=here)
    else:
        done = subprocess.run(
            [sys.executable, "-m", "engine.config", "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        result = Run(done.returncode, done.stdout, done.stderr, 0.0)
    assert result.returncode == 0 and result.stderr == ""
    text = result.stdout
    usage, description, *_ = text.split("\n\n")
    assert usage.startswith("usage: ") and len(description.strip()) > 20
    assert "default" in text
    examples = text.split("\nexample")[-1]
    assert examples.startswith(("s:\n", ":\n")) and f"\n  {program} " in examples


def test_gate_console_help_names_the_keys_ports_and_data() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "console.tui.main", "--help"], capture_output=True, text=True
    )
    for needed in ("1-7", "? shows every key", "Ctrl+P", "Ctrl+Q", "8899", "8090-8092"):
        assert needed in done.stdout
    assert "8890-8892" in done.stdout and "./data" in done.stdout


def test_gate_console_interrupted_while_its_config_loads_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The REPL's monkey found Ctrl+C during the config loading printed a traceback; same here.
    from console.tui import main as tui_main

    def interrupted(argv: list[str] | None) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tui_main, "parse_args", interrupted)
    with pytest.raises(SystemExit) as exit_:
        tui_main.main([])
    assert exit_.value.code == 130
    assert capsys.readouterr() == ("", "gate-console: interrupted\n")
