"""What an operation did, worded once for both consoles.

An operation's outcome is an :class:`Outcome`: a one-line ``summary`` and a ``level``; the menu
shell prints it (``✅ …`` in green), the dashboard shows it as a toast, and neither words it
again.  ``detail`` is a second, quieter line (the shell's hint, the toast's second line).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from console.ops.cluster import (
    ClusterOps,
    LinkFaultResult,
    LinksResult,
    NodeActionResult,
    TempoResult,
    TransferResult,
)
from console.ops.errors import OpsError, failure_text
from console.ops.formatting import pattern_text
from console.ops.observers import ALL_STREAMS
from console.ops.stores import StoreSwitch
from engine.client import GateError
from engine.client.results import MemberAnswer

# kept: a confirmation answered no; busy: under way; watch: what the screen shows now.
Level = Literal["ok", "warn", "error", "kept", "busy", "watch"]
MARKS: dict[Level, str] = {
    "ok": "✅ ",
    "warn": "⚠️  ",
    "error": "❌ ",
    "kept": "↩️  ",
    "busy": "⏳ ",
    "watch": "👁️  ",
}
_GOING_DOWN = ("stop", "kill", "pause")
# How long a failure waits to learn how many nodes are up.
_STATUS_TIMEOUT = 3.0
_PAST = {
    "stop": "Stopped",
    "kill": "Killed",
    "start": "Started",
    "restart": "Restarted",
    "pause": "Paused",
    "resume": "Resumed",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One operation's result for a person: ``summary`` after the ``level``'s mark."""

    summary: str
    level: Level = "ok"
    detail: str | None = None

    @property
    def line(self) -> str:
        """The summary with its mark: ``✅ Observer 'x' stopped``."""
        return MARKS[self.level] + self.summary


def ok(summary: str, detail: str | None = None) -> Outcome:
    """A success."""
    return Outcome(summary, "ok", detail)


def warn(summary: str, detail: str | None = None) -> Outcome:
    """Done, but not all as hoped (or nothing to do)."""
    return Outcome(summary, "warn", detail)


def error(summary: str, detail: str | None = None) -> Outcome:
    """Not done."""
    return Outcome(summary, "error", detail)


def kept(what: str) -> Outcome:
    """A confirmation answered no: ``node1 left as it was``."""
    return Outcome(what, "kept")


def shown_stream(stream: str) -> str:
    """A ``by_stream`` selector's stream as people typed it: ``$all``, or the id without ``$``."""
    return stream if stream == ALL_STREAMS else stream.removeprefix("$")


def store_switched(switch: StoreSwitch) -> Outcome:
    """``Working on store shop (created): 0 streams · 0 events · 0 subscriptions``, and what
    stopped with the old store."""
    created = " (created)" if switch.created else ""
    summary = f"Working on store {switch.store.store_id}{created}: {switch.store.counts}"
    stopped = switch.stopped.words
    detail = f"Stopped on {switch.previous}: {stopped}" if stopped else None
    return ok(summary, detail)


def observer_created(name: str, selector: dict[str, Any]) -> Outcome:
    """``Observer 'temps' created for event type 'temperature_measured:v1'``."""
    kind, value = next(iter(selector.items()))
    if kind == "by_stream":
        what = f"stream '{shown_stream(value)}'"
    elif kind == "by_event_type":
        what = f"event type '{value}'"
    else:
        what = f"payload pattern {pattern_text(value)}"
    return ok(f"Observer '{name}' created for {what}")


def observer_stopped(name: str) -> Outcome:
    """``Observer 'temps' stopped``."""
    return ok(f"Observer '{name}' stopped")


def producers_started(streams: Sequence[str], rate: str) -> Outcome:
    """``Started 2 producers: greenhouse-1, greenhouse-2 (5.0/s each)``."""
    noun = "producer" if len(streams) == 1 else "producers"
    return ok(f"Started {len(streams)} {noun}: {', '.join(streams)} ({rate} each)")


def producer_stopped(stream: str) -> Outcome:
    """``Producer for 'greenhouse-1' stopped``."""
    return ok(f"Producer for '{stream}' stopped")


def subscription_created(name: str, stream: str, start: int | str, created: bool) -> Outcome:
    """A new subscription (or the same definition found again), which this console consumes."""
    if created:
        return ok(f"Subscription '{name}' created on '{shown_stream(stream)}' from {start}")
    return ok(f"Subscription '{name}' exists with this definition already")


def subscription_deleted(name: str) -> Outcome:
    """``Subscription 'x' deleted``."""
    return ok(f"Subscription '{name}' deleted")


def consuming(name: str, policy: str) -> Outcome:
    """This console began consuming ``name`` with the policy described."""
    return ok(f"Consuming '{name}' here; the consumer {policy}")


def policy_set(name: str, policy: str) -> Outcome:
    """The running consumer of ``name`` answers by a new policy."""
    return ok(f"The consumer of '{name}' now {policy}")


def consumer_stopped(name: str) -> Outcome:
    """This console no longer consumes ``name``."""
    return ok(f"This console no longer consumes '{name}'")


def parked_replayed(name: str, parked: int, replay_hint: str) -> Outcome:
    """The engine delivers ``parked`` events again (a warning when there were none)."""
    if not parked:
        return warn(f"'{name}' has no parked events ({replay_hint})")
    return ok(f"Replaying the {parked} parked events of '{name}'")


def events_appended(stream: str, count: int, version: int) -> Outcome:
    """``Appended 5 events to 'repl-1' (now at version 4)``."""
    return ok(f"Appended {count} events to '{stream}' (now at version {version})")


def event_appended(event_type: str, stream: str, version: int) -> Outcome:
    """``Appended desired_temperature_set:v1 to 'repl-1' at version 5``."""
    return ok(f"Appended {event_type} to '{stream}' at version {version}")


