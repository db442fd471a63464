"""The body of ``POST /api/cluster/nodes/{id}/isolate`` and ``/heal``: which links, which way.

``{"peers": [...], "direction": "both" | "in" | "out"}``, both optional: every peer, both ways.
``in`` is what the node hears from those peers, ``out`` what it sends them (docs/API.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from engine.protocol.errors import invalid

Direction = Literal["both", "in", "out"]
DIRECTIONS: tuple[Direction, ...] = ("both", "in", "out")
_FIELDS = ("peers", "direction")


def parse_cut_request(
    body: Any, node_id: str, node_ids: Sequence[str]
) -> tuple[list[str] | None, Direction]:
    """``(peers or None for all, direction)`` from a request body (None: no body).

    Raises a 400 naming the field for anything else: unknown keys, an empty or repeated peer
    list, a peer that is not in the cluster or is the node itself, an unknown direction.
    """
    if body is None:
        return None, "both"
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object with optional peers and direction")
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise invalid(
            f"unknown field {unknown[0]!r} (allowed: {', '.join(_FIELDS)})", field=unknown[0]
        )
    direction = body.get("direction", "both")
    if direction not in DIRECTIONS:
        raise invalid(
            f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}",
            field="direction",
        )
    peers = body.get("peers")
    if peers is None:
        return None, direction
    if not isinstance(peers, list) or not peers or not all(isinstance(p, str) for p in peers):
        raise invalid(
            "peers must be a non-empty list of node ids (leave it out for every peer)",
            field="peers",
        )
    if len(set(peers)) != len(peers):
        raise invalid("peers names a node twice", field="peers")
    for peer in peers:
        if peer == node_id:
            raise invalid(f"{node_id} cannot be cut from itself", field="peers")
        if peer not in node_ids:
            raise invalid(f"no node {peer!r} in this cluster", field="peers")
    return list(peers), direction
