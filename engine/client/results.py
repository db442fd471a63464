"""The answers of ``GateClient``, typed: one ``TypedDict`` per body of docs/API.md.

They stay plain dicts at run time (what the gateway sent, decoded), so nothing is copied; mypy
checks every key a caller reads.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class Whoami(TypedDict):
    """Who the client's token belongs to (``auth`` "none": no token is configured, all admin)."""

    name: str
    role: Literal["reader", "writer", "admin"]
    auth: Literal["token", "none"]


class EventRecord(TypedDict):
    """One stored event (docs/API.md, "Events")."""

    event_id: str
    event_type: str
    stream_id: str
    event_number: int
    position: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    created: str
    created_epoch: int


class Delivery(EventRecord):
    """An event a persistent subscription delivers, with its delivery attempt (1 at first)."""

    attempt: int


class Appended(TypedDict):
    """The version and position of an append's last event."""

    version: int
    position: int


class StreamSlice(TypedDict):
    """A page of one stream: its current version (-1 when missing) and the events read."""

    stream_id: str
    version: int
    events: list[EventRecord]


class StreamInfo(TypedDict):
    """A stream and its version."""

    stream_id: str
    version: int


class StoreSummary(TypedDict):
    """A store's status and counts, as the list of stores gives them."""

    store_id: str
    status: str
    streams: int
    events: int
    last_position: int


class StoreInfo(StoreSummary):
    """One store, with its config."""

    config: dict[str, Any]


class Snapshot(TypedDict):
    """A recorded snapshot."""

    source_uuid: str
    stream_uuid: str
    source_version: int
    source_type: str | None
    data: dict[str, Any]
    metadata: dict[str, Any]
    created_at: str
    created_epoch: int


class SubscriptionPut(TypedDict):
    """Whether a subscription definition was new."""

    name: str
    created: bool


class SubscriptionInfo(TypedDict):
    """A persistent subscription: its definition, checkpoint and counters."""

    name: str
    type: str
    selector: Any
    start_from: int | str
    ack_timeout_ms: int
    max_retries: int
    max_in_flight: int
    checkpoint: int | None
    consumers: int
    in_flight: int
    parked: int
    delivered: int
    acked: int
    nacked: int


class Probe(TypedDict):
    """One of a node's endpoints as the gateway's health checks see it."""

    addr: str
    enabled: bool
    up: bool
    latency_ms: float | None


# The peers a node's Raft links are cut from, each way ("in" is a keyword: the functional form).
Cuts = TypedDict("Cuts", {"in": list[str], "out": list[str]})


class LogSpan(TypedDict):
    """The span of the Raft log a node holds (entries before it are compacted away)."""

    first_index: int
    last_index: int


class ElectionTimer(TypedDict):
    """A node's election timer as of its status: it campaigns when elapsed reaches timeout (a
    leader: it checks it still hears a quorum)."""

    elapsed_ms: int
    timeout_ms: int


class FollowerProgress(TypedDict):
    """What the leader knows of one follower's log: match and next index, and its state."""

    match: int
    next: int
    state: Literal["probe", "replicate", "snapshot"]


class RepairDone(TypedDict):
    """A node's last finished self-repair (docs/ENGINE.md, "Self-repair")."""

    reason: str
    source: str | None  # the leader it repaired from
    seconds: float  # from the damage to the snapshot installed
    at: float  # epoch seconds


class TempoView(TypedDict):
    """The cluster's tempo: ``scale`` times slower than the config's timing (1: full speed)."""

    scale: int
    since: float  # when it was set, epoch seconds (0: never)


class TempoAnswer(TempoView):
    """``POST /api/cluster/tempo``: the nodes told, and those to be told once they answer."""

    nodes: list[str]
    pending: list[str]


# One direction of one link made lossy, slow or repetitive (``from``: a keyword).
LinkFaultView = TypedDict(
    "LinkFaultView",
    {"from": str, "to": str, "drop": float, "delayMs": int, "duplicate": float, "seed": int},
)


class LinkFaultsAnswer(TypedDict):
    """``GET /api/cluster/links``: every fault, and the nodes that did not answer."""

    links: list[LinkFaultView]
    unreachable: list[str]


