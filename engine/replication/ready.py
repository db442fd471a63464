"""The order in which a host carries out a :class:`~engine.replication.messages.Ready`.

Written once, used by the node host (``engine/node/host.py``) and by the simulator that runs
thousands of schedules against the core (``tests/replication/simulation.py``), so the order the
schedules test is the order that runs in production (etcd's ``Ready`` contract, synchronous
storage):

1. send ``early_messages``: a leader's appends (its own entries go out before its fsync, Raft
   thesis §10.2.1: it counts itself toward the quorum only once they are stable) and its
   ``TimeoutNow``; they assert only the leader's term, durable since it campaigned;
2. apply ``committed``: those entries are already stable (the core hands out nothing past the
   stable index), so the state machine need not wait for this round's write;
3. persist ``hard_state``, ``snapshot`` and ``entries`` in one fsynced write if ``must_sync``
   (a snapshot is installed in the state machine first: nothing before it is applied any more,
   and the entries after it are applied in later rounds); otherwise only the commit index
   moved, which Raft keeps in volatile state (a restart learns it again), and nothing is
   written: it rides along with the next write;
4. send ``messages``: votes, vote requests and answers to appends assert the state just written;
5. ``RaftNode.advance``: the entries are stable, the leader may count them.

A host may split the round where its disk is asynchronous (:func:`start_ready` when it takes
the Ready, :func:`finish_ready` once the write is durable), and may delay any message, as the
network may.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.replication.core import RaftNode
from engine.replication.messages import Entry, HardState, Message, Ready, Snapshot

Send = Callable[[list[Message]], None]
Apply = Callable[[list[Entry]], None]
Persist = Callable[[HardState | None, list[Entry], Snapshot | None], None]


def start_ready(ready: Ready, *, send: Send, apply: Apply) -> None:
    """Steps 1 and 2: what may happen before this round's write is durable."""
    if ready.early_messages:
        send(ready.early_messages)
    if ready.committed:
        apply(ready.committed)


def finish_ready(node: RaftNode, ready: Ready, *, persist: Persist, send: Send) -> None:
    """Steps 3 to 5: the write, what waits for it, and ``advance``."""
    if ready.must_sync:
        persist(ready.hard_state, ready.entries, ready.snapshot)
    if ready.messages:
        send(ready.messages)
    node.advance(ready)


def run_ready(node: RaftNode, *, send: Send, apply: Apply, persist: Persist) -> None:
    """Take the node's next Ready and carry it out whole, in order."""
    ready = node.ready()
    start_ready(ready, send=send, apply=apply)
    finish_ready(node, ready, persist=persist, send=send)
