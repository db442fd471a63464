"""Loading and validating the cluster config (the YAML format of docs/API.md, "Config (YAML)").

``load_config(path)`` reads a file, ``load_default_config()`` the bundled
``engine/default_config.yaml`` (on disk at ``default_config_path()``).  Both validate everything
before anything starts, apply the ``GATE_AUTH_TOKEN`` / ``GATE_CLUSTER_SECRET`` environment
overrides and return a :class:`~engine.config_model.ClusterConfig`.  Any problem is a
:class:`ConfigError` whose message is one line naming the file and the dotted key, e.g.::

    cluster.yaml: nodes.node2.http.port: expected an integer 1-65535, got 'abc'

ElysianGate files load as they are; their ``gateway.synchronizationInterval`` is accepted and
ignored (Gate replicates continuously, there is no periodic sync to tune).

Check a file from the shell (prints the resolved config with secrets hidden, or the error and
exit status 2; with no FILE, the bundled default)::

    python -m engine.config FILE
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml

from engine.config_model import (
    ROLES,
    ClusterConfig,
    Endpoint,
    GatewayConfig,
    JetStreamConfig,
    LimitsConfig,
    NodeConfig,
    RateLimit,
    ReplicationConfig,
    SecurityConfig,
    StorageConfig,
    TlsConfig,
    TlsIdentity,
    TokenConfig,
)

DEFAULT_SOURCE = "<bundled default>"
ENV_AUTH_TOKEN = "GATE_AUTH_TOKEN"
ENV_CLUSTER_SECRET = "GATE_CLUSTER_SECRET"
ENV_TOKENS_FILE = "GATE_TOKENS_FILE"

_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID_RULE = "[A-Za-z0-9_-]{1,64}"


def is_valid_id(value: object) -> bool:
    """Whether ``value`` can be a node or store id (``[A-Za-z0-9_-]{1,64}``)."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


_ROLES = {"master": True, "leader": True, "slave": False, "follower": False}
_FSYNC_MODES = ("always", "os")
_WRITE_QUORUMS = ("majority", "all", "leader")
_PREFERRED_LEADER = ("sticky", "return")
_RESTART_POLICIES = ("on-failure", "never")
_REPAIR_MODES = ("auto", "manual")
_BACKENDS = ("gate", "jetstream")
# JetStream refuses streams of more replicas than this.
_MAX_REPLICAS = 5
# Bind addresses that listen on every interface, so they collide with any host on that port.
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})
_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
_MAX_SHOWN = 60
_DEFAULT_STORES = cast(
    tuple[str, ...],
    next(f.default for f in dataclasses.fields(ClusterConfig) if f.name == "stores"),
)


class ConfigError(Exception):
    """An invalid config: the message is one line, ``<file>: <dotted.key>: <what is wrong>``.

    File-level problems (missing file, not YAML) have no key: ``<file>: <what is wrong>``.
    """

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")


# --- loading ------------------------------------------------------------------------------------