class LinkFaultsCleared(TypedDict):
    """``DELETE /api/cluster/links``: the senders cleared, and those that did not answer."""

    cleared: list[str]
    unreachable: list[str]


class MessageDropped(TypedDict):
    """``POST /api/cluster/links/drop``: the message dropped in flight, and where it was going."""

    node: str
    id: int
    to: str
    type: str


class _NodeFaults(TypedDict, total=False):
    link_faults: list[LinkFaultView]  # its outgoing link faults


class NodeView(_NodeFaults):
    """One node in the cluster view."""

    node_id: str
    role: Literal["leader", "follower", "candidate", "down"]
    preferred: bool
    voter: bool  # False for a learner: it gets the log but neither votes nor counts for commit
    http: Probe
    tcp: Probe
    term: int | None
    commit_position: int | None
    applied_position: int | None
    lag: int | None
    fresh: bool
    serving: bool
    managed: bool
    pid: int | None
    state: str | None
    restarts: int  # times the gateway started it again after it exited on its own
    exit_code: int | None  # of its last such exit (negative: the signal)
    isolated: bool  # every Raft link cut both ways
    cuts: Cuts
    disk_full: str | None  # why it takes no new entries
    damaged: str | None  # why it serves no reads
    repairing: str | None  # why it rebuilds its data from the leader (self-repair)
    repaired: RepairDone | None  # its last finished repair
    log: LogSpan | None  # null for a node that does not answer
    # Its inside, from its status; null for a node that does not answer.
    voted_for: str | None  # in its current term
    started_at: float | None  # epoch seconds, when its process started
    uptime_s: float | None  # seconds since then, as of the gateway's last probe
    election_timer: ElectionTimer | None
    progress: dict[str, FollowerProgress] | None  # on the leader only
    handed_over: bool  # on the leader: it was handed the leadership (a transfer)


class LinksAnswer(TypedDict):
    """A node's links after ``isolate`` or ``heal``."""

    node_id: str
    action: Literal["isolate", "heal"]
    accepted: bool
    isolated: bool
    cuts: Cuts


# A leadership hand-over that has started: ``from`` the leader (a keyword: the functional form);
# backend jetstream: ``streams``, each store stream handed over with its leader before.
TransferAnswer = TypedDict(
    "TransferAnswer",
    {
        "node_id": str,
        "action": Literal["transfer"],
        "accepted": bool,
        "from": str | None,
        "already_leader": bool,
        "streams": NotRequired[dict[str, str | None]],
    },
)


class MemberAnswer(TypedDict):
    """``POST /api/cluster/nodes`` or ``DELETE /api/cluster/nodes/{id}``: the change is in the
    log (committed) at ``index``."""

    node_id: str
    action: Literal["add", "remove"]
    accepted: bool
    index: int


class StreamReplicaView(TypedDict):
    """A follower of a JetStream stream, as the stream's leader reports it."""

    node_id: str
    current: bool
    lag: int  # messages it trails the leader by
    offline: bool


class StreamView(TypedDict):
    """``backend: jetstream``: one stream of the cluster view (docs/ENGINE.md, "JetStream")."""

    stream: str
    leader: str | None
    messages: int | None
    last_seq: int | None
    replicas: list[StreamReplicaView]


class _Exposure(TypedDict, total=False):
    # Not NotRequired[...]: under postponed annotations Python 3.11 counts that key required.
    insecure: list[str]  # GET /api/cluster only: endpoints open without a token or TLS
    tempo: TempoView
    backend: Literal["jetstream"]  # only on a JetStream cluster's view
    streams: list[StreamView]  # only on a JetStream cluster's view
    unsupported: list[str]  # GET /api/cluster only: the cluster operations the backend refuses


class ClusterView(_Exposure):
    """``GET /api/cluster``: the leader, the term and every node."""

    leader: str | None
    term: int | None
    nodes: list[NodeView]


class NodeLogLine(TypedDict):
    """One line of a node's log."""

    seq: int
    time: float
    level: Literal["info", "warning", "error"]
    kind: str
    text: str


