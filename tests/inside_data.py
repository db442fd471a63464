"""A node's inside as the node op ``inside`` answers it (docs/API.md, "Nodes' inside"): one
builder for the tests of the gateway's hub, the console's merge and the Cluster panel."""

from __future__ import annotations

from typing import Any


def node_inside(
    role: str = "follower",
    term: int = 3,
    elapsed: int = 0,
    *,
    timeout: int = 450,
    leader: str | None = "node1",
    voted_for: str | None = "node1",
    commit: int = 1240,
    applied: int | None = None,
    first: int = 1,
    last: int | None = None,
    **more: Any,
) -> dict[str, Any]:
    """Its role, term and election timer (``elapsed`` of ``timeout`` ms); applied and the log's
    last index default to ``commit``; ``more`` adds or replaces keys (``progress``)."""
    return {
        "role": role,
        "term": term,
        "leader": leader,
        "voted_for": voted_for,
        "commit_position": commit,
        "applied_position": commit if applied is None else applied,
        "log": {"first_index": first, "last_index": commit if last is None else last},
        "election_timer": {"elapsed_ms": elapsed, "timeout_ms": timeout},
        "progress": None,
        **more,
    }
