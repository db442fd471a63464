"""Link faults (``POST /api/cluster/links``, docs/API.md): one direction of one Raft link made
lossy, slow or repetitive, message by message, in the sending node's transport.

``{"from": "node1", "to": "node2", "drop": 0.3, "delayMs": 200, "duplicate": 0.05, "seed": 7}``:
each Raft message ``from`` sends ``to`` is dropped with probability ``drop``, else delayed
``delayMs`` (the link keeps its order) and sent twice with probability ``duplicate``; the draws
come from a generator seeded with ``seed`` (by default one fixed by the two names), so a run can
be played again.  ``drop: 1`` loses everything, as a one-way cut does.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.protocol.commands import MAX_INT
from engine.protocol.errors import invalid

MAX_DELAY_MS = 60_000
_FIELDS = ("from", "to", "drop", "delayMs", "duplicate", "seed")


@dataclass(frozen=True, slots=True)
class LinkFault:
    """What happens to the Raft messages one node sends ``to`` one peer."""

    to: str
    drop: float = 0.0
    delay_ms: int = 0
    duplicate: float = 0.0
    seed: int = 0

    @property
    def drops_all(self) -> bool:
        return self.drop >= 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "drop": self.drop,
            "delayMs": self.delay_ms,
            "duplicate": self.duplicate,
            "seed": self.seed,
        }

    def describe(self) -> str:
        """``drop 30% · +200 ms · dup 5%``."""
        parts = []
        if self.drop:
            parts.append(f"drop {self.drop:.0%}")
        if self.delay_ms:
            parts.append(f"+{self.delay_ms} ms")
        if self.duplicate:
            parts.append(f"dup {self.duplicate:.0%}")
        return " · ".join(parts)


def default_seed(frm: str, to: str) -> int:
    """The seed of a fault given none: fixed by the link, so the same request replays."""
    return zlib.crc32(f"{frm}->{to}".encode())


def _probability(body: dict[str, Any], name: str) -> float:
    value = body.get(name, 0)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
        raise invalid(f"{name} must be a probability from 0 to 1, got {value!r}", field=name)
    return float(value)


def _node(body: dict[str, Any], name: str, node_ids: Sequence[str]) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise invalid(f"{name} must be a node id", field=name)
    if value not in node_ids:
        raise invalid(f"no node {value[:80]!r} in this cluster", field=name)
    return value


def parse_link_fault(body: Any, node_ids: Sequence[str]) -> tuple[str, LinkFault]:
    """``(from, fault)`` of a request body; a 400 naming the field for anything else (unknown
    fields, unknown nodes, a node linked to itself, values out of range, a fault that does
    nothing)."""
    if not isinstance(body, dict):
        raise invalid(
            'the body must be a JSON object: {"from", "to", "drop", "delayMs", "duplicate"}'
        )
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise invalid(
            f"unknown field {unknown[0]!r} (allowed: {', '.join(_FIELDS)})", field=unknown[0]
        )
    frm, to = _node(body, "from", node_ids), _node(body, "to", node_ids)
    if frm == to:
        raise invalid(f"{frm} has no link to itself", field="to")
    drop, duplicate = _probability(body, "drop"), _probability(body, "duplicate")
    delay = body.get("delayMs", 0)
    if not isinstance(delay, int) or isinstance(delay, bool) or not 0 <= delay <= MAX_DELAY_MS:
        raise invalid(
            f"delayMs must be an integer from 0 to {MAX_DELAY_MS}, got {delay!r}", field="delayMs"
        )
    seed = body.get("seed", default_seed(frm, to))
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_INT:
        raise invalid(f"seed must be a non-negative integer, got {seed!r}", field="seed")
    if not (drop or delay or duplicate):
        raise invalid(
            "a link fault needs drop, delayMs or duplicate (DELETE /api/cluster/links clears)"
        )
    return frm, LinkFault(to, drop, delay, duplicate, seed)


def parse_drop_request(body: Any, node_ids: Sequence[str]) -> tuple[str, int]:
    """``(node, id)`` of a ``POST /api/cluster/links/drop`` body ``{"node", "id"}``: the sender
    and the message's number in its trace; a 400 naming the field for anything else."""
    if not isinstance(body, dict):
        raise invalid('the body must be a JSON object: {"node": "node1", "id": N}')
    unknown = sorted(set(body) - {"node", "id"})
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r} (allowed: node, id)", field=unknown[0])
    node = _node(body, "node", node_ids)
    trace_id = body.get("id")
    if not isinstance(trace_id, int) or isinstance(trace_id, bool) or not 1 <= trace_id <= MAX_INT:
        raise invalid(
            f"id must be a message's seq in the sender's trace (1 or more), got {trace_id!r}",
            field="id",
        )
    return node, trace_id
