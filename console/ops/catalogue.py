"""Every operation of the two consoles, listed once.

The menu shell's numbered menu, the dashboard's panel keys and footers, its command palette and
its help screen are all generated from :data:`CATALOGUE`, so an operation added here shows in
each place it belongs, with the same title.  The menu keeps its numbers (the classic 15, then the
cluster lab from 16): lessons and docs/CONSOLE.md cite them.

``Name`` is a ``Literal``: the dashboard dispatches on it with a ``match`` that mypy checks is
exhaustive, so an entry cannot be left without its handler.

Each entry names the role its requests need (docs/API.md, "Roles"): both consoles hide what the
session's role does not allow from their menus, keys, palette and help, and refuse it in one
line (:func:`refusal`) when it is asked for anyway.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from engine.config_model import ROLES, Role

Name = Literal[
    "observer_by_stream",
    "observer_by_type",
    "observer_by_payload",
    "list_observers",
    "monitor",
    "stop_observer",
    "toggle_feed",
    "start_producers",
    "stop_producer",
    "list_producers",
    "create_subscription",
    "list_subscriptions",
    "delete_subscription",
    "toggle_consumer",
    "consumer_policy",
    "replay_parked",
    "view_stream",
    "browse_stream",
    "append_events",
    "append_event",
    "greenhouse",
    "take_snapshot",
    "cluster_status",
    "node_detail",
    "node_stop",
    "node_kill",
    "node_start",
    "node_restart",
    "node_pause",
    "node_resume",
    "node_log",
    "transfer_leader",
    "isolate_node",
    "heal_node",
    "add_node",
    "remove_node",
    "set_tempo",
    "tempo_slower",
    "tempo_faster",
    "tempo_normal",
    "link_fault",
    "drop_message",
    "message_trace",
    "filter_feed",
    "switch_store",
    "exit",
]
# What an operation acts on: the dashboard gives it the selected row of that kind (the open
# stream) when it was not named; ``Operation.target`` is None for one that needs none.
Target = Literal["node", "observer", "producer", "subscription", "stream"]
EXIT = 15  # the classic menu's last option
Panel = Literal["cluster", "feed", "observers", "producers", "subscriptions", "streams", "messages"]
# The dashboard's panels in the order of their number keys (1-7), with their titles.
PANELS: tuple[tuple[Panel, str], ...] = (
    ("cluster", "Cluster"),
    ("feed", "Feed"),
    ("observers", "Observers"),
    ("producers", "Producers"),
    ("subscriptions", "Subscriptions"),
    ("streams", "Streams"),
    ("messages", "Messages"),
)


@dataclass(frozen=True, slots=True)
class Key:
    """A dashboard key that runs an operation on a panel (``None``: everywhere)."""

    panel: Panel | None
    key: str  # Textual's key name: "n", "space", "slash"
    label: str  # the footer's word
    words: str  # the help screen's words
    rank: int = 0  # a panel lists its keys by rank, then in the catalogue's order
    footer: bool = True  # False: in the help and the palette only (the footer is full at 80)

    @property
    def shown(self) -> str:
        """The key as the help screen shows it."""
        shown = {"space": "space", "slash": "/", "minus": "-", "plus": "+", "equals_sign": "="}
        return shown.get(self.key, self.key)


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation: its menu number (if the menu has it), its dashboard keys and whether
    the command palette lists it."""

    name: Name
    title: str
    help: str
    number: int | None = None
    keys: tuple[Key, ...] = ()
    palette: bool = True
    target: Target | None = None
    destructive: bool = False  # asked about first (unless confirmations are off)
    # The palette's entry for one node, ``{node}`` replaced: "Transfer leadership to {node}";
    # a node action's is "Kill {node}".
    per_node: str | None = None
    role: Role = "reader"  # what the gateway asks of the token for its requests
    # The cluster operation of the gateway's backend it needs (``unsupported`` in the cluster
    # view, docs/API.md): a backend without it (JetStream's) hides it.
    needs: str | None = None

    def allowed(self, role: Role) -> bool:
        """Whether a console running as ``role`` may run it."""
        return ROLES.index(role) >= ROLES.index(self.role)

    def offered(self, unsupported: Collection[str]) -> bool:
        """Whether the cluster's backend has what it needs (``unsupported``: what it has not)."""
        return self.needs is None or self.needs not in unsupported

    @property
    def option(self) -> str:
        """How the menu shell names it: ``option 13``."""
        return f"option {self.number}"

    @property
    def key_hint(self) -> str:
        """How the dashboard names it: ``key a in Streams`` (its first key)."""
        key = self.keys[0]
        return f"key {key.shown}" + ("" if key.panel is None else f" in {dict(PANELS)[key.panel]}")

    @property
    def node_action(self) -> str | None:
        """``kill`` for ``node_kill``; None for an operation that is not a node process action
        (the gateway's ``POST /api/cluster/nodes/{id}/{action}``)."""
        if self.target == "node" and self.name.startswith("node_"):
            return self.name.removeprefix("node_")
        return None

    def palette_title(self, node_id: str) -> str:
        """The command palette's entry for this operation on one node."""
        if self.per_node is not None:
            return self.per_node.format(node=node_id)
        return f"{(self.node_action or self.title).capitalize()} {node_id}"