def load_config(path: str | Path) -> ClusterConfig:
    """Read, validate and return the config in the YAML file ``path``, with env overrides applied.

    The error messages name the file as ``path`` was given. A relative ``storage.dataDir``
    resolves against the current working directory at the time of this call.
    """
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except IsADirectoryError:
        raise ConfigError(source, "", "is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    return apply_env(parse_config(_parse_yaml(data, source), source), os.environ)


def load_tokens_file(path: str | Path) -> tuple[TokenConfig, ...]:
    """The tokens of a ``GATE_TOKENS_FILE``: a YAML list like ``security.tokens``."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            source, "", f"cannot read the tokens file: {exc.strerror or exc}"
        ) from None
    return _tokens(_parse_yaml(data, source), _At(source, "tokens"))


def default_config_path() -> Path:
    """Where the bundled default config is on disk, to hand to child processes as ``--config``."""
    # setuptools installs the package as plain files (not zipped), so the resource is a real path.
    return Path(str(resources.files("engine").joinpath("default_config.yaml")))


def load_default_config() -> ClusterConfig:
    """The bundled default config (3 loopback nodes, data under ``./data``), env overrides applied.

    Its relative ``dataDir`` resolves against the current working directory at call time.
    """
    data = resources.files("engine").joinpath("default_config.yaml").read_bytes()
    raw = _parse_yaml(data, DEFAULT_SOURCE)
    return apply_env(parse_config(raw, DEFAULT_SOURCE), os.environ)


def apply_env(config: ClusterConfig, environ: Mapping[str, str]) -> ClusterConfig:
    """Override the secrets from ``GATE_AUTH_TOKEN`` and ``GATE_CLUSTER_SECRET``, and add the
    tokens of ``GATE_TOKENS_FILE`` to ``security.tokens``.

    An empty variable counts as unset, so a blank export cannot switch security off.
    """
    security = config.security
    tokens_file = environ.get(ENV_TOKENS_FILE)
    if tokens_file:
        tokens = security.tokens + load_tokens_file(tokens_file)
        _check_tokens_unique(tokens, security.auth_token, _At(tokens_file, "tokens"))
        security = dataclasses.replace(security, tokens=tokens)
    token = environ.get(ENV_AUTH_TOKEN)
    if token:
        security = dataclasses.replace(security, auth_token=token)
    secret = environ.get(ENV_CLUSTER_SECRET)
    if secret:
        security = dataclasses.replace(security, cluster_secret=secret)
    if security is config.security:
        return config
    _check_tokens_unique(security.tokens, security.auth_token, _At(config.source, "security"))
    return dataclasses.replace(config, security=security)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys (plain YAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *base` may legitimately be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable: the base class reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {_show(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "", f"not UTF-8 text (byte {exc.start})") from None
    try:
        # A SafeLoader subclass: a config file cannot build arbitrary Python objects.
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = _one_line(str(exc.problem or exc))
        raise ConfigError(source, where, f"not valid YAML: {reason}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, "", f"not valid YAML: {_one_line(str(exc))}") from None
    if raw is None:
        raise ConfigError(source, "", "the file is empty; a config needs at least 'nodes'")
    return raw


# --- validation ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _At:
    """Where in the file a value sits: the file and the dotted key, for error messages."""

    source: str
    key: str

    def child(self, *names: Any) -> _At:
        key = self.key
        for name in names:
            part = name if isinstance(name, str) and _PLAIN_KEY_RE.fullmatch(name) else repr(name)
            key = f"{key}.{part}" if key else part
        return _At(self.source, key)

    def error(self, reason: str) -> ConfigError:
        return ConfigError(self.source, self.key, reason)


def parse_config(raw: Any, source: str) -> ClusterConfig:
    """Validate a parsed YAML document and build the typed config; ``source`` names the file.

    Everything but ``nodes`` is optional and defaults as in ``engine.config_model``; a section
    left empty (``gateway:`` with nothing under it) counts as absent.  A relative
    ``storage.dataDir`` (including the default ``data``) resolves against the current working
    directory now, so the returned ``storage.data_dir`` is always absolute.
    Raises :class:`ConfigError` on the first problem found.
    """
    top = _At(source, "")
    doc = _mapping(
        raw,
        top,
        (
            "nodes",
            "gateway",
            "storage",
            "replication",
            "stores",
            "security",
            "limits",
            "backend",
            "jetstream",
        ),
    )
    backend = _choice(doc.get("backend", "gate"), top.child("backend"), _BACKENDS)
    if "nodes" not in doc:
        raise top.child("nodes").error("required key is missing: the cluster needs its nodes")
    gateway = _gateway(doc.get("gateway"), top.child("gateway"))
    nodes = _nodes(doc["nodes"], top.child("nodes"), backend, gateway.starts_nodes)
    if backend == "gate" and doc.get("jetstream") is not None:
        raise top.child("jetstream").error("only for backend: jetstream (backend is gate)")
    config = ClusterConfig(
        source=source,
        nodes=nodes,
        gateway=gateway,
        storage=_storage(doc.get("storage"), top.child("storage")),
        replication=_replication(doc.get("replication"), top.child("replication")),
        stores=_stores(doc["stores"], top.child("stores")) if "stores" in doc else _DEFAULT_STORES,
        security=_security(doc.get("security"), top.child("security"), [n.node_id for n in nodes]),
        limits=_limits(doc.get("limits"), top.child("limits")),
        backend=backend,
        jetstream=(
            _jetstream(doc.get("jetstream"), top.child("jetstream"), nodes, gateway)
            if backend == "jetstream"
            else JetStreamConfig()
        ),
    )
    _check_endpoints_disjoint(config, top)
    return config


def _nodes(raw: Any, at: _At, backend: str, starts_nodes: bool) -> tuple[NodeConfig, ...]:
    if not isinstance(raw, dict):
        raise at.error(f"expected a mapping of node id -> node, got {_show(raw)}")
    if not raw:
        raise at.error("at least one node is required, got an empty mapping")
    nodes = []
    for node_id, node_raw in raw.items():
        if not isinstance(node_id, str) or not _ID_RE.fullmatch(node_id):
            raise at.child(node_id).error(f"a node id must match {_ID_RULE}, got {_show(node_id)}")
        nodes.append(_node(node_id, node_raw, at.child(node_id), backend, starts_nodes))
    preferred = [n.node_id for n in nodes if n.preferred]
    if not preferred:
        raise at.error("no preferred leader: give exactly one node role master or leader")
    if len(preferred) > 1:
        raise at.child(preferred[1], "role").error(
            f"several preferred leaders ({', '.join(preferred)}): "
            "exactly one node may have role master or leader"
        )
    return tuple(nodes)


def _node(node_id: str, raw: Any, at: _At, backend: str, starts_nodes: bool) -> NodeConfig:
    node = _mapping(raw, at, ("role", "http", "tcp", "cluster"))
    role = node.get("role", "follower")
    if not isinstance(role, str) or role not in _ROLES:
        raise at.child("role").error(
            f"expected one of master, leader, slave, follower, got {_show(role)}"
        )
    for name in ("http", "tcp"):
        if name not in node:
            raise at.child(name).error(
                f"required key is missing: every node needs its {name} endpoint {{host, port}}"
            )
    tcp = _node_endpoint(node["tcp"], at.child("tcp"))
    if not tcp.enabled:
        raise at.child("tcp", "enabled").error(
            "a node's TCP endpoint cannot be disabled: replication runs over it"
        )
    http = _node_endpoint(node["http"], at.child("http"))
    cluster = None
    if backend == "gate":
        if "cluster" in node:
            raise at.child("cluster").error(
                "only for backend: jetstream (a nats-server's route port)"
            )
    else:
        if not http.enabled:
            raise at.child("http", "enabled").error(
                "a nats-server's monitoring port cannot be disabled: the cluster view reads it"
            )
        if "cluster" in node:
            cluster = _node_endpoint(node["cluster"], at.child("cluster"))
            if not cluster.enabled:
                raise at.child("cluster", "enabled").error(
                    "a nats-server's route port cannot be disabled: JetStream replicates over it"
                )
        elif starts_nodes:
            raise at.child("cluster").error(
                "required key is missing: a nats-server the gateway starts needs its route "
                "port {host, port} (backend: jetstream)"
            )
    return NodeConfig(node_id=node_id, preferred=_ROLES[role], http=http, tcp=tcp, cluster=cluster)


def _node_endpoint(raw: Any, at: _At) -> Endpoint:
    fields = _mapping(raw, at, ("enabled", "host", "port"))
    for name in ("host", "port"):
        if name not in fields:
            raise at.child(name).error("required key is missing")
    return Endpoint(
        host=_host(fields["host"], at.child("host")),
        port=_port(fields["port"], at.child("port")),
        enabled=_bool(fields.get("enabled", True), at.child("enabled")),
    )


def _gateway_http(raw: Any, at: _At, default: Endpoint) -> Endpoint:
    # No `enabled` here: the gateway's HTTP endpoint is its whole interface.
    fields = _mapping(raw, at, ("host", "port"), empty_ok=True)
    return Endpoint(
        host=_host(fields.get("host", default.host), at.child("host")),
        port=_port(fields.get("port", default.port), at.child("port")),
    )


def _gateway(raw: Any, at: _At) -> GatewayConfig:
    base = GatewayConfig()
    fields = _mapping(
        raw,
        at,
        (
            "startsNodes",
            "http",
            "healthInterval",
            "requestTimeout",
            "drainTimeout",
            "startTimeout",
            "idleTimeout",
            "restart",
            "synchronizationInterval",
        ),
        empty_ok=True,
    )
    if "synchronizationInterval" in fields:  # ElysianGate's; validated, then ignored
        _seconds(fields["synchronizationInterval"], at.child("synchronizationInterval"))
    return GatewayConfig(
        starts_nodes=_bool(fields.get("startsNodes", base.starts_nodes), at.child("startsNodes")),
        http=_gateway_http(fields.get("http"), at.child("http"), base.http),
        health_interval=_seconds(
            fields.get("healthInterval", base.health_interval), at.child("healthInterval")
        ),
        request_timeout=_seconds(
            fields.get("requestTimeout", base.request_timeout), at.child("requestTimeout")
        ),
        drain_timeout=_seconds(
            fields.get("drainTimeout", base.drain_timeout), at.child("drainTimeout")
        ),
        start_timeout=_seconds(
            fields.get("startTimeout", base.start_timeout), at.child("startTimeout")
        ),
        idle_timeout=_seconds(
            fields.get("idleTimeout", base.idle_timeout), at.child("idleTimeout")
        ),
        restart=_choice(
            fields.get("restart", base.restart), at.child("restart"), _RESTART_POLICIES
        ),
    )


def _storage(raw: Any, at: _At) -> StorageConfig:
    base = StorageConfig()
    fields = _mapping(raw, at, ("dataDir", "fsync", "minFreeBytes", "repair"), empty_ok=True)
    data_dir = fields.get("dataDir", str(base.data_dir))
    if not isinstance(data_dir, str) or not data_dir.strip():
        raise at.child("dataDir").error(f"expected a directory path, got {_show(data_dir)}")
    return StorageConfig(
        data_dir=Path(os.path.abspath(Path(data_dir).expanduser())),
        fsync=_choice(fields.get("fsync", base.fsync), at.child("fsync"), _FSYNC_MODES),
        min_free_bytes=_int(
            fields.get("minFreeBytes", base.min_free_bytes), at.child("minFreeBytes"), 0
        ),
        repair=_choice(fields.get("repair", base.repair), at.child("repair"), _REPAIR_MODES),
    )


def _replication(raw: Any, at: _At) -> ReplicationConfig:
    base = ReplicationConfig()
    fields = _mapping(
        raw,
        at,
        (
            "writeQuorum",
            "freshLag",
            "tickMs",
            "electionTicks",
            "heartbeatTicks",
            "preferredLeader",
            "compactAfter",
            "traceMessages",
        ),
        empty_ok=True,
    )
    config = ReplicationConfig(
        write_quorum=_choice(
            fields.get("writeQuorum", base.write_quorum), at.child("writeQuorum"), _WRITE_QUORUMS
        ),
        fresh_lag=_int(fields.get("freshLag", base.fresh_lag), at.child("freshLag"), 0),
        tick_ms=_int(fields.get("tickMs", base.tick_ms), at.child("tickMs"), 1),
        election_ticks=_int(
            fields.get("electionTicks", base.election_ticks), at.child("electionTicks"), 2
        ),
        heartbeat_ticks=_int(
            fields.get("heartbeatTicks", base.heartbeat_ticks), at.child("heartbeatTicks"), 1
        ),
        preferred_leader=_choice(
            fields.get("preferredLeader", base.preferred_leader),
            at.child("preferredLeader"),
            _PREFERRED_LEADER,
        ),
        compact_after=_int(
            fields.get("compactAfter", base.compact_after), at.child("compactAfter"), 1
        ),
        trace_messages=_int(
            fields.get("traceMessages", base.trace_messages), at.child("traceMessages"), 0
        ),
    )
    # Followers must hear a heartbeat before their election timer (at least n ticks) runs out.
    if config.heartbeat_ticks >= config.election_ticks:
        raise at.child("heartbeatTicks").error(
            f"must be less than electionTicks ({config.election_ticks}), "
            f"got {config.heartbeat_ticks}"
        )
    return config


def _jetstream(
    raw: Any, at: _At, nodes: Sequence[NodeConfig], gateway: GatewayConfig
) -> JetStreamConfig:
    base = JetStreamConfig()
    fields = _mapping(
        raw,
        at,
        ("server", "replicas", "syncAlways", "user", "password", "credsFile", "ca"),
        empty_ok=True,
    )
    server = fields.get("server", base.server)
    if not isinstance(server, str) or not server.strip():
        raise at.child("server").error(f"expected a nats-server binary, got {_show(server)}")
    # Only a gateway that launches the servers needs the binary; it is looked up now, so a
    # typo is one line at start, not a node that never comes up.
    if gateway.starts_nodes and shutil.which(os.path.expanduser(server)) is None:
        raise at.child("server").error(
            f"no executable {server!r} (not on PATH, not a path to a program); "
            "install nats-server or give its path"
        )
    replicas = _int(fields.get("replicas", base.replicas), at.child("replicas"), 1)
    if replicas > _MAX_REPLICAS:
        raise at.child("replicas").error(
            f"JetStream keeps at most {_MAX_REPLICAS} replicas of a stream, got {replicas}"
        )
    if replicas > len(nodes):
        raise at.child("replicas").error(
            f"{replicas} replicas need at least {replicas} servers; nodes lists {len(nodes)}"
        )
    user = _secret(fields.get("user"), at.child("user"))
    password = _secret(fields.get("password"), at.child("password"))
    if (user is None) != (password is None):
        missing = "password" if password is None else "user"
        raise at.child(missing).error("required key is missing: user and password go together")
    creds = fields.get("credsFile")
    ca = fields.get("ca")
    if creds is not None and user is not None:
        raise at.child("credsFile").error("give either user/password or credsFile, not both")
    if gateway.starts_nodes:
        for name, value in (("credsFile", creds), ("ca", ca)):
            if value is not None:
                raise at.child(name).error(
                    "only to attach to a running NATS cluster (gateway.startsNodes: false); "
                    "servers the gateway starts take user/password"
                )
    return JetStreamConfig(
        server=server,
        replicas=replicas,
        sync_always=_bool(fields.get("syncAlways", base.sync_always), at.child("syncAlways")),
        user=user,
        password=password,
        creds=None if creds is None else _existing_file(creds, at.child("credsFile")),
        ca=None if ca is None else _existing_file(ca, at.child("ca")),
    )


def _existing_file(raw: Any, at: _At) -> Path:
    path = _file(raw, at)
    if not path.is_file():
        raise at.error(f"file not found: {path}")
    return path


def _stores(raw: Any, at: _At) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise at.error(f"expected a list of store ids, got {_show(raw)}")
    seen: set[str] = set()
    for index, store in enumerate(raw):
        item = _At(at.source, f"{at.key}[{index}]")
        if not isinstance(store, str) or not _ID_RE.fullmatch(store):
            raise item.error(f"a store id must match {_ID_RULE}, got {_show(store)}")
        if store in seen:
            raise item.error(f"store {store!r} is listed twice")
        seen.add(store)
    return tuple(raw)


def _security(raw: Any, at: _At, node_ids: Sequence[str]) -> SecurityConfig:
    fields = _mapping(
        raw,
        at,
        ("authToken", "clusterSecret", "tokens", "rateLimit", "tls", "insecureOk"),
        empty_ok=True,
    )
    auth_token = _secret(fields.get("authToken"), at.child("authToken"))
    tokens = _tokens(fields.get("tokens", []), at.child("tokens"))
    _check_tokens_unique(tokens, auth_token, at.child("tokens"))
    rate = fields.get("rateLimit")
    tls = fields.get("tls")
    return SecurityConfig(
        auth_token=auth_token,
        cluster_secret=_secret(fields.get("clusterSecret"), at.child("clusterSecret")),
        tokens=tokens,
        rate_limit=None if rate is None else _rate_limit(rate, at.child("rateLimit")),
        tls=None if tls is None else _tls(tls, at.child("tls"), node_ids),
        insecure_ok=_bool(fields.get("insecureOk", False), at.child("insecureOk")),
    )


def _tokens(raw: Any, at: _At) -> tuple[TokenConfig, ...]:
    if not isinstance(raw, list):
        raise at.error(f"expected a list of {{name, token, role}}, got {_show(raw)}")
    tokens = []
    for index, item_raw in enumerate(raw):
        item = _At(at.source, f"{at.key}[{index}]")
        fields = _mapping(item_raw, item, ("name", "token", "role"))
        for key in ("name", "token", "role"):
            if key not in fields:
                raise item.child(key).error("required key is missing")
        name = fields["name"]
        if not isinstance(name, str) or not _ID_RE.fullmatch(name):
            raise item.child("name").error(f"a token name must match {_ID_RULE}, got {_show(name)}")
        token = _secret(fields["token"], item.child("token"))
        assert token is not None  # present, so a string (null is refused below)
        tokens.append(TokenConfig(name, token, _choice(fields["role"], item.child("role"), ROLES)))
    return tuple(tokens)


def _check_tokens_unique(tokens: Sequence[TokenConfig], auth_token: str | None, at: _At) -> None:
    """No two tokens share a name or a secret (``authToken`` is the token named admin)."""
    names = {"admin"} if auth_token else set()
    secrets = {auth_token} if auth_token else set()
    for token in tokens:
        if token.name in names:
            raise at.error(f"two tokens are named {token.name!r} (authToken is named 'admin')")
        if token.token in secrets:
            raise at.error(f"token {token.name!r} has the same secret as another token")
        names.add(token.name)
        secrets.add(token.token)


def _rate_limit(raw: Any, at: _At) -> RateLimit:
    fields = _mapping(raw, at, ("perSecond", "burst"))
    if "perSecond" not in fields:
        raise at.child("perSecond").error("required key is missing")
    per_second = _seconds(fields["perSecond"], at.child("perSecond"))
    burst = _int(fields.get("burst", max(1, math.ceil(per_second))), at.child("burst"), 1)
    return RateLimit(per_second, burst)


def _tls(raw: Any, at: _At, node_ids: Sequence[str]) -> TlsConfig:
    fields = _mapping(raw, at, ("cert", "key", "ca", "clientAuth", "nodes"))
    for name in ("cert", "key", "ca"):
        if name not in fields:
            raise at.child(name).error("required key is missing: a PEM file path")
    nodes_at = at.child("nodes")
    nodes_raw = _mapping(fields.get("nodes"), nodes_at, node_ids, empty_ok=True)
    nodes = []
    for node_id, own in nodes_raw.items():
        own_at = nodes_at.child(node_id)
        pair = _mapping(own, own_at, ("cert", "key"))
        for name in ("cert", "key"):
            if name not in pair:
                raise own_at.child(name).error("required key is missing: a PEM file path")
        nodes.append(
            (
                node_id,
                TlsIdentity(
                    _file(pair["cert"], own_at.child("cert")),
                    _file(pair["key"], own_at.child("key")),
                ),
            )
        )
    return TlsConfig(
        cert=_file(fields["cert"], at.child("cert")),
        key=_file(fields["key"], at.child("key")),
        ca=_file(fields["ca"], at.child("ca")),
        client_auth=_bool(fields.get("clientAuth", False), at.child("clientAuth")),
        nodes=tuple(nodes),
    )


def _file(raw: Any, at: _At) -> Path:
    # Like dataDir: relative to the working directory now, so child processes get it absolute.
    if not isinstance(raw, str) or not raw.strip():
        raise at.error(f"expected a file path, got {_show(raw)}")
    return Path(os.path.abspath(Path(raw).expanduser()))


def _limits(raw: Any, at: _At) -> LimitsConfig:
    base = LimitsConfig()
    fields = _mapping(
        raw,
        at,
        (
            "maxRequestBytes",
            "maxEventsPerAppend",
            "maxHeaders",
            "maxHeaderBytes",
            "maxWebSockets",
            "maxWebSocketsPerClient",
            "webSocketSendTimeout",
        ),
        empty_ok=True,
    )

    def count(key: str, default: int) -> int:
        return _int(fields.get(key, default), at.child(key), 1)

    return LimitsConfig(
        max_request_bytes=count("maxRequestBytes", base.max_request_bytes),
        max_events_per_append=count("maxEventsPerAppend", base.max_events_per_append),
        max_headers=count("maxHeaders", base.max_headers),
        max_header_bytes=count("maxHeaderBytes", base.max_header_bytes),
        max_websockets=count("maxWebSockets", base.max_websockets),
        max_websockets_per_client=count("maxWebSocketsPerClient", base.max_websockets_per_client),
        websocket_send_timeout=_seconds(
            fields.get("webSocketSendTimeout", base.websocket_send_timeout),
            at.child("webSocketSendTimeout"),
        ),
    )


def _check_endpoints_disjoint(config: ClusterConfig, top: _At) -> None:
    """Two listening endpoints may not share a port on overlapping addresses."""
    endpoints: list[tuple[_At, Endpoint]] = []
    for node in config.nodes:
        at = top.child("nodes", node.node_id)
        endpoints.append((at.child("http"), node.http))
        endpoints.append((at.child("tcp"), node.tcp))
        if node.cluster is not None:
            endpoints.append((at.child("cluster"), node.cluster))
    endpoints.append((top.child("gateway", "http"), config.gateway.http))
    taken: list[tuple[_At, Endpoint]] = []
    for at, endpoint in endpoints:
        if not endpoint.enabled:  # a disabled endpoint does not listen
            continue
        for other_at, other in taken:
            if other.port == endpoint.port and _hosts_overlap(other.host, endpoint.host):
                raise at.child("port").error(
                    f"{endpoint.host}:{endpoint.port} overlaps {other_at.key} "
                    f"({other.host}:{other.port}); every endpoint needs its own port"
                )
        taken.append((at, endpoint))


def _hosts_overlap(a: str, b: str) -> bool:
    if a in _WILDCARD_HOSTS or b in _WILDCARD_HOSTS:
        return True
    return _loopback_alias(a) == _loopback_alias(b)


def _loopback_alias(host: str) -> str:
    return "127.0.0.1" if host.lower() == "localhost" else host.lower()


# --- scalar checks ------------------------------------------------------------------------------


def _mapping(
    raw: Any, at: _At, allowed: Sequence[str], *, empty_ok: bool = False
) -> dict[str, Any]:
    """A mapping whose keys are all in ``allowed``; ``None`` is ``{}`` when ``empty_ok``."""
    if raw is None and empty_ok:
        return {}
    if not isinstance(raw, dict):
        raise at.error(f"expected a mapping with keys {', '.join(allowed)}, got {_show(raw)}")
    for key in raw:
        if key not in allowed:
            raise at.child(key).error(f"unknown key (allowed: {', '.join(allowed)})")
    return raw


def _bool(raw: Any, at: _At) -> bool:
    if not isinstance(raw, bool):
        raise at.error(f"expected true or false, got {_show(raw)}")
    return raw


def _int(raw: Any, at: _At, low: int) -> int:
    # bool is a subclass of int in Python, but `port: true` is a mistake, not 1.
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < low:
        raise at.error(f"expected an integer >= {low}, got {_show(raw)}")
    return raw


def _port(raw: Any, at: _At) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= 65535:
        raise at.error(f"expected an integer 1-65535, got {_show(raw)}")
    return raw


def _seconds(raw: Any, at: _At) -> float:
    if (
        not isinstance(raw, int | float)
        or isinstance(raw, bool)
        or not math.isfinite(raw)
        or raw <= 0
    ):
        raise at.error(f"expected a number of seconds > 0, got {_show(raw)}")
    return float(raw)


def _host(raw: Any, at: _At) -> str:
    if not isinstance(raw, str) or not raw or any(c.isspace() for c in raw):
        raise at.error(f"expected a host name or IP address, got {_show(raw)}")
    return raw


def _choice(raw: Any, at: _At, choices: Sequence[str]) -> Any:
    if not isinstance(raw, str) or raw not in choices:
        raise at.error(f"expected one of {', '.join(choices)}, got {_show(raw)}")
    return raw


def _secret(raw: Any, at: _At) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise at.error(f"expected a non-empty string or null, got {_show(raw)}")
    return raw


def _show(value: Any) -> str:
    """A value as an error message shows it: short, on one line, YAML words for YAML things."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    shown = repr(value)
    return shown if len(shown) <= _MAX_SHOWN else shown[: _MAX_SHOWN - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- printing -----------------------------------------------------------------------------------


def dump_config(config: ClusterConfig, *, redact: bool = False) -> str:
    """The config as YAML in the file format, every default spelled out and dataDir absolute.

    Loading the text back gives an equal config (apart from ``source``), so a launcher can hand
    child processes an exact copy; ``redact`` hides the secrets for display.
    """

    def secret(value: str | None) -> str | None:
        return "<hidden>" if redact and value is not None else value

    gateway, replication = config.gateway, config.replication
    jetstream = config.jetstream
    raw: dict[str, Any] = {
        "backend": config.backend,
        "nodes": {
            node.node_id: {
                "role": "leader" if node.preferred else "follower",
                "http": _endpoint_raw(node.http),
                "tcp": _endpoint_raw(node.tcp),
                **({} if node.cluster is None else {"cluster": _endpoint_raw(node.cluster)}),
            }
            for node in config.nodes
        },
        "gateway": {
            "startsNodes": gateway.starts_nodes,
            "http": {"host": gateway.http.host, "port": gateway.http.port},
            "healthInterval": gateway.health_interval,
            "requestTimeout": gateway.request_timeout,
            "drainTimeout": gateway.drain_timeout,
            "startTimeout": gateway.start_timeout,
            "idleTimeout": gateway.idle_timeout,
            "restart": gateway.restart,
        },
        "storage": {
            "dataDir": str(config.storage.data_dir),
            "fsync": config.storage.fsync,
            "minFreeBytes": config.storage.min_free_bytes,
            "repair": config.storage.repair,
        },
        "replication": {
            "writeQuorum": replication.write_quorum,
            "freshLag": replication.fresh_lag,
            "tickMs": replication.tick_ms,
            "electionTicks": replication.election_ticks,
            "heartbeatTicks": replication.heartbeat_ticks,
            "preferredLeader": replication.preferred_leader,
            "compactAfter": replication.compact_after,
            "traceMessages": replication.trace_messages,
        },
        "stores": list(config.stores),
        "security": {
            "authToken": secret(config.security.auth_token),
            "clusterSecret": secret(config.security.cluster_secret),
            "tokens": [
                {"name": t.name, "token": secret(t.token), "role": t.role}
                for t in config.security.tokens
            ],
            "rateLimit": None
            if (rate := config.security.rate_limit) is None
            else {"perSecond": rate.per_second, "burst": rate.burst},
            "tls": _tls_raw(config.security.tls),
            "insecureOk": config.security.insecure_ok,
        },
        "limits": {
            "maxRequestBytes": config.limits.max_request_bytes,
            "maxEventsPerAppend": config.limits.max_events_per_append,
            "maxHeaders": config.limits.max_headers,
            "maxHeaderBytes": config.limits.max_header_bytes,
            "maxWebSockets": config.limits.max_websockets,
            "maxWebSocketsPerClient": config.limits.max_websockets_per_client,
            "webSocketSendTimeout": config.limits.websocket_send_timeout,
        },
    }
    if config.backend == "jetstream":
        raw["jetstream"] = {
            "server": jetstream.server,
            "replicas": jetstream.replicas,
            "syncAlways": jetstream.sync_always,
            "user": jetstream.user,
            "password": secret(jetstream.password),
            "credsFile": None if jetstream.creds is None else str(jetstream.creds),
            "ca": None if jetstream.ca is None else str(jetstream.ca),
        }
    return yaml.safe_dump(raw, sort_keys=False, default_flow_style=None)


def _tls_raw(tls: TlsConfig | None) -> dict[str, Any] | None:
    if tls is None:
        return None
    return {
        "cert": str(tls.cert),
        "key": str(tls.key),
        "ca": str(tls.ca),
        "clientAuth": tls.client_auth,
        "nodes": {
            node_id: {"cert": str(own.cert), "key": str(own.key)} for node_id, own in tls.nodes
        },
    }


def _endpoint_raw(endpoint: Endpoint) -> dict[str, Any]:
    return {"enabled": endpoint.enabled, "host": endpoint.host, "port": endpoint.port}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m engine.config [FILE]``: print the resolved config, or the error (exit 2)."""
    parser = argparse.ArgumentParser(
        prog="python -m engine.config",
        description="Validate a Gate config file and print it with every default filled in\n"
        "(secrets hidden); a mistake is one line naming the file and the key (exit 2).",
        epilog="example:\n  python -m engine.config examples/cluster-5-nodes.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", nargs="?", help="the YAML config (default: the bundled one)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.file) if args.file else load_default_config()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"# {config.source}: valid; resolved with defaults (secrets hidden)")
    print(dump_config(config, redact=True), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
