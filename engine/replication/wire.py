"""Raft messages <-> JSON-able dicts, for the node-to-node ``raft`` TCP operation.

Entry data travels as a JSON string and is rebuilt with ``str.encode()``, so it must be UTF-8:
in this project it always is (the UTF-8 JSON of a command, or ``b""`` for a no-op).  Encoding
data that is not UTF-8 raises ``UnicodeDecodeError`` (a ``ValueError``).  An append's entries are
``[term, data]`` pairs: their indexes follow ``prev_index``, so contiguity holds by construction.

A snapshot request carries only the snapshot's index, term and membership: the state machine's
data travels beside it (the host streams it).

``decode_message`` checks every field's type and raises ``ValueError`` on anything malformed, so
the host can drop such a message; the core checks the values' meaning (terms, indexes).
"""

from __future__ import annotations

from typing import Any

from engine.replication import membership
from engine.replication.messages import (
    AppendRequest,
    AppendResponse,
    Entry,
    Message,
    Removed,
    Snapshot,
    SnapshotRequest,
    TimeoutNow,
    VoteRequest,
    VoteResponse,
)


def encode_message(msg: Message) -> dict[str, Any]:
    """The message as a dict of JSON types (entry data must be UTF-8)."""
    if type(msg) is AppendRequest:
        return {
            "type": "append",
            "term": msg.term,
            "frm": msg.frm,
            "to": msg.to,
            "prev_index": msg.prev_index,
            "prev_term": msg.prev_term,
            "commit": msg.commit,
            "entries": [[e.term, e.data.decode()] for e in msg.entries],
        }
    if type(msg) is AppendResponse:
        return {
            "type": "append_response",
            "term": msg.term,
            "frm": msg.frm,
            "to": msg.to,
            "success": msg.success,
            "match_index": msg.match_index,
            "reject_hint": msg.reject_hint,
            "wants_snapshot": msg.wants_snapshot,
        }
    if type(msg) is VoteRequest:
        return {
            "type": "vote",
            "term": msg.term,
            "frm": msg.frm,
            "to": msg.to,
            "last_log_index": msg.last_log_index,
            "last_log_term": msg.last_log_term,
            "pre_vote": msg.pre_vote,
            "transfer": msg.transfer,
            "recovering": msg.recovering,
        }
    if type(msg) is VoteResponse:
        return {
            "type": "vote_response",
            "term": msg.term,
            "frm": msg.frm,
            "to": msg.to,
            "granted": msg.granted,
            "pre_vote": msg.pre_vote,
        }
    if type(msg) is SnapshotRequest:
        snapshot = msg.snapshot
        return {
            "type": "snapshot",
            "term": msg.term,
            "frm": msg.frm,
            "to": msg.to,
            "index": snapshot.index,
            "snapshot_term": snapshot.term,
            "membership": membership.to_json(snapshot.membership),
        }
    if type(msg) is TimeoutNow:
        return {"type": "timeout_now", "term": msg.term, "frm": msg.frm, "to": msg.to}
    if type(msg) is Removed:
        return {
            "type": "removed",
            "term": msg.term,
            "frm": msg.frm,
            "to": msg.to,
            "index": msg.index,
        }
    raise TypeError(f"not a Raft message: {msg!r}")


def decode_message(d: dict[str, Any]) -> Message:
    """Rebuild a message from :func:`encode_message`'s dict; ValueError if malformed."""
    if type(d) is not dict:
        raise ValueError("a Raft message must be an object")
    try:
        kind = d["type"]
        term, frm, to = _int(d, "term"), _str(d, "frm"), _str(d, "to")
        if kind == "append":
            prev = _int(d, "prev_index")
            return AppendRequest(
                term, frm, to, prev, _int(d, "prev_term"), _entries(d, prev), _int(d, "commit")
            )
        if kind == "append_response":
            return AppendResponse(
                term,
                frm,
                to,
                _bool(d, "success"),
                _int(d, "match_index"),
                _int(d, "reject_hint"),
                _bool(d, "wants_snapshot") if "wants_snapshot" in d else False,
            )
        if kind == "vote":
            return VoteRequest(
                term,
                frm,
                to,
                _int(d, "last_log_index"),
                _int(d, "last_log_term"),
                _bool(d, "pre_vote"),
                _bool(d, "transfer"),
                _bool(d, "recovering"),
            )
        if kind == "vote_response":
            return VoteResponse(term, frm, to, _bool(d, "granted"), _bool(d, "pre_vote"))
        if kind == "snapshot":
            members = membership.from_json(d["membership"])
            snapshot = Snapshot.of(_int(d, "index"), _int(d, "snapshot_term"), members)
            return SnapshotRequest(term, frm, to, snapshot)
        if kind == "timeout_now":
            return TimeoutNow(term, frm, to)
        if kind == "removed":
            return Removed(term, frm, to, _int(d, "index"))
    except KeyError as exc:
        raise ValueError(f"Raft message without {exc}") from None
    raise ValueError(f"unknown Raft message type {kind!r}")


def _int(d: dict[str, Any], key: str) -> int:
    value = d[key]
    if type(value) is not int or value < 0:  # `type` rather than isinstance: bool is an int
        raise ValueError(f"{key} must be a non-negative integer, not {value!r}")
    return value


def _str(d: dict[str, Any], key: str) -> str:
    value = d[key]
    if type(value) is not str:
        raise ValueError(f"{key} must be a string, not {value!r}")
    return value


def _bool(d: dict[str, Any], key: str) -> bool:
    value = d[key]
    if type(value) is not bool:
        raise ValueError(f"{key} must be a boolean, not {value!r}")
    return value


def _entries(d: dict[str, Any], prev: int) -> tuple[Entry, ...]:
    raw = d["entries"]
    if type(raw) is not list:
        raise ValueError("entries must be a list")
    entries = []
    index = prev
    for item in raw:
        if type(item) is not list or len(item) != 2:
            raise ValueError("an entry must be a [term, data] pair")
        term, data = item
        if type(term) is not int or term < 0 or type(data) is not str:
            raise ValueError(f"malformed entry {item!r}")
        index += 1
        entries.append(Entry(index, term, data.encode()))
    return tuple(entries)
