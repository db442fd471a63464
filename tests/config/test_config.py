"""Config loading and validation: the bundled default, the examples, every error, env overrides."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.config import (
    ConfigError,
    apply_env,
    default_config_path,
    dump_config,
    load_config,
    load_default_config,
    main,
    parse_config,
)
from engine.config_model import (
    Endpoint,
    GatewayConfig,
    LimitsConfig,
    RateLimit,
    ReplicationConfig,
    SecurityConfig,
    TokenConfig,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SOURCE = "cluster.yaml"
DELETE = object()  # marks a key to remove in `changed`


@pytest.fixture(autouse=True)
def _no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's shell must not leak into what the loaders return.
    monkeypatch.delenv("GATE_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("GATE_CLUSTER_SECRET", raising=False)


def three_nodes() -> dict[str, Any]:
    """A valid raw config: only `nodes`, as the YAML parser returns it."""
    return {
        "nodes": {
            f"node{i}": {
                "role": "master" if i == 1 else "slave",
                "http": {"enabled": True, "host": "127.0.0.1", "port": 8089 + i},
                "tcp": {"enabled": True, "host": "127.0.0.1", "port": 8889 + i},
            }
            for i in (1, 2, 3)
        }
    }


def changed(raw: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``raw`` with ``dotted`` set to ``value`` (or removed for DELETE)."""
    result = copy.deepcopy(raw)
    *parents, last = dotted.split(".")
    target = result
    for part in parents:
        target = target.setdefault(part, {})
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return result


def config_error(raw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, SOURCE)
    message = str(info.value)
    assert "\n" not in message
    return message


