"""The dashboard's operations by name: what panels ask for and what the command palette lists.

A panel key (``k`` on the cluster panel) and a palette entry ("Kill node node1") both end in a
:class:`Requested` message that the app turns into one call of the operations layer, so each
operation is wired once.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


class Requested(Message):
    """Run the dashboard operation ``name``; ``target`` is the selected row, if any."""

    def __init__(self, name: str, target: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.target = target


@dataclass(frozen=True, slots=True)
class Operation:
    """One entry of the command palette."""

    name: str
    title: str
    help: str


# Node actions are listed per node ("Kill node2"): operation ``node_<action>``, target the node.
NODE_ACTIONS = ("stop", "kill", "pause", "resume", "restart", "start")

OPERATIONS: tuple[Operation, ...] = (
    Operation("observer_by_stream", "Create observer by stream", "watch $all or one stream"),
    Operation("observer_by_type", "Create observer by event type", "watch one event type"),
    Operation("observer_by_payload", "Create observer by payload", 'e.g. %{operator: "John"}'),
    Operation("stop_observer", "Stop observer", "stop the selected observer"),
    Operation("monitor", "Monitor observer", "show only the selected observer in the feed"),
    Operation("start_producers", "Start producers", "greenhouse producers (default 3)"),
    Operation("stop_producer", "Stop producer", "stop the selected producer"),
    Operation("create_subscription", "Create subscription", "a persistent subscription"),
    Operation("delete_subscription", "Delete subscription", "delete the selected subscription"),
    Operation("toggle_consumer", "Consume here", "start/stop this console's consumer"),
    Operation("consumer_policy", "Ack/nack settings", "ack all, or nack every Nth event"),
    Operation("replay_parked", "Replay parked events", "of the selected subscription"),
    Operation("browse_stream", "Browse stream", "read a stream from a version, either way"),
    Operation("append_events", "Append events", "random greenhouse events (default 5)"),
    Operation("append_event", "Append a chosen event", "a type from the catalogue and its data"),
    Operation("greenhouse", "View greenhouse", "the aggregate and its snapshots"),
    Operation("filter_feed", "Filter the live feed", "show lines containing a text"),
)
