"""The fault checker: what a cluster holds, judged against what its writers were told.

Pure (no I/O): the callers read the nodes.  Two ways in, one set of rules:

- :func:`check_histories` judges every node's whole ``$all`` against a finished workload's
  :class:`Attempt` list (the fault tests and the benchmarks, after the nodes converged).
- :class:`LiveChecker` judges incrementally, for hours: it is told each acknowledged append
  as it happens and fed each node's events as they are read (by position, only what is new),
  and keeps a bounded window of both (docs/ARCHITECTURE.md, "The live verdict").

An event is compared by its id, stream, position, number in its stream, and a digest of what
was sent (its type and data, :func:`event_digest`).
"""

from __future__ import annotations

import bisect
import hashlib
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

import orjson

Outcome = Literal["pending", "ack", "failed", "unknown"]
Histories = Mapping[str, Sequence[Mapping[str, Any]]]

# The writer number of attempts issued without waiting for each other (no per-writer order).
CONCURRENT = -1


def event_digest(event: Mapping[str, Any]) -> str:
    """A digest of an event's type and data, as sent or as read back (keys in any order)."""
    body = orjson.dumps(
        {"event_type": event.get("event_type"), "data": event.get("data")},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.blake2b(body, digest_size=8).hexdigest()


@dataclass(slots=True)
class Attempt:
    """One append of the workload and what became of it."""

    writer: int  # CONCURRENT for writes issued without waiting for the previous one
    seq: int
    stream: str
    event_ids: tuple[str, ...]
    started: float
    finished: float | None = None
    outcome: Outcome = "pending"
    position: int | None = None  # the last event's position, when acknowledged
    error: str | None = None
    # The digest of each event as sent (event_digest); empty: payloads are not compared.
    digests: tuple[str, ...] = ()
    version: int | None = None  # the stream's version after it, when acknowledged


@dataclass
class Verdict:
    """What the checker found: violations (empty when all is well) and counts."""

    violations: list[str]
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.violations

    def report(self) -> str:
        """A readable verdict: the counts, then each violation."""
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        if self.ok:
            return f"checker: OK ({counts})"
        lines = [f"checker: {len(self.violations)} VIOLATION(S) ({counts})"]
        lines += [f"  - {v}" for v in self.violations]
        return "\n".join(lines)


def _few(items: Iterable[Any], n: int = 8) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:n])
    return shown + (f", ... ({len(items)} in all)" if len(items) > n else "")


def check_histories(histories: Histories, attempts: Sequence[Attempt]) -> Verdict:
    """Check every node's ``$all`` against the attempts of the workload.

    Acknowledged events present exactly once at their acknowledged position; definitively
    failed ones absent; unknown ones present at most once, whole batches only; no event that
    was never attempted; the same events in the same order on every node; each stream numbered
    0, 1, 2, ...; each writer's events in the order it wrote them; and an acknowledged write
    ordered before every write that started after its acknowledgement.
    """
    by_id: dict[str, tuple[Attempt, int]] = {
        event_id: (a, k) for a in attempts for k, event_id in enumerate(a.event_ids)
    }
    violations: list[str] = []
    for node_id, events in histories.items():
        violations += _check_node(node_id, events, attempts, by_id)
    violations += _check_same_everywhere(histories)
    node_id, reference = next(iter(histories.items()))
    violations += _check_order(node_id, reference, attempts)
    outcomes = Counter(a.outcome for a in attempts)
    present = {e["event_id"] for e in reference}
    counts = {
        "attempts": len(attempts),
        "acknowledged": outcomes["ack"],
        "failed": outcomes["failed"],
        "unknown": outcomes["unknown"],
        "unknown present": sum(
            1 for a in attempts if a.outcome == "unknown" and a.event_ids[0] in present
        ),
        "events": len(reference),
    }
    return Verdict(violations, counts)


