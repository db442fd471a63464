"""Leadership announcements: a node tells the gateways watching it of each change at once.

A gateway sends ``{"op": "watch"}`` on its connection to a node; from then on the node pushes
``{"push": "leadership", "node_id", "role", "term", "leader", "handed_over"}`` on that
connection: first its current state, then each time its role, term or known leader changes
(``handed_over``: a leader that was handed the leadership, a transfer, rather than elected on a
timeout).  A new leader
announces its term the moment it wins, so a gateway whose leader froze or was cut off re-routes
its waiting writes then, not at its next health round (docs/ENGINE.md, "Failover").
"""

from __future__ import annotations

from typing import Any

from engine.protocol.framing import ServerConnection

Leadership = tuple[str, int, str | None, bool]  # role, term, leader, handed over


class LeadershipFeed:
    """The connections watching this node's leadership, and what they were last told."""

    def __init__(self, node_id: str, role: str, term: int, leader: str | None) -> None:
        self.node_id = node_id
        self._state: Leadership = (role, term, leader, False)
        self._watchers: set[ServerConnection] = set()

    def _message(self) -> dict[str, Any]:
        role, term, leader, handed_over = self._state
        return {
            "push": "leadership",
            "node_id": self.node_id,
            "role": role,
            "term": term,
            "leader": leader,
            "handed_over": handed_over,
        }

    def watch(self, conn: ServerConnection) -> None:
        """Push to ``conn`` from now on, starting with the current state."""
        self._watchers.add(conn)
        conn.send(self._message())

    def unwatch(self, conn: ServerConnection) -> None:
        """Stop pushing to ``conn`` (fine if it never watched)."""
        self._watchers.discard(conn)

    def update(self, role: str, term: int, leader: str | None, handed_over: bool = False) -> None:
        """Tell every watcher if the role, term or known leader changed since last time."""
        state = (role, term, leader, handed_over)
        if state == self._state:
            return
        self._state = state
        message = self._message()
        for conn in self._watchers:
            conn.send(message)