def _k(
    panel: Panel | None,
    key: str,
    label: str,
    words: str | None = None,
    rank: int = 0,
    *,
    footer: bool = True,
) -> Key:
    return Key(panel, key, label, words or label.lower(), rank, footer)


def _node(name: Name, number: int, key: str, help: str, destructive: bool = False) -> Operation:
    action = name.removeprefix("node_")
    return Operation(
        name,
        f"{action.capitalize()} Node",
        help,
        number,
        (_k("cluster", key, action.capitalize()),),
        target="node",
        destructive=destructive,
        role="admin",
    )


# In the dashboard's order (panel by panel, as the footers show the keys); the menu sorts by number.
CATALOGUE: tuple[Operation, ...] = (
    _node("node_stop", 17, "s", "a graceful stop", destructive=True),
    _node("node_kill", 18, "k", "SIGKILL: the process dies at once", destructive=True),
    _node("node_pause", 21, "p", "SIGSTOP: the process freezes"),
    _node("node_resume", 22, "u", "SIGCONT: a paused node goes on"),
    _node("node_restart", 20, "r", "stop, then start again"),
    _node("node_start", 19, "t", "start a node that is down"),
    Operation(
        "isolate_node",
        "Isolate Node",
        "cut its Raft links: to every peer, or some, one way or both",
        30,
        (_k("cluster", "i", "Cut", "isolate it (or cut some links)"),),
        target="node",
        per_node="Isolate {node}",
        role="admin",
        needs="isolate",
    ),
    Operation(
        "heal_node",
        "Heal Node",
        "restore every cut Raft link of the node",
        31,
        (_k("cluster", "h", "Heal", "heal its links", footer=False),),
        target="node",
        per_node="Heal {node}",
        role="admin",
        needs="isolate",
    ),
    Operation(
        "transfer_leader",
        "Transfer Leadership",
        "hand the leader's role to the selected node",
        29,
        (_k("cluster", "l", "Lead", "transfer leadership to it", footer=False),),
        target="node",
        per_node="Transfer leadership to {node}",
        role="admin",
        needs="transfer",
    ),
    Operation(
        "add_node",
        "Add Node",
        "a new member: it joins as a learner, then votes once caught up",
        32,
        (_k("cluster", "a", "Add", "add a node", footer=False),),
        role="admin",
        needs="membership",
    ),
    Operation(
        "remove_node",
        "Remove Node",
        "take the selected node out of the cluster",
        33,
        (_k("cluster", "x", "Remove", "remove it from the cluster", footer=False),),
        target="node",
        destructive=True,
        per_node="Remove {node} from the cluster",
        role="admin",
        needs="membership",
    ),
    Operation(
        "link_fault",
        "Link Faults",
        "make a node's Raft link to a peer lossy, slow or repeating (all zero clears)",
        35,
        (_k("cluster", "f", "Faults", "make its links lossy or slow", footer=False),),
        target="node",
        per_node="Link faults from {node}",
        role="admin",
        needs="links",
    ),
    Operation(
        "message_trace",
        "Message Trace",
        "the cluster's Raft messages as they go, for N seconds (the dashboard: its Messages panel)",
        36,
        palette=False,
        needs="trace",
    ),
    Operation(
        "drop_message",
        "Drop Message",
        "drop the selected Raft message (Messages panel) while it is still on its way",
        keys=(_k("messages", "d", "Drop", "drop the selected message while in flight"),),
        role="admin",
        needs="trace",
    ),
    Operation(
        "set_tempo",
        "Slow Motion",
        "run the cluster N times slower: elections, heartbeats, messages (1: full speed)",
        34,
        role="admin",
        needs="tempo",
    ),
    Operation(
        "tempo_slower",
        "Slow Down",
        "one step slower: 2, 5, 10, 20, 50, then 100 times slower than the config",
        keys=(_k(None, "minus", "Slower", "slow the cluster down", footer=False),),
        role="admin",
        needs="tempo",
    ),
    Operation(
        "tempo_faster",
        "Speed Up",
        "one step back toward full speed",
        keys=(_k(None, "plus", "Faster", "speed the cluster up", footer=False),),
        role="admin",
        needs="tempo",
    ),
    Operation(
        "tempo_normal",
        "Normal Tempo",
        "full speed again",
        keys=(_k(None, "equals_sign", "Normal", "full speed again", footer=False),),
        role="admin",
        needs="tempo",
    ),
    Operation("cluster_status", "Get Cluster Status", "the leader and every node's health", 14),
    Operation("node_detail", "Node Health Detail", "one node in detail", 16, palette=False),
    Operation(
        "node_log",
        "Node Log",
        "the selected node's recent log: elections, votes, catch-up",
        28,
        palette=False,
        needs="node_log",
    ),
    Operation(
        "observer_by_stream",
        "Create Observer by Stream",
        "watch $all or one stream",
        1,
        (_k("observers", "n", "Stream", "by stream"),),
    ),
    Operation(
        "observer_by_type",
        "Create Observer by Event Type",
        "watch one event type",
        2,
        (_k("observers", "e", "Type", "by type"),),
    ),
    Operation(
        "observer_by_payload",
        "Create Observer by Event Payload",
        'e.g. %{operator: "John"}',
        3,
        (_k("observers", "p", "Payload", "by payload"),),
    ),
    Operation(
        "stop_observer",
        "Stop Observer",
        "stop the selected observer",
        6,
        (_k("observers", "d", "Stop"),),
        target="observer",
    ),
    Operation(
        "monitor",
        "Monitor Specific Observer",
        "show only the selected observer (or consumer) in the feed",
        5,
        (_k("observers", "m", "Monitor"), _k("subscriptions", "m", "Monitor", rank=1)),
        # No target: an observer or a subscription's consumer, by the panel it is run from.
    ),
    Operation(
        "toggle_feed",
        "Observer in the Feed",
        "put the selected observer in or out of the feed",
        keys=(_k("observers", "space", "Feed"),),
        palette=False,
        target="observer",
    ),
    Operation("list_observers", "List Active Observers", "the observers and their counts", 4),
    Operation(
        "start_producers",
        "Start Producers",
        "greenhouse producers (default 3)",
        7,
        (_k("producers", "n", "Start", "start producers"),),
        role="writer",
    ),
    Operation(
        "stop_producer",
        "Stop Producer",
        "stop the selected producer",
        8,
        (_k("producers", "d", "Stop", "stop the selected one"),),
        target="producer",
    ),
    Operation("list_producers", "List Active Producers", "the producers and their rates", 9),
    Operation(
        "create_subscription",
        "Create Subscription",
        "a persistent subscription, consumed here",
        10,
        (_k("subscriptions", "n", "New"),),
        role="writer",
    ),
    Operation(
        "delete_subscription",
        "Delete Subscription",
        "delete the selected subscription",
        keys=(_k("subscriptions", "d", "Delete"),),
        target="subscription",
        destructive=True,
        role="writer",
    ),
    Operation(
        "toggle_consumer",
        "Consume Here",
        "start/stop this console's consumer",
        keys=(_k("subscriptions", "c", "Consume"),),
        target="subscription",
        role="writer",
    ),
    Operation(
        "consumer_policy",
        "Set Consumer Ack Policy",
        "ack all, or nack every Nth event",
        26,
        (_k("subscriptions", "a", "Ack/nack"),),
        target="subscription",
        role="writer",
    ),
    Operation(
        "replay_parked",
        "Replay Parked Events",
        "of the selected subscription",
        27,
        (_k("subscriptions", "r", "Replay"),),
        target="subscription",
        role="writer",
    ),
    Operation("list_subscriptions", "List Subscriptions", "checkpoints and counters", 11),
    Operation("view_stream", "View Stream Data", "a stream's first events", 12, palette=False),
    Operation(
        "browse_stream",
        "Browse Stream",
        "read a stream from a version, either way",
        25,
        (_k("streams", "b", "Browse"),),
        target="stream",
    ),
    Operation(
        "append_events",
        "Append Events Manually",
        "random greenhouse events (default 5)",
        13,
        (_k("streams", "a", "Append"),),
        target="stream",
        role="writer",
    ),
    Operation(
        "append_event",
        "Append a Chosen Event",
        "a type from the catalogue and its data",
        24,
        (_k("streams", "e", "Event"),),
        target="stream",
        role="writer",
    ),
    Operation(
        "greenhouse",
        "Greenhouse & Snapshots",
        "the aggregate and its snapshots",
        23,
        (_k("streams", "g", "House"),),
        target="stream",
    ),
    Operation(
        "take_snapshot",
        "Take a Snapshot",
        "record the open greenhouse's snapshot",
        palette=False,
        target="stream",
        role="writer",
    ),
    Operation(
        "filter_feed",
        "Filter the Live Feed",
        "show lines containing a text",
        keys=(_k(None, "slash", "Filter", "filter the live feed"),),
    ),
    Operation(
        "switch_store",
        "Switch Store",
        "work on another store (an admin's console may create one)",
        keys=(_k(None, "S", "Store", "switch to another store", footer=False),),
    ),
    Operation(
        "exit", "Exit Console", "stop what this console started, and exit", EXIT, palette=False
    ),
)