class NodeLogPage(TypedDict):
    """A page of one node's log (docs/API.md, "Node log")."""

    node_id: str
    started_at: float
    last_seq: int
    missed: int
    lines: list[NodeLogLine]


class EventsMessage(TypedDict):
    """An observer's batch of matching events."""

    type: Literal["events"]
    events: list[EventRecord]


class DroppedMessage(TypedDict):
    """The observer was too slow: ``count`` matching events were dropped."""

    type: Literal["dropped"]
    count: int


class LiveMessage(TypedDict):
    """Caught up: live from ``position`` on (once per connection)."""

    type: Literal["live"]
    position: int


# What ``GateClient.observe`` yields (an ``error`` message is raised as a ``GateError``).
ObserverMessage = EventsMessage | DroppedMessage | LiveMessage


class TraceBatch(TypedDict):
    """One interval of the Raft message trace (docs/API.md, "Message trace"); each line is a
    ``message``, ``summary``, ``heartbeats`` or ``missed`` object, told apart by ``kind``."""

    type: Literal["trace"]
    time: float
    interval: float
    lines: list[dict[str, Any]]


class InsideMessage(TypedDict):
    """The nodes whose inside changed (docs/API.md, "Nodes' inside"): each as the cluster
    view's fields ``role``, ``term``, ``leader``, ``voted_for``, ``commit_position``,
    ``applied_position``, ``log``, ``election_timer``, ``progress``; null for a node the gateway
    could not ask this round."""

    type: Literal["inside"]
    time: float
    nodes: dict[str, dict[str, Any] | None]


class ClusterViewEvent(ClusterView):
    """The cluster view, at once and after every health round."""

    type: Literal["cluster"]


class NodeUpDown(TypedDict):
    """A node began or stopped answering."""

    type: Literal["node_up", "node_down"]
    node_id: str
    role: str
    http: Probe
    tcp: Probe


class LinksChanged(TypedDict):
    """A node that answers reports other cut links than before."""

    type: Literal["links_changed"]
    node_id: str
    isolated: bool
    cuts: Cuts


class LinkFaultsChanged(TypedDict):
    """A node that answers reports other outgoing link faults than before."""

    type: Literal["link_faults_changed"]
    node_id: str
    faults: list[LinkFaultView]


class TempoChanged(TypedDict):
    """The cluster's tempo changed."""

    type: Literal["tempo_changed"]
    scale: int
    previous: int


class NodeRestarted(TypedDict):
    """The gateway restarted a node that exited on its own."""

    type: Literal["node_restarted"]
    node_id: str
    restarts: int
    exit_code: int | None


class NodeDamaged(TypedDict):
    """A node that answers starts (``damaged``: why) or stops (None) refusing reads."""

    type: Literal["node_damaged"]
    node_id: str
    damaged: str | None


class LeaderChanged(TypedDict):
    """Another leader (or none) in the gateway's view."""

    type: Literal["leader_changed"]
    leader: str | None
    previous: str | None
    term: int | None


class StreamLeaderChanged(TypedDict):
    """``backend: jetstream``: a stream's Raft group has another leader (None: none yet)."""

    type: Literal["stream_leader_changed"]
    stream: str
    leader: str | None
    previous: str | None


class MemberAdded(TypedDict):
    """A node joined the cluster (as a learner: ``voter`` False, until it is promoted)."""

    type: Literal["member_added"]
    node_id: str
    voter: bool


class MemberPromoted(TypedDict):
    """A learner caught up and became a voter."""

    type: Literal["member_promoted"]
    node_id: str


class MemberRemoved(TypedDict):
    """A node left the cluster."""

    type: Literal["member_removed"]
    node_id: str


# What ``GateClient.cluster_events`` yields (docs/API.md, "Cluster").
ClusterEvent = (
    ClusterViewEvent
    | NodeUpDown
    | LeaderChanged
    | StreamLeaderChanged
    | LinksChanged
    | LinkFaultsChanged
    | TempoChanged
    | NodeRestarted
    | NodeDamaged
    | MemberAdded
    | MemberPromoted
    | MemberRemoved
)
