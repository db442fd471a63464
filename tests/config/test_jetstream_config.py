"""``backend: jetstream`` in the config: the nodes as nats-servers, ``jetstream``, every mistake
in one line, and the nats-server config each node gets (engine/jetstream/servers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.config import dump_config, load_config, parse_config
from engine.config_model import Endpoint, JetStreamConfig
from engine.jetstream.servers import server_conf
from tests.config.test_config import DELETE, EXAMPLES, SOURCE, changed, config_error, three_nodes


def three_servers(**jetstream: Any) -> dict[str, Any]:
    """A valid raw config of three nats-servers the gateway starts."""
    raw = three_nodes()
    raw["backend"] = "jetstream"
    for i, node in enumerate(raw["nodes"].values(), start=1):
        node["cluster"] = {"host": "127.0.0.1", "port": 6221 + i}
    if jetstream:
        raw["jetstream"] = jetstream
    return raw


def test_the_example_loads_and_dumps_back_to_itself() -> None:
    config = load_config(EXAMPLES / "jetstream-3-servers.yaml")
    assert config.backend == "jetstream"
    assert config.jetstream == JetStreamConfig(server="nats-server", replicas=3)
    assert config.node("nats2").cluster == Endpoint("127.0.0.1", 6223)
    again = parse_config(yaml.safe_load(dump_config(config)), config.source)
    assert again == config


def test_defaults_and_the_gate_backend_unchanged() -> None:
    config = parse_config(three_servers(), SOURCE)
    assert config.jetstream == JetStreamConfig()
    gate = parse_config(three_nodes(), SOURCE)
    assert gate.backend == "gate" and gate.node("node1").cluster is None
    assert "jetstream" not in dump_config(gate) and "backend: gate" in dump_config(gate)


def test_attaching_takes_credentials_and_a_ca(tmp_path: Path) -> None:
    creds, ca = tmp_path / "gate.creds", tmp_path / "ca.pem"
    creds.write_text("creds")
    ca.write_text("ca")
    raw = three_servers(credsFile=str(creds), ca=str(ca))
    raw["gateway"] = {"startsNodes": False}
    for node in raw["nodes"].values():
        del node["cluster"]  # the routes are the running cluster's business
    config = parse_config(raw, SOURCE)
    assert config.jetstream.creds == creds and config.jetstream.ca == ca
    raw["jetstream"] = {"user": "gate", "password": "pw", "server": "no-such-binary"}
    assert parse_config(raw, SOURCE).jetstream.user == "gate"


BAD = [
    ("backend", "kafka", "backend", "expected one of gate, jetstream, got 'kafka'"),
    ("nodes.node2.cluster", DELETE, "nodes.node2.cluster", "needs its route port {host, port}"),
    ("nodes.node2.cluster.port", 0, "nodes.node2.cluster.port", "expected an integer 1-65535"),
    ("nodes.node2.cluster.port", 8890, "nodes.node2.cluster.port", "overlaps nodes.node1.tcp"),
    ("nodes.node1.http.enabled", False, "nodes.node1.http.enabled", "monitoring port"),
    ("jetstream.replicas", 4, "jetstream.replicas", "4 replicas need at least 4 servers"),
    ("jetstream.replicas", 7, "jetstream.replicas", "at most 5 replicas"),
    ("jetstream.replicas", 0, "jetstream.replicas", "expected an integer >= 1"),
    ("jetstream.server", "no-such-nats-server", "jetstream.server", "no executable"),
    ("jetstream.syncAlways", "yes", "jetstream.syncAlways", "expected true or false"),
    ("jetstream.user", "gate", "jetstream.password", "user and password go together"),
    ("jetstream.credsFile", "/x.creds", "jetstream.credsFile", "only to attach"),
    ("jetstream.ca", "/ca.pem", "jetstream.ca", "only to attach"),
    ("jetstream.store", "x", "jetstream.store", "unknown key"),
]


@pytest.mark.parametrize(("dotted", "value", "key", "reason"), BAD)
def test_each_mistake_is_one_line(dotted: str, value: Any, key: str, reason: str) -> None:
    message = config_error(changed(three_servers(), dotted, value))
    assert message.startswith(f"{SOURCE}: {key}: "), message
    assert reason in message, message


def test_jetstream_keys_on_a_gate_cluster_are_refused() -> None:
    message = config_error(changed(three_nodes(), "jetstream", {"replicas": 3}))
    assert message == f"{SOURCE}: jetstream: only for backend: jetstream (backend is gate)"
    raw = changed(three_nodes(), "nodes.node1.cluster", {"host": "127.0.0.1", "port": 6222})
    assert "nodes.node1.cluster: only for backend: jetstream" in config_error(raw)


def test_attaching_mistakes(tmp_path: Path) -> None:
    raw = three_servers(credsFile=str(tmp_path / "missing.creds"))
    raw["gateway"] = {"startsNodes": False}
    assert "jetstream.credsFile: file not found" in config_error(raw)
    (tmp_path / "gate.creds").write_text("creds")
    raw["jetstream"] = {"credsFile": str(tmp_path / "gate.creds"), "user": "u", "password": "p"}
    assert "jetstream.credsFile: give either user/password or credsFile" in config_error(raw)


def test_each_server_config_routes_to_the_others(tmp_path: Path) -> None:
    raw = three_servers(user="gate", password='p"w')
    raw["storage"] = {"dataDir": str(tmp_path)}
    config = parse_config(raw, SOURCE)
    text = server_conf(config, config.node("node2"), sync_always=False)
    assert 'server_name: "node2"' in text
    assert "port: 8891" in text and 'http: "127.0.0.1:8091"' in text
    assert f'store_dir: "{tmp_path / "node2"}"' in text
    assert "port: 6223" in text
    assert '"nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6224"' in text
    assert "sync_interval" not in text
    assert 'password: "p\\"w"' in text  # quoted, so no value can break the file
    synced = server_conf(config, config.node("node2"), sync_always=True)
    assert "sync_interval: always" in synced