def write(tmp_path: Path, text: str | bytes, name: str = "cluster.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- valid configs ------------------------------------------------------------------------------


def test_bundled_default_is_the_api_example(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_default_config()
    assert config.source == "<bundled default>"
    assert config.node_ids == ("node1", "node2", "node3")
    assert config.preferred_node == "node1"
    assert [n.http for n in config.nodes] == [Endpoint("127.0.0.1", p) for p in (8090, 8091, 8092)]
    assert [n.tcp for n in config.nodes] == [Endpoint("127.0.0.1", p) for p in (8890, 8891, 8892)]
    assert config.gateway == GatewayConfig(starts_nodes=True, http=Endpoint("127.0.0.1", 8899))
    assert config.storage.data_dir == tmp_path / "data"
    assert config.storage.fsync == "always"
    assert config.replication == ReplicationConfig(write_quorum="majority", fresh_lag=0)
    assert config.stores == ("reg_gh",)
    assert config.security == SecurityConfig(None, None)


def test_default_config_path_is_the_bundled_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    path = default_config_path()
    assert path.is_file()
    from_file = load_config(path)
    assert from_file.source == str(path)
    assert dataclasses.replace(from_file, source="<bundled default>") == load_default_config()


def test_elysiangate_example_loads_with_wildcard_hosts() -> None:
    config = load_config(EXAMPLES / "elysiangate.yaml")
    assert config.node_ids == ("node1", "node2", "node3")
    assert config.preferred_node == "node1"
    hosts = {n.http.host for n in config.nodes} | {n.tcp.host for n in config.nodes}
    assert hosts == {"0.0.0.0"}
    assert config.gateway.http == Endpoint("0.0.0.0", 8899)
    assert config.nodes[0].http.addr == "127.0.0.1:8090"


def test_five_node_example_loads() -> None:
    config = load_config(EXAMPLES / "cluster-5-nodes.yaml")
    assert len(config.nodes) == 5
    assert config.preferred_node == "n1"
    assert config.replication.write_quorum == "majority"
    ports = [config.gateway.http.port] + [e.port for n in config.nodes for e in (n.http, n.tcp)]
    assert min(ports) >= 9100
    assert len(set(ports)) == len(ports)


def test_upstream_elysiangate_file_loads_as_it_is(tmp_path: Path) -> None:
    # ElysianGate's own style: a space before the colon, and its sync interval.
    path = write(
        tmp_path,
        "nodes:\n"
        "  a1 :\n    role: master\n"
        "    http: { enabled: true,  host: 0.0.0.0, port: 7001 }\n"
        "    tcp:  { enabled: true,  host: 0.0.0.0, port: 7101 }\n"
        "  a2 :\n    role: slave\n"
        "    http: { enabled: true,  host: 0.0.0.0, port: 7002 }\n"
        "    tcp:  { enabled: true,  host: 0.0.0.0, port: 7102 }\n"
        'gateway:\n  startsNodes: false\n  http:\n    host: "0.0.0.0"\n    port: 7000\n'
        "  synchronizationInterval: 1\n",
    )
    config = load_config(path)
    assert config.node_ids == ("a1", "a2")
    assert config.gateway.starts_nodes is False


def test_minimal_config_gets_every_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    config = parse_config(three_nodes(), SOURCE)
    assert config.source == SOURCE
    assert config.gateway == GatewayConfig()
    assert config.storage.data_dir == tmp_path / "data"
    assert config.storage.fsync == "always"
    assert config.storage.min_free_bytes == 64 * 1024 * 1024
    assert config.replication == ReplicationConfig()
    assert config.stores == ("reg_gh",)
    assert config.security == SecurityConfig()
    assert config.limits == LimitsConfig()


def test_role_words_and_default_role() -> None:
    raw = three_nodes()
    raw["nodes"]["node1"]["role"] = "leader"
    raw["nodes"]["node2"]["role"] = "follower"
    del raw["nodes"]["node3"]["role"]
    config = parse_config(raw, SOURCE)
    assert [n.preferred for n in config.nodes] == [True, False, False]


def test_every_key_is_read(tmp_path: Path) -> None:
    raw = three_nodes() | {
        "gateway": {
            "startsNodes": False,
            "http": {"host": "127.0.0.2", "port": 9999},
            "healthInterval": 2,
            "requestTimeout": 3.5,
            "drainTimeout": 1,
            "startTimeout": 30,
            "idleTimeout": 4,
            "restart": "never",
        },
        "storage": {"dataDir": str(tmp_path / "d"), "fsync": "os"},
        "replication": {
            "writeQuorum": "all",
            "freshLag": 7,
            "tickMs": 20,
            "electionTicks": 10,
            "heartbeatTicks": 2,
            "preferredLeader": "return",
            "compactAfter": 200,
        },
        "stores": ["a", "b_2", "c-3"],
        "security": {"authToken": "tok", "clusterSecret": "sec"},
        "limits": {"maxRequestBytes": 1000, "maxEventsPerAppend": 5},
    }
    config = parse_config(raw, SOURCE)
    assert config.gateway == GatewayConfig(
        False, Endpoint("127.0.0.2", 9999), 2.0, 3.5, 1.0, 30.0, 4.0, "never"
    )
    assert config.storage.data_dir == tmp_path / "d"
    assert config.storage.fsync == "os"
    assert config.replication == ReplicationConfig("all", 7, 20, 10, 2, "return", 200)
    assert config.stores == ("a", "b_2", "c-3")
    assert config.security == SecurityConfig("tok", "sec")
    assert config.limits == LimitsConfig(1000, 5)


def test_empty_sections_mean_defaults() -> None:
    raw = three_nodes() | {"gateway": None, "storage": None, "security": None, "limits": None}
    config = parse_config(raw, SOURCE)
    assert config.gateway == GatewayConfig()
    assert config.security == SecurityConfig()


def test_http_may_be_disabled_and_then_shares_nothing() -> None:
    raw = changed(
        three_nodes(), "nodes.node2.http", {"enabled": False, "host": "127.0.0.1", "port": 8090}
    )
    config = parse_config(raw, SOURCE)
    assert config.node("node2").http == Endpoint("127.0.0.1", 8090, enabled=False)


def test_same_port_on_different_hosts_is_fine() -> None:
    raw = changed(three_nodes(), "nodes.node2.http.host", "127.0.0.2")
    raw = changed(raw, "nodes.node2.http.port", 8090)
    assert parse_config(raw, SOURCE).node("node2").http == Endpoint("127.0.0.2", 8090)


def test_yaml_merge_keys_may_override(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "nodes:\n  solo:\n    role: master\n"
        "    http: &local { enabled: true, host: 127.0.0.1, port: 7001 }\n"
        "    tcp: { <<: *local, port: 7002 }\n",
    )
    assert load_config(path).node("solo").tcp == Endpoint("127.0.0.1", 7002)


# --- dataDir ------------------------------------------------------------------------------------


def test_relative_data_dir_resolves_against_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    path = write(
        config_dir,
        "nodes:\n  n1: {role: master, http: {host: h, port: 1}, "
        "tcp: {host: h, port: 2}}\nstorage: {dataDir: ./var/../gate}\n",
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    config = load_config(path)
    assert config.storage.data_dir == work / "gate"
    assert config.storage.data_dir.is_absolute()
    assert config.node_data_dir("n1") == work / "gate" / "n1"


def test_absolute_and_home_data_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    absolute = changed(three_nodes(), "storage.dataDir", str(tmp_path / "abs"))
    assert parse_config(absolute, SOURCE).storage.data_dir == tmp_path / "abs"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    home = changed(three_nodes(), "storage.dataDir", "~/gate")
    assert parse_config(home, SOURCE).storage.data_dir == tmp_path / "home" / "gate"


# --- environment --------------------------------------------------------------------------------


def test_env_overrides_secrets() -> None:
    config = parse_config(changed(three_nodes(), "security.authToken", "from-file"), SOURCE)
    env = {"GATE_AUTH_TOKEN": "t0k", "GATE_CLUSTER_SECRET": "s3c"}
    assert apply_env(config, env).security == SecurityConfig("t0k", "s3c")
    only_secret = apply_env(config, {"GATE_CLUSTER_SECRET": "s3c"})
    assert only_secret.security == SecurityConfig("from-file", "s3c")


def test_empty_or_missing_env_changes_nothing() -> None:
    config = parse_config(changed(three_nodes(), "security.authToken", "from-file"), SOURCE)
    assert apply_env(config, {}) is config
    assert apply_env(config, {"GATE_AUTH_TOKEN": ""}).security.auth_token == "from-file"


def test_loaders_apply_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GATE_AUTH_TOKEN", "env-token")
    monkeypatch.setenv("GATE_CLUSTER_SECRET", "env-secret")
    expected = SecurityConfig("env-token", "env-secret")
    assert load_default_config().security == expected
    assert load_config(EXAMPLES / "elysiangate.yaml").security == expected


# --- errors in the document ---------------------------------------------------------------------

TOP_KEYS = "nodes, gateway, storage, replication, stores, security, limits, backend, jetstream"
BAD_VALUES = [
    # (dotted key to change, value, key named in the error, words of the reason)
    ("nodez", 1, "nodez", f"unknown key (allowed: {TOP_KEYS})"),
    ("gateway.htp", {}, "gateway.htp", "unknown key (allowed: startsNodes, http, healthInterval"),
    ("nodes.node1.http.tls", True, "nodes.node1.http.tls", "(allowed: enabled, host, port)"),
    ("gateway.http.enabled", True, "gateway.http.enabled", "(allowed: host, port)"),
    ("nodes.node1.weight", 3, "nodes.node1.weight", "(allowed: role, http, tcp, cluster)"),
    (
        "nodes.node2.http.port",
        "abc",
        "nodes.node2.http.port",
        "expected an integer 1-65535, got 'abc'",
    ),
    ("nodes.node2.http.port", 0, "nodes.node2.http.port", "1-65535, got 0"),
    ("nodes.node2.tcp.port", 65536, "nodes.node2.tcp.port", "1-65535, got 65536"),
    ("nodes.node2.tcp.port", True, "nodes.node2.tcp.port", "1-65535, got true"),
    ("nodes.node2.tcp.port", 8891.0, "nodes.node2.tcp.port", "1-65535, got 8891.0"),
    ("gateway.http.port", -1, "gateway.http.port", "1-65535, got -1"),
    ("nodes.node1.tcp.port", DELETE, "nodes.node1.tcp.port", "required key is missing"),
    ("nodes.node1.http.host", DELETE, "nodes.node1.http.host", "required key is missing"),
    ("nodes.node1.http.host", "", "nodes.node1.http.host", "expected a host name or IP address"),
    ("nodes.node1.http.host", 10, "nodes.node1.http.host", "got 10"),
    ("gateway.http.host", "my host", "gateway.http.host", "got 'my host'"),
    ("nodes.node1.http.enabled", "yes", "nodes.node1.http.enabled", "expected true or false"),
    ("nodes.node1.http", DELETE, "nodes.node1.http", "required key is missing"),
    ("nodes.node1.tcp", [8890], "nodes.node1.tcp", "expected a mapping with keys enabled, host"),
    ("nodes.node1.tcp.enabled", False, "nodes.node1.tcp.enabled", "replication runs over it"),
    ("nodes.node1.role", "boss", "nodes.node1.role", "master, leader, slave, follower, got 'boss'"),
    ("nodes.node1.role", "Master", "nodes.node1.role", "got 'Master'"),
    ("nodes.node1.role", "slave", "nodes", "no preferred leader"),
    ("nodes.node3.role", "leader", "nodes.node3.role", "several preferred leaders (node1, node3)"),
    ("nodes", {}, "nodes", "at least one node is required"),
    ("nodes", ["node1"], "nodes", "expected a mapping of node id -> node, got a list"),
    ("nodes", DELETE, "nodes", "required key is missing"),
    ("gateway", [1], "gateway", "expected a mapping with keys startsNodes"),
    ("gateway.startsNodes", "true", "gateway.startsNodes", "expected true or false, got 'true'"),
    ("gateway.healthInterval", 0, "gateway.healthInterval", "seconds > 0, got 0"),
    ("gateway.healthInterval", -0.5, "gateway.healthInterval", "seconds > 0, got -0.5"),
    ("gateway.healthInterval", "1s", "gateway.healthInterval", "got '1s'"),
    ("gateway.healthInterval", float("nan"), "gateway.healthInterval", "got nan"),
    ("gateway.healthInterval", True, "gateway.healthInterval", "got true"),
    ("gateway.requestTimeout", 0, "gateway.requestTimeout", "seconds > 0"),
    ("gateway.idleTimeout", -1, "gateway.idleTimeout", "seconds > 0"),
    ("gateway.drainTimeout", None, "gateway.drainTimeout", "got null"),
    ("gateway.startTimeout", float("inf"), "gateway.startTimeout", "got inf"),
    ("gateway.restart", "always", "gateway.restart", "on-failure, never, got 'always'"),
    ("gateway.restart", False, "gateway.restart", "got false"),
    ("gateway.synchronizationInterval", 0, "gateway.synchronizationInterval", "seconds > 0"),
    ("storage.fsync", "never", "storage.fsync", "expected one of always, os, got 'never'"),
    ("storage.fsync", True, "storage.fsync", "got true"),
    ("storage.minFreeBytes", -1, "storage.minFreeBytes", "expected an integer >= 0, got -1"),
    ("storage.minFreeBytes", "64MB", "storage.minFreeBytes", "got '64MB'"),
    ("storage.dataDir", 5, "storage.dataDir", "expected a directory path, got 5"),
    ("storage.dataDir", " ", "storage.dataDir", "expected a directory path"),
    ("replication.writeQuorum", "quorum", "replication.writeQuorum", "majority, all, leader"),
    ("replication.freshLag", -1, "replication.freshLag", "expected an integer >= 0, got -1"),
    ("replication.freshLag", True, "replication.freshLag", "expected an integer >= 0, got true"),
    ("replication.freshLag", 1.5, "replication.freshLag", "got 1.5"),
    ("replication.tickMs", 0, "replication.tickMs", "expected an integer >= 1, got 0"),
    ("replication.heartbeatTicks", 6, "replication.heartbeatTicks", "less than electionTicks (6)"),
    ("replication.electionTicks", 1, "replication.electionTicks", ">= 2, got 1"),
    ("replication.preferredLeader", "always", "replication.preferredLeader", "sticky, return"),
    ("replication.compactAfter", 0, "replication.compactAfter", "expected an integer >= 1, got 0"),
    ("stores", "reg_gh", "stores", "expected a list of store ids, got 'reg_gh'"),
    ("stores", None, "stores", "expected a list of store ids, got null"),
    ("stores", ["ok", "not ok"], "stores[1]", "must match [A-Za-z0-9_-]{1,64}, got 'not ok'"),
    ("stores", ["ok", 7], "stores[1]", "got 7"),
    ("stores", ["a", "b", "a"], "stores[2]", "store 'a' is listed twice"),
    ("security.authToken", 123, "security.authToken", "non-empty string or null, got 123"),
    ("security.clusterSecret", "", "security.clusterSecret", "got ''"),
    (
        "security.apiKey",
        "x",
        "security.apiKey",
        "(allowed: authToken, clusterSecret, tokens, rateLimit, tls, insecureOk)",
    ),
    ("limits.maxRequestBytes", 0, "limits.maxRequestBytes", ">= 1, got 0"),
    ("limits.maxEventsPerAppend", "many", "limits.maxEventsPerAppend", "got 'many'"),
]


@pytest.mark.parametrize(("dotted", "value", "key", "reason"), BAD_VALUES)
def test_bad_value_names_file_and_key(dotted: str, value: Any, key: str, reason: str) -> None:
    message = config_error(changed(three_nodes(), dotted, value))
    assert message.startswith(f"{SOURCE}: {key}: "), message
    assert reason in message


@pytest.mark.parametrize(
    ("node_id", "shown"),
    [("node 1", "'node 1'"), ("n" * 65, "nnnn"), ("", "''"), (1, "1"), ("nöde", "'nöde'")],
)
def test_bad_node_id(node_id: Any, shown: str) -> None:
    raw = three_nodes()
    raw["nodes"][node_id] = raw["nodes"].pop("node2")
    message = config_error(raw)
    assert message.startswith(f"{SOURCE}: nodes.{shown}")
    assert "a node id must match [A-Za-z0-9_-]{1,64}" in message


def test_longest_node_id_is_accepted() -> None:
    raw = three_nodes()
    raw["nodes"]["n" * 64] = raw["nodes"].pop("node2")
    assert ("n" * 64) in parse_config(raw, SOURCE).node_ids


def test_unknown_key_that_is_not_a_string() -> None:
    message = config_error(three_nodes() | {7: "x"})
    assert message.startswith(f"{SOURCE}: 7: unknown key (allowed: {TOP_KEYS})")


@pytest.mark.parametrize(
    ("dotted", "value", "key", "other"),
    [
        ("nodes.node2.http.port", 8090, "nodes.node2.http.port", "nodes.node1.http"),
        ("nodes.node3.tcp.port", 8091, "nodes.node3.tcp.port", "nodes.node2.http"),
        ("nodes.node1.tcp.port", 8090, "nodes.node1.tcp.port", "nodes.node1.http"),
        ("gateway.http.port", 8892, "gateway.http.port", "nodes.node3.tcp"),
    ],
)
def test_two_endpoints_on_one_port(dotted: str, value: int, key: str, other: str) -> None:
    message = config_error(changed(three_nodes(), dotted, value))
    assert message.startswith(f"{SOURCE}: {key}: ")
    assert f"overlaps {other} (127.0.0.1:{value})" in message


@pytest.mark.parametrize(
    ("host_a", "host_b"),
    [
        ("0.0.0.0", "127.0.0.1"),
        ("127.0.0.1", "0.0.0.0"),
        ("::", "10.0.0.5"),
        ("localhost", "127.0.0.1"),
        ("0.0.0.0", "0.0.0.0"),
    ],
)
def test_wildcard_and_loopback_hosts_overlap(host_a: str, host_b: str) -> None:
    raw = changed(three_nodes(), "nodes.node1.http.host", host_a)
    raw = changed(raw, "nodes.node2.http.host", host_b)
    raw = changed(raw, "nodes.node2.http.port", 8090)
    message = config_error(raw)
    assert message.startswith(f"{SOURCE}: nodes.node2.http.port: {host_b}:8090 overlaps")


def test_top_level_must_be_a_mapping() -> None:
    message = config_error(["nodes"])
    assert message.startswith(f"{SOURCE}: expected a mapping with keys nodes, gateway")


# --- errors in the file -------------------------------------------------------------------------


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert load_error(path) == f"{path}: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert load_error(tmp_path).endswith("is a directory, not a config file")


def test_not_yaml(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "nodes:\n  node1: {role: master\n"))
    assert ": line 3, column 1: not valid YAML: " in message


def test_tab_indentation_is_reported_with_its_line(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "nodes:\n\tnode1: {}\n"))
    assert ": line 2, column 1: not valid YAML: " in message


def test_not_utf8(tmp_path: Path) -> None:
    assert "not UTF-8 text" in load_error(write(tmp_path, b"nodes: \xff\n"))


def test_empty_file(tmp_path: Path) -> None:
    assert load_error(write(tmp_path, "# nothing yet\n")).endswith(
        "the file is empty; a config needs at least 'nodes'"
    )


def test_document_that_is_not_a_mapping(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, "- node1\n- node2\n"))
    assert "expected a mapping with keys nodes" in message
    assert message.endswith("got a list")


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    text = (EXAMPLES / "cluster-5-nodes.yaml").read_text()
    text = text.replace("  n3:\n", "  n2:\n")
    message = load_error(write(tmp_path, text))
    line = 1 + text.splitlines().index("  n2:", text.splitlines().index("  n2:") + 1)
    assert f": line {line}, column 3: not valid YAML: duplicate key 'n2'" in message


