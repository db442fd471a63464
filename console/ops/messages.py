"""The Raft messages of the cluster, for the Messages panel: the gateway's trace, in words.

:class:`MessageFeed` follows ``/api/cluster/trace`` only while someone looks (``watch(True)``):
nothing is asked of the cluster otherwise. In slow motion (tempo ×1/:data:`UNFOLD_AT` or slower) it
asks for every heartbeat as its own line, five times as often, so each can be seen, selected and
dropped while on its way; faster, they are folded into one line per interval. Lines go to a bounded
buffer the dashboard drains on its timer; :func:`trace_line` turns each of the gateway's lines into
a :class:`TraceLine` with its words ("AppendEntries t3 95/3 +2 commit 94": term, the previous
entry's index/term, entries, commit) and its fields for the detail view.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from engine.client import GateClient, GateError

Kind = Literal["message", "summary", "heartbeats", "missed"]
CAPACITY = 1000  # lines waiting for the screen; past it the oldest go (counted in ``missed``)
INTERVAL_MS = 500
# In slow motion the lines come this often: a message flies for about a second at x1/20
# (engine/protocol/tempo.py), and it must be on screen while it can still be dropped.
SLOW_INTERVAL_MS = 100
# From this tempo on (×1/10: a heartbeat every 500 ms with the default config, a few lines a
# second) each heartbeat is its own line; faster, there would be too many to follow.
UNFOLD_AT = 10

# The names of the Raft paper, by wire type.
NAMES = {
    "vote": "RequestVote",
    "vote_response": "vote answer",
    "append": "AppendEntries",
    "append_response": "append answer",
    "snapshot": "InstallSnapshot",
    "timeout_now": "TimeoutNow",
    "removed": "removed",
}


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One line of the trace: a message, a summary of many, folded heartbeats or a gap."""

    kind: Kind
    time: float
    frm: str | None  # sender (None for heartbeats and gaps)
    to: str | None
    type: str  # the wire type ("" for heartbeats and gaps)
    text: str  # its words, short
    ok: bool | None  # granted / success for answers; None otherwise
    nodes: tuple[str, ...]  # the nodes it involves
    fields: tuple[tuple[str, Any], ...]  # everything the gateway said, for the detail view


def _message_words(m: dict[str, Any]) -> tuple[str, bool | None]:
    kind, term = m["type"], m["term"]
    if kind == "vote":
        name = "PreVote" if m.get("pre_vote") else "RequestVote"
        extra = " transfer" if m.get("transfer") else ""
        return f"{name} t{term} last {m['last_log_index']}/{m['last_log_term']}{extra}", None
    if kind == "vote_response":
        what = "pre-vote" if m.get("pre_vote") else "vote"
        granted = bool(m["granted"])
        return f"{what} {'granted' if granted else 'refused'} t{term}", granted
    if kind == "append":
        if not m["entries"]:
            return f"heartbeat t{term} commit {m['commit']}", None
        return (
            f"AppendEntries t{term} {m['prev_index']}/{m['prev_term']} "
            f"+{m['entries']} commit {m['commit']}",
            None,
        )
    if kind == "append_response":
        if m["success"]:
            return f"ok t{term} match {m['match_index']}", True
        return f"refused t{term} hint {m['reject_hint']}", False
    if kind == "snapshot":
        return f"InstallSnapshot t{term} at {m['index']}/{m['snapshot_term']}", None
    if kind == "timeout_now":
        return f"TimeoutNow t{term}", None
    if kind == "removed":
        return f"removed t{term} at {m['index']}", False
    return f"{kind} t{term}", None


def _summary_words(s: dict[str, Any]) -> tuple[str, bool | None]:
    kind = s["type"]
    rate = f"×{s['count']}" if s["per_second"] < 1 else f"×{s['per_second']:g}/s"
    name = NAMES.get(kind, kind)
    if kind == "append":
        low, high = s["entries_min"], s["entries_max"]
        span = f"{low} entries" if low == high else f"{low}–{high} entries"
        return f"{name} {rate}, {span}", None
    if kind == "append_response":
        refused = s.get("rejected", 0)
        return f"answers {rate}, match {s['match_index']}" + (
            f", {refused} refused" if refused else ""
        ), not refused
    if kind == "vote_response":
        return f"vote answers {rate}, {s.get('granted', 0)} granted", None
    return f"{name} {rate}", None