def snapshot_taken(stream: str, version: int) -> Outcome:
    """``Snapshot of 'greenhouse-1' recorded at version 12``."""
    return ok(f"Snapshot of '{stream}' recorded at version {version}")


def node_action_done(result: NodeActionResult, start_hint: str) -> Outcome:
    """What a node action did and what followed: the new leader after the leader went down,
    the leader after the rest, or why there is none (``start_hint`` says how to start a node
    in the front end at hand)."""
    done = _PAST[result.action]
    who = f"{result.node_id} (the leader)" if result.was_leader else result.node_id
    if result.no_majority is not None:
        return warn(
            f"{done} {who}; {result.no_majority}",
            f"Until one is back no leader is elected and nothing is written {start_hint}",
        )
    if result.action in _GOING_DOWN and result.was_leader:
        if result.settled:
            return ok(
                f"{done} {who}; {result.leader} took over in {result.elapsed:.1f} s "
                f"(term {result.term})"
            )
        return warn(f"{done} {who}; no new leader after {result.elapsed:.0f} s")
    leader = f"leader {result.leader} (term {result.term})" if result.leader else "no leader"
    if result.settled:
        return ok(f"{done} {who}; {leader}")
    return warn(f"{done} {who}, but the cluster has not settled yet; {leader}")


def leadership_transferred(result: TransferResult) -> Outcome:
    """``node2 leads now (term 5): node1 handed over in 0.4 s``."""
    term = result.status.term
    if result.already:
        return warn(f"{result.node_id} leads already (term {term}): nothing to hand over")
    return ok(
        f"{result.node_id} leads now (term {term}): "
        f"{result.previous or 'the leader'} handed over in {result.elapsed:.1f} s"
    )


def attached(url: str) -> Outcome:
    """Said once at the start of a console that attached to a running cluster (``--connect``):
    quitting it leaves the cluster as it is."""
    return ok(
        f"Attached to the cluster at {url}, which this console did not start: "
        "Ctrl+Q leaves it running"
    )


def links_cut(result: LinksResult, heal_hint: str) -> Outcome:
    """What an isolate did: ``node1 isolated (the leader): it steps down (no quorum)``, or the
    links a partial cut left cut (``heal_hint`` says how to heal in the front end at hand)."""
    node = result.after
    if node.isolated:
        if result.was_leader:
            what = f"{node.node_id} isolated (the leader): it steps down (no quorum)"
        else:
            what = f"{node.node_id} isolated: it hears no peer and no peer hears it"
        if result.no_majority:
            return warn(
                f"{what}; no leader until it heals ({result.no_majority})", f"{heal_hint} heals it"
            )
        return ok(what, f"Writes go to a leader the others elect; {heal_hint} heals it")
    return ok(f"{node.node_id}: {node.cuts_text}", f"{heal_hint} heals it")


def links_healed(result: LinksResult) -> Outcome:
    """``node1 healed: every Raft link back``, or what is still cut."""
    node = result.after
    if not result.before.cut:
        return warn(f"{node.node_id} had no cut links: nothing to heal")
    if node.cut:
        return ok(f"{node.node_id} partly healed: still {node.cuts_text}")
    return ok(f"{node.node_id} healed: every Raft link back; it follows the leader again")


def tempo_set(result: TempoResult) -> Outcome:
    """``tempo ×1/20: elections and heartbeats 20 times slower``, or full speed again."""
    pending = f"; {', '.join(result.pending)} takes it once it answers" if result.pending else ""
    if result.scale == result.previous:
        return warn(f"tempo already {_tempo(result.scale)}: nothing changed")
    if result.scale == 1:
        return ok(f"tempo ×1: full speed again{pending}")
    return ok(
        f"tempo ×1/{result.scale}: elections, heartbeats and messages "
        f"{result.scale} times slower{pending}",
        "Raft runs exactly as at full speed, only slower",
    )


def _tempo(scale: int) -> str:
    return "×1" if scale == 1 else f"×1/{scale}"


def link_fault_set(result: LinkFaultResult) -> Outcome:
    """``node1 → node2: drop 30% · +200 ms``, or the faults cleared."""
    peers = ", ".join(result.peers)
    if not result.what:
        return ok(f"{result.frm} → {peers}: link faults cleared")
    return ok(
        f"{result.frm} → {peers}: {result.what}",
        "One direction only; the other is a second fault (or all zero to clear)",
    )


def member_added(node_id: str, answer: MemberAnswer) -> Outcome:
    """``node4 joins as a learner (log index 57)``; the timeline says when it is promoted."""
    return ok(
        f"{node_id} joins as a learner (log index {answer['index']})",
        "It catches up (by a snapshot if the log was compacted), then becomes a voter",
    )


def member_removed(node_id: str, answer: MemberAnswer) -> Outcome:
    """``node2 removed (log index 61)``."""
    return ok(f"{node_id} removed (log index {answer['index']}); its data stays on disk")


async def failed(exc: OpsError | GateError, cluster: ClusterOps, start_hint: str) -> Outcome:
    """A failed operation: when the engine did not answer for want of a majority, the nodes up
    say why and the engine's words follow (they may tell more: a write whose outcome is
    unknown); else the failure's own words."""
    if isinstance(exc, GateError) and exc.code in ("unavailable", "timeout"):
        try:
            status = await asyncio.wait_for(cluster.status(), _STATUS_TIMEOUT)
        except (GateError, TimeoutError):
            status = None  # the gateway is away too: the error itself says so better
        words = None if status is None else status.no_majority()
        if words is not None:
            return error(f"{words} {start_hint}", failure_text(exc))
    return error(failure_text(exc))
