"""``gate-produce`` without a cluster: options, where the gateway is, an unreachable gateway."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from domain.greenhouse.produce_cli import DEFAULT_URL, CliError, build_parser, resolve_target


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_defaults_follow_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATE_AUTH_TOKEN", raising=False)
    args = build_parser().parse_args([])
    assert (args.store, args.producers, args.rate, args.batch) == ("reg_gh", 3, 10.0, 1)
    assert (args.mode, args.seed, args.duration) == ("random", None, None)
    assert resolve_target(args) == (DEFAULT_URL, None)


def test_connect_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATE_AUTH_TOKEN", "from-env")
    args = build_parser().parse_args(["--connect", "http://10.0.0.5:9000"])
    assert resolve_target(args) == ("http://10.0.0.5:9000", "from-env")
    args = build_parser().parse_args(["--connect", "http://h:1", "--token", "t"])
    assert resolve_target(args) == ("http://h:1", "t")


def test_config_gives_the_gateway_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATE_AUTH_TOKEN", raising=False)
    path = tmp_path / "cluster.yaml"
    nodes = {
        f"node{i}": {
            "role": "master" if i == 1 else "slave",
            "http": {"enabled": True, "host": "127.0.0.1", "port": 9100 + i},
            "tcp": {"enabled": True, "host": "127.0.0.1", "port": 9200 + i},
        }
        for i in (1, 2, 3)
    }
    raw = {"nodes": nodes, "gateway": {"http": {"host": "0.0.0.0", "port": 9333}}}
    raw["security"] = {"authToken": "secret"}
    path.write_text(yaml.safe_dump(raw))
    args = build_parser().parse_args(["--config", str(path)])
    assert resolve_target(args) == ("http://127.0.0.1:9333", "secret")


def test_a_bad_config_is_one_reason(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("nodes: 3\n")
    with pytest.raises(CliError):
        resolve_target(build_parser().parse_args(["--config", str(path)]))


@pytest.mark.parametrize("option", [["--producers", "0"], ["--rate", "-1"], ["--mode", "x"]])
def test_bad_options_are_refused(option: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(option)


def test_an_unreachable_gateway_is_one_line_and_exit_1() -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "domain.greenhouse.produce_cli", "--connect", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"gate-produce: cannot reach the gateway at {url}"
    assert done.stdout == ""