BY_NAME: dict[Name, Operation] = {operation.name: operation for operation in CATALOGUE}
NUMBERED: dict[int, Operation] = {
    operation.number: operation for operation in CATALOGUE if operation.number is not None
}


def operation(name: Name) -> Operation:
    """The catalogue's entry named ``name``."""
    return BY_NAME[name]


def find(name: str) -> Operation:
    """The entry named ``name`` when the name comes as text (a Textual action's argument);
    ``KeyError`` when the catalogue has none."""
    for entry in CATALOGUE:
        if entry.name == name:
            return entry
    raise KeyError(name)


def numbered(number: int) -> Operation:
    """The menu's option ``number``."""
    return NUMBERED[number]


def panel_keys(panel: Panel | None, role: Role = "admin") -> list[tuple[Operation, Key]]:
    """The keys a dashboard panel (None: the whole app) has for operations ``role`` may run,
    by rank."""
    keys = [
        (op, key) for op in CATALOGUE for key in op.keys if key.panel == panel and op.allowed(role)
    ]
    return sorted(keys, key=lambda pair: pair[1].rank)


@dataclass(frozen=True, slots=True)
class Offer:
    """What the cluster's backend offers: its name and the cluster operations it refuses
    (``unsupported`` in the cluster view, docs/API.md). Both consoles hide or mark and refuse
    an operation through it; until a cluster view says otherwise, everything is offered."""

    backend: str = "Gate"
    unsupported: tuple[str, ...] = ()

    def offers(self, entry: Operation) -> bool:
        """Whether the backend has what ``entry`` needs."""
        return entry.offered(self.unsupported)

    @property
    def missing(self) -> str:
        """The words marking what it does not offer: ``not on JetStream``."""
        return f"not on {self.backend}"

    def refusal(self, entry: Operation) -> str | None:
        """The one line that refuses ``entry`` on this backend; None if it has it."""
        if self.offers(entry):
            return None
        return f"{entry.title} is {self.missing} (only Gate's own nodes have it)"


# Gate's own backend offers everything: what the consoles assume before a cluster view says.
EVERYTHING = Offer()


def refusal(entry: Operation, role: Role) -> str | None:
    """The one line that refuses ``entry`` to a console running as ``role``; None if allowed."""
    if entry.allowed(role):
        return None
    return f"{entry.title} needs the {entry.role} role; this console runs as {role}"