def test_file_errors_name_the_path_as_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path, "nodes: {n1: {role: master, http: {host: h, port: 1}, tcp: {host: h, port: x}}}"
    )
    with pytest.raises(ConfigError) as info:
        load_config("cluster.yaml")
    assert str(info.value) == (
        "cluster.yaml: nodes.n1.tcp.port: expected an integer 1-65535, got 'x'"
    )
    assert (info.value.source, info.value.key) == ("cluster.yaml", "nodes.n1.tcp.port")


# --- dumping and the command line ---------------------------------------------------------------


def test_dump_round_trips(tmp_path: Path) -> None:
    config = load_config(EXAMPLES / "cluster-5-nodes.yaml")
    tokens = (TokenConfig("student", "s7udent", "reader"),)
    security = SecurityConfig("tok", "sec", tokens, RateLimit(20.0, 40))
    config = dataclasses.replace(config, security=security)
    path = write(tmp_path, dump_config(config), "dumped.yaml")
    assert load_config(path) == dataclasses.replace(config, source=str(path))


def test_dump_can_hide_secrets() -> None:
    config = dataclasses.replace(
        parse_config(three_nodes(), SOURCE),
        security=SecurityConfig("s3cret", None, (TokenConfig("student", "s7udent", "reader"),)),
    )
    text = dump_config(config, redact=True)
    assert "s3cret" not in text and "s7udent" not in text
    assert "{name: student, token: <hidden>, role: reader}" in text
    assert "authToken: <hidden>" in text
    assert "clusterSecret: null" in text


def test_cli_prints_the_resolved_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATE_AUTH_TOKEN", "t0k")
    assert main([str(EXAMPLES / "elysiangate.yaml")]) == 0
    out = capsys.readouterr().out
    assert "valid" in out
    assert "t0k" not in out
    assert "writeQuorum: majority" in out


def test_cli_reports_an_error_with_exit_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, "nodes: {}\n")
    assert main([str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"{path}: nodes: at least one node is required, got an empty mapping\n"


def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "engine.config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == f"{path}: file not found\n"


def test_cli_without_file_shows_the_bundled_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert capsys.readouterr().out.startswith("# <bundled default>: valid")