def _check_node(
    node_id: str,
    events: Sequence[Mapping[str, Any]],
    attempts: Sequence[Attempt],
    by_id: Mapping[str, tuple[Attempt, int]],
) -> list[str]:
    out: list[str] = []
    where: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for event in events:
        where[event["event_id"]].append(event)
    dups = {i: [e["position"] for e in evs] for i, evs in where.items() if len(evs) > 1}
    if dups:
        shown = _few(f"{i} at positions {p}" for i, p in dups.items())
        out.append(f"{node_id}: {len(dups)} duplicated event ids: {shown}")
    strangers = [i for i in where if i not in by_id]
    if strangers:
        out.append(f"{node_id}: {len(strangers)} events never attempted: {_few(strangers)}")
    misplaced = []
    for event_id, evs in where.items():
        if event_id not in by_id:
            continue
        attempt, k = by_id[event_id]
        event = evs[0]
        if event["stream_id"] != attempt.stream or (
            attempt.digests and event_digest(event) != attempt.digests[k]
        ):
            misplaced.append(f"{event_id} in {event['stream_id']} with {event['data']}")
    if misplaced:
        out.append(f"{node_id}: {len(misplaced)} events altered: {_few(misplaced)}")
    missing, failed_present, partial, wrong_pos = [], [], [], []
    for attempt in attempts:
        found = [where[i][0] for i in attempt.event_ids if i in where]
        if attempt.outcome == "ack" and len(found) < len(attempt.event_ids):
            missing.append(f"{attempt.event_ids[0]} (acked at position {attempt.position})")
        if attempt.outcome == "failed" and found:
            failed_present.append(f"{attempt.event_ids[0]} ({attempt.error})")
        if found and len(found) < len(attempt.event_ids):
            partial.append(f"{attempt.event_ids[0]}: {len(found)} of {len(attempt.event_ids)}")
        if found and len(found) == len(attempt.event_ids):
            positions = [e["position"] for e in found]
            numbers = [e["event_number"] for e in found]
            first_pos, first_num = positions[0], numbers[0]
            contiguous = positions == list(range(first_pos, first_pos + len(found))) and (
                numbers == list(range(first_num, first_num + len(found)))
            )
            acked_elsewhere = attempt.outcome == "ack" and positions[-1] != attempt.position
            if not contiguous or acked_elsewhere:
                wrong_pos.append(
                    f"{attempt.event_ids[0]} at positions {positions} numbers {numbers}"
                    f" (acked position {attempt.position})"
                )
    if missing:
        out.append(f"{node_id}: {len(missing)} acknowledged writes missing: {_few(missing)}")
    if failed_present:
        out.append(
            f"{node_id}: {len(failed_present)} writes answered 503 (definitive failure) are"
            f" present: {_few(failed_present)}"
        )
    if partial:
        out.append(f"{node_id}: {len(partial)} batches only partly present: {_few(partial)}")
    if wrong_pos:
        out.append(f"{node_id}: {len(wrong_pos)} batches at wrong positions: {_few(wrong_pos)}")
    out += _check_numbering(node_id, events)
    return out