def clock(at: float) -> str:
    """``MM:SS.mmm`` in local time: enough to order what a person watches."""
    return time.strftime("%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"


def plain(line: TraceLine) -> str:
    """The line as text, for the menu shell: ``46:41.516  node2 → node3  RequestVote t4 …``."""
    who = f"{line.frm} → {line.to}" if line.frm and line.to else ", ".join(line.nodes)
    return f"{clock(line.time)}  {who:<15}  {line.text}"


def trace_line(raw: dict[str, Any], at: float) -> TraceLine:
    """The gateway's line in words (``at``: its batch's time, for a line without its own);
    ValueError for one that is not a trace line."""
    try:
        kind = raw["kind"]
        fields = tuple(raw.items())
        if kind == "heartbeats":
            nodes = tuple(raw["nodes"])
            text = f"♥ {raw['count']} heartbeat{'s' if raw['count'] != 1 else ''}"
            return TraceLine(kind, raw["time"], None, None, "", text, None, nodes, fields)
        if kind == "missed":
            text = f"{raw['count']} messages of {raw['node']} missed"
            return TraceLine(kind, at, None, None, "", text, None, (raw["node"],), fields)
        if kind in ("message", "summary"):
            words = _message_words if kind == "message" else _summary_words
            text, ok = words(raw)
            frm, to = raw["frm"], raw["to"]
            return TraceLine(kind, raw["time"], frm, to, raw["type"], text, ok, (frm, to), fields)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a trace line ({exc}): {str(raw)[:120]}") from None
    raise ValueError(f"not a trace line: {str(raw)[:120]}")


class MessageFeed:
    """The cluster's message trace while watched, in a bounded buffer."""

    def __init__(self, client: GateClient, capacity: int = CAPACITY) -> None:
        self._client = client
        self._lines: deque[TraceLine] = deque(maxlen=capacity)
        self._missed = 0
        self._task: asyncio.Task[None] | None = None
        self.problem = ""  # why no lines come, in words ("" while they do)
        self.unfolded = False  # every heartbeat its own line (slow motion)
        # Lines up to this time were shown before the trace was asked for again (its first
        # page repeats the recent past): not shown twice.
        self._shown_until = 0.0
        self._newest = 0.0

    @property
    def watching(self) -> bool:
        return self._task is not None

    def watch(self, on: bool) -> None:
        """Follow the trace (``on``) or stop asking for it."""
        if on and self._task is None:
            self._task = asyncio.create_task(self._follow(), name="message-trace")
        elif not on and self._task is not None:
            self._task.cancel()
            self._task = None

    def unfold(self, tempo: int) -> None:
        """Heartbeats one line each at ``tempo`` :data:`UNFOLD_AT` or slower, else folded; a
        change asks for the trace again, the other way."""
        unfolded = tempo >= UNFOLD_AT
        if unfolded == self.unfolded:
            return
        self.unfolded = unfolded
        if self._task is not None:
            self._task.cancel()
            self._shown_until = self._newest
            self._task = asyncio.create_task(self._follow(), name="message-trace")

    def drain(self) -> tuple[list[TraceLine], int]:
        """The lines since the last drain, and how many were dropped unseen."""
        lines, missed = list(self._lines), self._missed
        self._lines.clear()
        self._missed = 0
        return lines, missed

    def _connection(self, up: bool, reason: str) -> None:
        self.problem = "" if up else f"reconnecting: {reason}"

    async def _follow(self) -> None:
        batches = self._client.trace(
            interval_ms=SLOW_INTERVAL_MS if self.unfolded else INTERVAL_MS,
            heartbeats="show" if self.unfolded else "fold",
            keep_trying=True,
            on_connection=self._connection,
        )
        try:
            async for batch in batches:
                self.problem = ""
                for raw in batch["lines"]:
                    try:
                        line = trace_line(raw, batch["time"])
                    except ValueError:
                        continue  # a newer gateway's line this console cannot word
                    if line.time <= self._shown_until:
                        continue
                    self._newest = max(self._newest, line.time)
                    if len(self._lines) == self._lines.maxlen:
                        self._missed += 1
                    self._lines.append(line)
        except GateError as exc:
            self.problem = exc.message
        finally:
            with contextlib.suppress(Exception):
                await batches.aclose()  # type: ignore[attr-defined]

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
