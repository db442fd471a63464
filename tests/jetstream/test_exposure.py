"""The exposure warnings of a ``backend: jetstream`` config name the nats-servers' own ports and
settings (engine/exposure.py, ``jetstream_reasons``), not Gate nodes' HTTP and replication."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.lib.jetstream import jetstream_config
from engine.config import parse_config
from engine.exposure import jetstream_reasons


def _exposed(tmp_path: Path) -> dict[str, Any]:
    raw = jetstream_config(tmp_path)
    node = raw["nodes"]["nats1"]
    for endpoint in ("http", "tcp", "cluster"):
        node[endpoint]["host"] = "0.0.0.0"
    return raw


def test_loopback_servers_are_not_exposed(tmp_path: Path) -> None:
    assert jetstream_reasons(parse_config(jetstream_config(tmp_path), "c.yaml")) == []


def test_each_exposed_server_port_is_named_with_its_own_risk(tmp_path: Path) -> None:
    reasons = jetstream_reasons(parse_config(_exposed(tmp_path), "c.yaml"))
    assert len(reasons) == 4, reasons
    client, clear, monitoring, route = reasons
    assert "nats1's NATS client port on 0.0.0.0:" in client and "jetstream.user" in client
    assert "clear text" in clear and "NATS password" in clear
    assert "monitoring" in monitoring and "without authentication" in monitoring
    assert "route port" in route and "replication" in route
    assert not any("Gate" in r or "cluster secret" in r for r in reasons)


def test_a_nats_user_and_a_verified_tls_attachment_leave_only_the_monitoring_port(
    tmp_path: Path,
) -> None:
    raw = _exposed(tmp_path)
    raw["jetstream"] |= {"user": "gate", "password": "secret"}
    reasons = jetstream_reasons(parse_config(raw, "c.yaml"))
    assert not any("takes any client" in r for r in reasons)
    raw["gateway"]["startsNodes"] = False
    del raw["jetstream"]["password"], raw["jetstream"]["user"]
    for name in ("gate.creds", "ca.pem"):
        (tmp_path / name).write_text("read by the gateway's NATS connection, not here\n")
    raw["jetstream"] |= {"credsFile": str(tmp_path / "gate.creds"), "ca": str(tmp_path / "ca.pem")}
    reasons = jetstream_reasons(parse_config(raw, "c.yaml"))
    assert len(reasons) == 1 and "monitoring" in reasons[0], reasons