def _check_numbering(node_id: str, events: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    positions = [e["position"] for e in events]
    if any(b <= a for a, b in pairwise(positions)):
        out.append(f"{node_id}: $all positions are not strictly increasing")
    next_number: dict[str, int] = defaultdict(int)
    gaps = []
    for event in events:
        stream = event["stream_id"]
        if event["event_number"] != next_number[stream]:
            gaps.append(f"{stream}: #{event['event_number']} where #{next_number[stream]} is due")
        next_number[stream] = event["event_number"] + 1
    if gaps:
        out.append(f"{node_id}: streams not numbered 0, 1, 2, ...: {_few(gaps)}")
    return out


def _check_same_everywhere(histories: Histories) -> list[str]:
    out = []
    (ref_id, reference), *others = histories.items()
    for node_id, events in others:
        if list(events) == list(reference):
            continue
        at = next(
            (i for i, (a, b) in enumerate(zip(reference, events, strict=False)) if a != b),
            min(len(reference), len(events)),
        )

        def around(evs: Sequence[Mapping[str, Any]], i: int = at) -> str:
            return _few(f"{e['position']}:{e['event_id']}" for e in evs[i : i + 4])

        ref_ids = {e["event_id"] for e in reference}
        ids = {e["event_id"] for e in events}
        out.append(
            f"{node_id} diverges from {ref_id} at index {at} ({len(events)} vs"
            f" {len(reference)} events): {ref_id} has [{around(reference)}],"
            f" {node_id} has [{around(events)}]; only on {ref_id}: {_few(ref_ids - ids)};"
            f" only on {node_id}: {_few(ids - ref_ids)}"
        )
    return out


def _check_order(
    node_id: str, events: Sequence[Mapping[str, Any]], attempts: Sequence[Attempt]
) -> list[str]:
    position = {e["event_id"]: e["position"] for e in events}
    # Whole batches only: partial ones are reported by _check_node.
    present = [a for a in attempts if all(i in position for i in a.event_ids)]
    out = []
    # A writer writes one batch at a time, so its batches that made it are in seq order.
    by_writer: dict[int, list[Attempt]] = defaultdict(list)
    for attempt in present:
        if attempt.writer != CONCURRENT:
            by_writer[attempt.writer].append(attempt)
    for writer, mine in sorted(by_writer.items()):
        mine.sort(key=lambda a: a.seq)
        for a, b in pairwise(mine):
            if position[a.event_ids[0]] > position[b.event_ids[0]]:
                out.append(
                    f"{node_id}: writer {writer} wrote {a.event_ids[0]} before"
                    f" {b.event_ids[0]} but they are at positions {position[a.event_ids[0]]}"
                    f" and {position[b.event_ids[0]]}"
                )
                break
    # Real time: a write acknowledged before another started must come first in $all.
    acked = sorted(
        (a for a in present if a.outcome == "ack" and a.finished is not None),
        key=lambda a: a.finished or 0.0,
    )
    finish_times = [a.finished or 0.0 for a in acked]
    latest: list[tuple[int, Attempt]] = []  # prefix maximum of the acknowledged positions
    for a in acked:
        pos = position[a.event_ids[-1]]
        latest.append(max(latest[-1], (pos, a), key=lambda t: t[0]) if latest else (pos, a))
    for b in present:
        done_before = bisect.bisect_left(finish_times, b.started)
        if done_before and latest[done_before - 1][0] > position[b.event_ids[0]]:
            pos, a = latest[done_before - 1]
            out.append(
                f"{node_id}: {a.event_ids[-1]} was acknowledged before {b.event_ids[0]} was"
                f" issued, yet sits after it ({pos} > {position[b.event_ids[0]]})"
            )
            break
    return out


# -- the live checker -------------------------------------------------------------------------

ViolationKind = Literal["lost", "duplicated", "order", "altered", "diverged"]
KEEP = 10_000  # acknowledged events, and events read per node, the live checker remembers


@dataclass(frozen=True, slots=True)
class Held:
    """What a node holds at one position (or what a writer was told it would)."""

    event_id: str
    stream: str
    number: int | None  # the event's number in its stream (None: a writer not told it)
    digest: str  # "": a writer that kept none (not compared)

    @classmethod
    def read(cls, event: Mapping[str, Any]) -> Held:
        """An event as a node's ``$all`` answers it."""
        return cls(
            event["event_id"], event["stream_id"], event["event_number"], event_digest(event)
        )


@dataclass(slots=True)
class _Ack:
    held: Held
    position: int
    judged: set[str] = field(default_factory=set)  # the nodes it was judged on
    confirmed: int = 0  # nodes found holding it, as acknowledged
    checked: bool = False  # confirmed on a majority
    missing: set[str] = field(default_factory=set)  # the nodes it was judged lost on


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing a node holds that contradicts an acknowledgement (or another node)."""

    kind: ViolationKind
    node: str
    stream: str
    event_id: str
    detail: str

    def text(self) -> str:
        """One line: what, on which stream, which event, then why."""
        return f"{self.kind}: {self.stream} {self.event_id} on {self.node} ({self.detail})"


@dataclass(frozen=True, slots=True)
class LiveVerdict:
    """The live checker's counts so far and its first violation."""

    acked: int  # acknowledged events recorded
    checked: int  # of those, found at their acknowledged position on a majority of the nodes
    lost: int
    duplicated: int
    misordered: int  # at another position or number than acknowledged
    altered: int  # another stream or payload than sent
    diverged: int  # positions where two nodes hold different events
    first: Violation | None

    @property
    def ok(self) -> bool:
        return self.first is None


@dataclass(slots=True)
class _Node:
    cursor: int  # the last position read
    events: OrderedDict[int, Held] = field(default_factory=OrderedDict)  # the last KEEP read
    # (stream, event id) -> position, for those: ids are unique within a stream.
    ids: dict[tuple[str, str], int] = field(default_factory=dict)


class LiveChecker:
    """Judges acknowledged appends against every node's ``$all``, incrementally.

    ``acked`` records what a writer was told (called as acknowledgements arrive, in any
    order); ``observe`` feeds the events a node holds after ``cursor(node)``, in order.  An
    acknowledged event is judged on a node once the node has been read past its position: it
    must be there, with its id, stream, number and digest (else lost, misordered or altered),
    and only once (else duplicated); each position must hold the same event on every node that
    was read there (else diverged).  ``members`` names the nodes to read; an acknowledgement
    counts as checked once a majority of them hold it as acknowledged.

    Memory is bounded by ``keep``: at most ``keep`` acknowledged events (the oldest are
    forgotten first, judged or not) and the last ``keep`` events read from each node.  So a
    duplicate is found while both copies are within ``keep`` positions of each other, nodes are
    compared while within ``keep`` positions of each other, and an acknowledgement is judged on
    a node whose reads pass it within ``keep`` acknowledgements (a node down for longer is
    judged from where its window starts again).  Reads start after ``origin`` (the store's last
    position when the writers started): what came before is not this writer's.
    """

    def __init__(self, origin: int, *, keep: int = KEEP) -> None:
        self.origin = origin
        self.keep = keep
        self._members: list[str] = []
        self._nodes: dict[str, _Node] = {}
        self._acks: OrderedDict[int, _Ack] = OrderedDict()  # by position, recorded order
        self._by_id: dict[str, int] = {}  # event id -> acknowledged position, for _acks
        self._acked = 0
        self._checked = 0
        self._counts: Counter[ViolationKind] = Counter()
        self._first: Violation | None = None

    # -- what the writers were told ----------------------------------------------------------

    def acked(
        self, stream: str, events: Sequence[Mapping[str, Any]], version: int, position: int
    ) -> None:
        """``events`` (as sent, with their ids) appended to ``stream`` were acknowledged with
        the stream's ``version`` and the ``position`` of the last one."""
        ids = [e["event_id"] for e in events]
        self.acked_ids(stream, ids, [event_digest(e) for e in events], version, position)

    def acked_ids(
        self,
        stream: str,
        event_ids: Sequence[str],
        digests: Sequence[str],
        version: int | None,
        position: int,
    ) -> None:
        """As ``acked``, from the events' ids and digests; ``version`` None: not compared."""
        first_position = position - len(event_ids) + 1
        for k, (event_id, digest) in enumerate(zip(event_ids, digests, strict=True)):
            at = first_position + k
            if at <= self.origin:
                continue  # before the checked span: cannot be this writer's (a bad origin)
            number = None if version is None else version - len(event_ids) + 1 + k
            held = Held(event_id, stream, number, digest)
            ack = _Ack(held, at)
            self._acks[at] = ack
            self._by_id[held.event_id] = at
            self._acked += 1
            for node_id, node in self._nodes.items():
                if node.cursor >= at:
                    self._judge(node_id, node, ack)
        self._forget()

    # -- what the nodes hold -----------------------------------------------------------------

    def members(self, node_ids: Iterable[str]) -> None:
        """The nodes to read (the cluster's members): a new one is read from the origin."""
        self._members = list(node_ids)
        for node_id in self._members:
            self._nodes.setdefault(node_id, _Node(self.origin))

    @property
    def node_ids(self) -> list[str]:
        """The members, in the order given."""
        return list(self._members)

    def cursor(self, node_id: str) -> int:
        """The position after which ``node_id`` is to be read next."""
        return self._nodes[node_id].cursor

    def observe(self, node_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        """Events ``node_id`` holds after its cursor, in position order."""
        node = self._nodes[node_id]
        for event in events:
            position = int(event["position"])
            if position <= node.cursor:
                continue  # read twice (a page overlapping the last): judged already
            held = Held.read(event)
            key = (held.stream, held.event_id)
            seen_at = node.ids.get(key)
            if seen_at is not None:
                self._violate("duplicated", node_id, held, f"at positions {seen_at} and {position}")
            else:
                node.ids[key] = position
            node.events[position] = held
            while len(node.events) > self.keep:
                old_position, old = node.events.popitem(last=False)
                if node.ids.get((old.stream, old.event_id)) == old_position:
                    del node.ids[old.stream, old.event_id]
            node.cursor = position
            ack = self._acks.get(position)
            if ack is not None:
                self._judge(node_id, node, ack)
            self._compare(node_id, position, held)
            acked_at = self._by_id.get(held.event_id)
            if acked_at is not None and node_id in self._acks[acked_at].missing:
                self._turned_up(node_id, self._acks[acked_at], position)
        self._forget()

    def _compare(self, node_id: str, position: int, held: Held) -> None:
        for other_id, other in self._nodes.items():
            theirs = other.events.get(position) if other_id != node_id else None
            if theirs is not None and theirs != held:
                self._violate(
                    "diverged",
                    node_id,
                    held,
                    f"position {position}; {other_id} holds {theirs.stream} {theirs.event_id}",
                )
                return

    def _judge(self, node_id: str, node: _Node, ack: _Ack) -> None:
        if node_id in ack.judged:
            return
        ack.judged.add(node_id)
        want = ack.held
        held = node.events.get(ack.position)
        if held is None:
            return  # read past it longer ago than the window holds
        if held.event_id != want.event_id:
            elsewhere = node.ids.get((want.stream, want.event_id))
            if elsewhere is not None:
                self._violate(
                    "order", node_id, want, f"acknowledged at {ack.position}, at {elsewhere}"
                )
            else:
                ack.missing.add(node_id)
                self._violate(
                    "lost",
                    node_id,
                    want,
                    f"acknowledged at {ack.position}, which holds {held.stream} {held.event_id}",
                )
        elif held.stream != want.stream or want.number not in (None, held.number):
            self._violate(
                "order",
                node_id,
                want,
                f"acknowledged as {want.stream} #{want.number},"
                f" held as {held.stream} #{held.number}",
            )
        elif want.digest and held.digest != want.digest:
            self._violate("altered", node_id, want, f"its payload differs at {ack.position}")
        else:
            ack.confirmed += 1
            if not ack.checked and ack.confirmed >= len(self._members) // 2 + 1:
                ack.checked = True
                self._checked += 1

    def _turned_up(self, node_id: str, ack: _Ack, position: int) -> None:
        """Judged lost at its position, it turned up later: misordered, not lost."""
        ack.missing.discard(node_id)
        self._counts["lost"] -= 1
        first = self._first
        lost_first = first is not None and (first.kind, first.node, first.event_id) == (
            "lost",
            node_id,
            ack.held.event_id,
        )
        if lost_first:
            self._first = None
        self._violate("order", node_id, ack.held, f"acknowledged at {ack.position}, at {position}")
        if first is not None and not lost_first:
            self._first = first

    def _violate(self, kind: ViolationKind, node_id: str, held: Held, detail: str) -> None:
        self._counts[kind] += 1
        if self._first is None:
            self._first = Violation(kind, node_id, held.stream, held.event_id, detail)

    def _forget(self) -> None:
        """Drop the acknowledgements every member was judged on, and the oldest past ``keep``."""
        members = set(self._members)
        while self._acks:
            position, ack = next(iter(self._acks.items()))
            if len(self._acks) <= self.keep and not (members and members <= ack.judged):
                break
            del self._acks[position]
            if self._by_id.get(ack.held.event_id) == position:
                del self._by_id[ack.held.event_id]

    # -- the verdict -------------------------------------------------------------------------

    def verdict(self) -> LiveVerdict:
        """The counts so far and the first violation."""
        c = self._counts
        return LiveVerdict(
            acked=self._acked,
            checked=self._checked,
            lost=c["lost"],
            duplicated=c["duplicated"],
            misordered=c["order"],
            altered=c["altered"],
            diverged=c["diverged"],
            first=self._first,
        )

    def remembered(self) -> tuple[int, int]:
        """(acknowledgements, events read over all nodes) held in memory now."""
        return len(self._acks), sum(len(n.events) for n in self._nodes.values())


def replay_live(
    histories: Histories, attempts: Sequence[Attempt], *, keep: int = KEEP, page: int = 1000
) -> LiveVerdict:
    """The live checker run over a finished run, as a console would have run it: the
    acknowledgements of each page of positions, then that page as each node holds it.  The
    fault tests run it beside ``check_histories``, so both judge the same real faults."""
    checker = LiveChecker(0, keep=keep)
    checker.members(histories)
    acked = sorted(
        (a for a in attempts if a.outcome == "ack" and a.position is not None),
        key=lambda a: a.position or 0,
    )
    end = max((int(e["position"]) for h in histories.values() for e in h[-1:]), default=0)
    end = max(end, acked[-1].position or 0) if acked else end
    told = 0
    for top in range(page, end + page, page):
        while told < len(acked) and (acked[told].position or 0) <= top:
            a = acked[told]
            digests = a.digests or ("",) * len(a.event_ids)
            checker.acked_ids(a.stream, a.event_ids, digests, a.version, a.position or 0)
            told += 1
        for node_id, events in histories.items():
            checker.observe(node_id, [e for e in events if top - page < e["position"] <= top])
    return checker.verdict()
