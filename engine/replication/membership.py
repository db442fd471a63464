"""Membership changes through the log (Raft dissertation §4.1, single-server changes).

A membership entry's data is :data:`MEMBERSHIP_TAG` followed by the new membership as JSON; no
command starts with that byte (commands are JSON objects), so the state machine skips them as
it skips the no-op.  A node uses the latest membership in its log, committed or not (the core
tracks them in :class:`MembershipLog`); a leader proposes one change at a time
(:func:`change`), each adding a learner, promoting one, or removing one member.  The JSON form
(:func:`to_json`, :func:`from_json`) is also how the log storage, the state machine's snapshot
record and the wire keep a snapshot marker's membership.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from engine.replication.messages import Address, Entry, Membership

MEMBERSHIP_TAG = b"\x00"

ChangeKind = Literal["add", "promote", "remove"]


class MembershipError(ValueError):
    """A change that does not apply to the membership (an unknown node, a duplicate...)."""


def is_membership(data: bytes) -> bool:
    return data[:1] == MEMBERSHIP_TAG


def encode(membership: Membership) -> bytes:
    return MEMBERSHIP_TAG + json.dumps(to_json(membership), separators=(",", ":")).encode()


def decode(data: bytes) -> Membership:
    """The membership in a membership entry's data (ValueError if it is not one)."""
    if not is_membership(data):
        raise ValueError("not a membership entry")
    return from_json(json.loads(data[1:]))


def to_json(m: Membership) -> dict[str, Any]:
    return {
        "voters": list(m.voters),
        "learners": list(m.learners),
        "addresses": [
            {"node_id": a.node_id, "http": list(a.http), "tcp": list(a.tcp)} for a in m.addresses
        ],
    }


def from_json(raw: Any) -> Membership:
    """The inverse of :func:`to_json`; a bare list of ids (a marker stored before membership
    changes existed) stands for those voters.  ValueError if malformed."""
    if isinstance(raw, list):
        return Membership(_ids(raw, "voters"))
    if not isinstance(raw, dict):
        raise ValueError(f"a membership must be an object, not {raw!r}")
    addresses = raw.get("addresses", [])
    if not isinstance(addresses, list):
        raise ValueError("addresses must be a list")
    return Membership(
        _ids(raw.get("voters"), "voters"),
        _ids(raw.get("learners", []), "learners"),
        tuple(_address(a) for a in addresses),
    )


def _ids(raw: Any, what: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or any(type(v) is not str for v in raw):
        raise ValueError(f"{what} must be a list of strings, not {raw!r}")
    return tuple(raw)


def _address(raw: Any) -> Address:
    try:
        node_id, (hh, hp), (th, tp) = raw["node_id"], raw["http"], raw["tcp"]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"malformed address {raw!r}") from None
    if not (type(node_id) is str and type(hh) is str and type(th) is str):
        raise ValueError(f"malformed address {raw!r}")
    if type(hp) is not int or type(tp) is not int:
        raise ValueError(f"malformed address {raw!r}")
    return Address(node_id, (hh, hp), (th, tp))


def change(
    m: Membership, kind: ChangeKind, node_id: str, address: Address | None = None
) -> Membership:
    """``m`` with one change: add ``node_id`` as a learner (at ``address``), promote a learner
    to voter, or remove a member.  Raises :class:`MembershipError` if it does not apply."""
    if kind == "add":
        if node_id in m.members:
            raise MembershipError(f"{node_id} is already a member")
        addresses = tuple(a for a in m.addresses if a.node_id != node_id)
        if address is not None:
            addresses += (address,)
        return Membership(m.voters, (*m.learners, node_id), addresses)
    if kind == "promote":
        if node_id not in m.learners:
            raise MembershipError(f"{node_id} is not a learner")
        learners = tuple(n for n in m.learners if n != node_id)
        return Membership((*m.voters, node_id), learners, m.addresses)
    if node_id not in m.members:
        raise MembershipError(f"{node_id} is not a member")
    if m.voters == (node_id,):
        raise MembershipError(f"{node_id} is the last voter")
    return Membership(
        tuple(n for n in m.voters if n != node_id),
        tuple(n for n in m.learners if n != node_id),
        tuple(a for a in m.addresses if a.node_id != node_id),
    )


class MembershipLog:
    """The memberships a node's log holds: the one its log starts with (a snapshot marker's,
    or the bootstrap one) and each membership entry after it, by index.  The latest rules,
    committed or not; a truncated log falls back to the one before."""

    __slots__ = ("_confs",)

    def __init__(self, base_index: int, base: Membership) -> None:
        self._confs: list[tuple[int, Membership]] = [(base_index, base)]

    @property
    def current(self) -> Membership:
        return self._confs[-1][1]

    @property
    def index(self) -> int:
        """The index of the entry the current membership comes from (the base's index if none)."""
        return self._confs[-1][0]

    def at(self, index: int) -> Membership:
        """The membership in force once the log up to ``index`` is applied."""
        for conf_index, membership in reversed(self._confs):
            if conf_index <= index:
                return membership
        return self._confs[0][1]

    def removed_at(self, node_id: str, upto: int, bootstrap: tuple[str, ...]) -> int | None:
        """The index of the membership, at or before ``upto``, that removed ``node_id`` (a
        member of the one before it, or of ``bootstrap`` for the log's first), if no membership
        since takes it back; None if it is a member or was never one as far as the log says."""
        if node_id in self.current.members:
            return None
        removed, member = None, node_id in bootstrap
        for index, membership in self._confs:
            if index > upto:
                break
            if node_id in membership.members:
                removed, member = None, True
            elif member:
                removed, member = index, False
        return removed

    def appended(self, entries: list[Entry] | tuple[Entry, ...]) -> bool:
        """Entries replaced the log from ``entries[0].index`` on; True if the membership moved."""
        if not entries:
            return False
        first = entries[0].index
        before = self.current
        while len(self._confs) > 1 and self._confs[-1][0] >= first:
            self._confs.pop()
        for entry in entries:
            if is_membership(entry.data):
                self._confs.append((entry.index, decode(entry.data)))
        return self.current != before

    def restored(self, index: int, membership: Membership) -> None:
        """The log was replaced by a snapshot at ``index``."""
        self._confs = [(index, membership)]

    def compacted(self, index: int) -> Membership:
        """The log now starts after ``index``: forget what is before; returns the membership
        at ``index`` (the new marker's)."""
        base = self.at(index)
        self._confs = [(index, base)] + [c for c in self._confs if c[0] > index]
        return base
