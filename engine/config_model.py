"""The typed cluster configuration (what a YAML config file becomes once validated)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

WriteQuorum = Literal["majority", "all", "leader"]
FsyncMode = Literal["always", "os"]
PreferredLeader = Literal["sticky", "return"]
RestartPolicy = Literal["on-failure", "never"]
RepairMode = Literal["auto", "manual"]
# What the nodes of the config are: Gate's own nodes, or nats-servers (docs/ENGINE.md, "JetStream").
Backend = Literal["gate", "jetstream"]
# What a bearer token may do (docs/API.md, "Roles"): each role can do all the one before it can.
Role = Literal["reader", "writer", "admin"]
ROLES: tuple[Role, ...] = ("reader", "writer", "admin")


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    enabled: bool = True

    @property
    def connect_host(self) -> str:
        """Where a client connects: a wildcard bind address means this machine."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host

    @property
    def addr(self) -> str:
        return f"{self.connect_host}:{self.port}"


@dataclass(frozen=True, slots=True)
class NodeConfig:
    node_id: str
    preferred: bool
    http: Endpoint
    tcp: Endpoint
    # backend jetstream: the nats-server's route port (its http is the monitoring port, tcp the
    # client port); None on a Gate node.
    cluster: Endpoint | None = None

    @property
    def config_role(self) -> str:
        return "leader" if self.preferred else "follower"


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    starts_nodes: bool = True
    http: Endpoint = field(default_factory=lambda: Endpoint("127.0.0.1", 8899))
    health_interval: float = 1.0
    request_timeout: float = 5.0  # deadline for routing and retrying one request
    drain_timeout: float = 5.0  # SIGTERM -> SIGKILL grace for managed nodes
    start_timeout: float = 15.0  # how long a launched node may take to answer /health
    # Every HTTP listener (gateway and nodes) closes a connection that sends no whole request
    # head, or no whole body, within this long (docs/ENGINE.md, "HTTP listeners").
    idle_timeout: float = 10.0
    # What the supervisor does when a managed node exits without being told to.
    restart: RestartPolicy = "on-failure"


@dataclass(frozen=True, slots=True)
class StorageConfig:
    data_dir: Path = Path("data")
    fsync: FsyncMode = "always"
    # Below this much free space a node takes no more entries (engine/storage/free_space.py).
    min_free_bytes: int = 64 * 1024 * 1024
    # A node that finds its files damaged rebuilds them from the leader ("auto"), or refuses
    # to start until an operator asks it to ("manual"; engine/node/repair.py).
    repair: RepairMode = "auto"


@dataclass(frozen=True, slots=True)
class ReplicationConfig:
    write_quorum: WriteQuorum = "majority"
    fresh_lag: int = 0
    tick_ms: int = 50  # one clock tick of the replication core
    election_ticks: int = 6  # election timeout is randomized in [n, 2n) ticks
    heartbeat_ticks: int = 1
    # "return": after a failover the preferred node takes leadership back once it is caught up.
    preferred_leader: PreferredLeader = "sticky"
    # Log entries kept behind the stores' durably applied index; older ones are compacted away.
    compact_after: int = 10_000
    # Raft messages each node keeps in its trace ring (docs/API.md, "Message trace"); 0: none.
    trace_messages: int = 4096


@dataclass(frozen=True, slots=True)
class TlsIdentity:
    """A certificate and its private key (PEM files)."""

    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """``security.tls``: every listener serves TLS and every cluster link verifies its peer.

    ``cert``/``key`` are the gateway's, and every node's that ``nodes`` does not give its own.
    ``ca`` verifies the nodes' certificates on every link (and clients' with ``client_auth``).
    """

    cert: Path
    key: Path
    ca: Path
    client_auth: bool = False
    nodes: tuple[tuple[str, TlsIdentity], ...] = ()

    def identity(self, node_id: str | None) -> TlsIdentity:
        """The certificate ``node_id`` serves (None: the gateway)."""
        own = dict(self.nodes).get(node_id) if node_id is not None else None
        return own or TlsIdentity(self.cert, self.key)


@dataclass(frozen=True, slots=True)
class TokenConfig:
    name: str  # who holds it, as /api/whoami and the logs name them
    token: str
    role: Role


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket per bearer token (per client address without one)."""

    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    auth_token: str | None = None  # an admin token named "admin"
    cluster_secret: str | None = None
    tokens: tuple[TokenConfig, ...] = ()
    rate_limit: RateLimit | None = None
    tls: TlsConfig | None = None
    # Silences the start-up warning about endpoints exposed without a token or TLS.
    insecure_ok: bool = False

    @property
    def all_tokens(self) -> tuple[TokenConfig, ...]:
        """Every token the API takes: ``authToken`` (as admin) and ``tokens``."""
        admin = (TokenConfig("admin", self.auth_token, "admin"),) if self.auth_token else ()
        return admin + self.tokens

    @property
    def admin_token(self) -> str | None:
        """A token that may do everything (for what starts the cluster); None when none is."""
        return next((t.token for t in self.all_tokens if t.role == "admin"), None)


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    max_request_bytes: int = 4 * 1024 * 1024
    max_events_per_append: int = 10_000
    max_headers: int = 64  # header lines in one request, else 400
    max_header_bytes: int = 8190  # one header line, else 400
    max_websockets: int = 1000  # open WebSockets of a listener, else 503
    max_websockets_per_client: int = 100  # open WebSockets of one client address, else 429
    # A WebSocket whose client reads nothing for this long while a message waits is closed (1013).
    websocket_send_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class JetStreamConfig:
    """``jetstream``: the nats-servers of ``backend: jetstream`` and how the gateway reaches them.

    ``user``/``password`` or ``creds`` authenticate the gateway's NATS connections (a server the
    gateway starts gets ``user``/``password`` as its authorization); ``ca`` verifies servers
    that serve TLS (attached clusters only).
    """

    server: str = "nats-server"  # the binary the gateway launches (a name on PATH or a path)
    replicas: int = 3  # each store stream's replicas
    sync_always: bool = False  # sync_interval: always (fsync every write; nats-server >= 2.10)
    user: str | None = None
    password: str | None = None
    creds: Path | None = None
    ca: Path | None = None


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    source: str  # the file it came from ("<bundled default>" for the packaged one)
    nodes: tuple[NodeConfig, ...]
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    replication: ReplicationConfig = field(default_factory=ReplicationConfig)
    stores: tuple[str, ...] = ("reg_gh",)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    backend: Backend = "gate"
    jetstream: JetStreamConfig = field(default_factory=JetStreamConfig)

    def node(self, node_id: str) -> NodeConfig:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(node_id)

    @property
    def node_ids(self) -> tuple[str, ...]:
        return tuple(n.node_id for n in self.nodes)

    @property
    def preferred_node(self) -> str | None:
        return next((n.node_id for n in self.nodes if n.preferred), None)

    def node_data_dir(self, node_id: str) -> Path:
        return self.storage.data_dir / node_id
