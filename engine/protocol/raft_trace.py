"""The shape of a traced Raft message, as nodes hand it to gateways (docs/API.md, "Message trace").

A node records each Raft message it sends or receives as a flat record, with no formatting on
its hot path (engine/node/trace.py): ``[seq, time, dir, type, frm, to, term, *fields]``, where
``dir`` is ``send`` or ``recv``, ``type`` is the message's wire type (engine/replication/wire.py)
and ``fields`` are that type's own, in the order of :data:`FIELDS`.  :func:`expand` turns a
record into the named object the gateway's WebSocket carries.
"""

from __future__ import annotations

from typing import Any

# The fields each message type carries after its term, in record order.
FIELDS: dict[str, tuple[str, ...]] = {
    "vote": ("last_log_index", "last_log_term", "pre_vote", "transfer"),
    "vote_response": ("granted", "pre_vote"),
    "append": ("prev_index", "prev_term", "entries", "commit"),
    "append_response": ("success", "match_index", "reject_hint"),
    "snapshot": ("index", "snapshot_term"),
    "timeout_now": (),
    "removed": ("index",),
}
DIRECTIONS = ("send", "recv")
# [seq, time, dir, type, frm, to, term]: the fields every record starts with.
HEAD = 7


def expand(node_id: str, record: list[Any]) -> dict[str, Any]:
    """The record as an object: ``{"node", "seq", "time", "dir", "type", "frm", "to", "term",
    ...its type's fields}``; ValueError for a record that is not one."""
    if not isinstance(record, list) or len(record) < HEAD:
        raise ValueError(f"not a trace record: {record!r}")
    seq, when, direction, kind, frm, to, term = record[:HEAD]
    names = FIELDS.get(kind)
    if names is None or direction not in DIRECTIONS or len(record) != HEAD + len(names):
        raise ValueError(f"not a trace record: {record!r}")
    item = {
        "node": node_id,
        "seq": seq,
        "time": when,
        "dir": direction,
        "type": kind,
        "frm": frm,
        "to": to,
        "term": term,
    }
    item.update(zip(names, record[HEAD:], strict=True))
    return item
