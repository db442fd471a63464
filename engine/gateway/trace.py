"""``/api/cluster/trace``: every node's Raft messages, merged and folded per interval.

While at least one client watches, :class:`TraceHub` asks every node for the messages it
recorded since the last round (the TCP op ``trace``, engine/node/trace.py), merges them by time
and hands each watcher the batch; nobody watching, nothing is asked.  Each watcher's
:class:`TraceFolder` turns its interval's messages into lines: heartbeats (empty appends and
the answers that confirm nothing new) folded into one line, the rest listed one by one, or, past
``detail`` of them, summed up per sender, receiver and type ("append ×340/s, 1-40 entries"), so
a full write rate costs a viewer a few lines per interval, not thousands.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson
from aiohttp import web

from engine.gateway.watched import WatchedRounds
from engine.protocol.errors import GateError, invalid
from engine.protocol.raft_trace import expand
from engine.transport.http_common import int_param, query_param
from engine.transport.limits import drain_client, open_websocket, send_bounded

log = logging.getLogger("gate.gateway.trace")

# How often the nodes are asked while someone watches: a message in slow motion must reach the
# screen well within its flight (about 1 s at x1/20) for a viewer to drop it.
POLL_SECONDS = 0.1
ASK_TIMEOUT = 1.0  # a node that does not answer in time is asked again next round
FIRST_PAGE = 200  # a new watch starts with this much of each node's recent history
PAGE = 2000  # records asked of a node per round (the node's maximum)
QUEUED_BATCHES = 25  # per watcher; a watcher that falls behind loses its oldest batches
INTERVAL_MS = (100, 10_000, 500)  # interval_ms: least, most, default
DETAIL = (1, 500, 50)  # detail: least, most, default

Ask = Callable[[str, dict[str, Any], float], Awaitable[Any]]
# One round: the merged records, and how many each node's ring dropped before they were read.
Batch = tuple[list[dict[str, Any]], dict[str, int]]


class TraceFolder:
    """Folds one watcher's records into lines, interval by interval.

    Its only state is each link's last acknowledged index, by which an append's successful
    answer that confirms nothing new counts as a heartbeat's answer.
    """

    def __init__(self, *, detail: int, fold_heartbeats: bool, received: bool) -> None:
        self.detail = detail
        self.fold_heartbeats = fold_heartbeats
        self.received = received
        self._matched: dict[tuple[str, str, str], int] = {}

    def _heartbeat(self, record: dict[str, Any]) -> bool:
        kind = record["type"]
        if kind == "append":
            return bool(record["entries"] == 0)
        if kind != "append_response" or not record["success"]:
            return False
        link = (record["dir"], record["frm"], record["to"])
        before = self._matched.get(link)
        self._matched[link] = record["match_index"]
        return before == record["match_index"]

    def lines(
        self,
        records: Iterable[dict[str, Any]],
        seconds: float,
        missed: dict[str, int] | None = None,
    ) -> list[dict[str, Any]]:
        """The lines for one interval of ``seconds`` holding ``records`` (oldest first)."""
        lines: list[dict[str, Any]] = [
            {"kind": "missed", "node": node, "count": count}
            for node, count in sorted((missed or {}).items())
            if count
        ]
        beats: list[dict[str, Any]] = []
        rest: list[dict[str, Any]] = []
        for record in records:
            if record["dir"] == "recv" and not self.received:
                continue
            heartbeat = self._heartbeat(record)
            (beats if heartbeat and self.fold_heartbeats else rest).append(record)
        listed = (
            [{"kind": "message", **r} for r in rest]
            if len(rest) <= self.detail
            else summaries(rest, seconds)
        )
        if beats:
            nodes = sorted({r["frm"] for r in beats} | {r["to"] for r in beats})
            folded = {"kind": "heartbeats", "time": beats[0]["time"], "count": len(beats)}
            # In time order with the rest: a diagram read top-down must not show a vote after
            # the heartbeats that its election led to (sorted is stable: ties keep their order).
            listed = sorted([folded | {"nodes": nodes}, *listed], key=lambda line: line["time"])
        lines.extend(listed)
        return lines


def summaries(records: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
    """One line per direction, type, sender and receiver, in order of first appearance."""
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for record in records:
        key = (record["dir"], record["type"], record["frm"], record["to"])
        groups.setdefault(key, []).append(record)
    lines = []
    for (direction, kind, frm, to), group in groups.items():
        line: dict[str, Any] = {
            "kind": "summary",
            "time": group[0]["time"],
            "dir": direction,
            "type": kind,
            "frm": frm,
            "to": to,
            "count": len(group),
            # Over the interval, or over the records' own span when longer: a new watch's first
            # batch holds seconds of history.
            "per_second": round(len(group) / max(seconds, group[-1]["time"] - group[0]["time"]), 1),
            "term": max(r["term"] for r in group),
        }
        if kind == "append":
            line["entries_min"] = min(r["entries"] for r in group)
            line["entries_max"] = max(r["entries"] for r in group)
            line["commit"] = max(r["commit"] for r in group)
        elif kind == "append_response":
            line["rejected"] = sum(not r["success"] for r in group)
            line["match_index"] = max(r["match_index"] for r in group)
        elif kind == "vote_response":
            line["granted"] = sum(bool(r["granted"]) for r in group)
        lines.append(line)
    return lines


class TraceHub(WatchedRounds[Batch]):
    """Asks every node for its new messages each round while anyone watches."""

    name = "message trace"

    def __init__(self, ask: Ask, node_ids: Callable[[], Iterable[str]]) -> None:
        super().__init__(pace=POLL_SECONDS, queued=QUEUED_BATCHES)
        self._ask = ask
        self._node_ids = node_ids
        self._receiving: set[asyncio.Queue[Batch]] = set()  # watchers of received messages
        # Per watcher that fell behind: the messages of its batches that went unseen, per node,
        # told with its next batch (a "missed" line), never lost in silence.
        self._lost: dict[asyncio.Queue[Batch], dict[str, int]] = {}
        # Per node: (started_at, last seq read); a new started_at means it restarted.
        self._cursors: dict[str, tuple[float, int]] = {}

    def subscribe(self, received: bool = False) -> asyncio.Queue[Batch]:
        """A watcher's queue of batches; with ``received``, what the nodes received too (else
        they send only what they sent, half as much)."""
        queue = self.watch()
        if received:
            self._receiving.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Batch]) -> None:
        self._receiving.discard(queue)
        self._lost.pop(queue, None)
        self.unwatch(queue)

    def hand(self, queue: asyncio.Queue[Batch], result: Batch) -> None:
        """A watcher's oldest batch, when its queue is full, goes out counted: its messages are
        added to the next batch's ``missed``."""
        if queue.full():
            records, missed = queue.get_nowait()
            lost = self._lost.setdefault(queue, {})
            receiving = queue in self._receiving
            for record in records:
                if receiving or record["dir"] == "send":
                    lost[record["node"]] = lost.get(record["node"], 0) + 1
            for node, count in missed.items():
                lost[node] = lost.get(node, 0) + count
        records, missed = result
        if lost := self._lost.pop(queue, {}):
            missed = {n: missed.get(n, 0) + lost.get(n, 0) for n in sorted({*missed, *lost})}
        queue.put_nowait((records, missed))

    def starting(self) -> None:
        self._cursors = {}

    async def poll(self) -> Batch:
        """One round: every node's new records, merged by time."""
        nodes = list(self._node_ids())
        pages = await asyncio.gather(*(self._page(n) for n in nodes))
        records: list[dict[str, Any]] = []
        missed: dict[str, int] = {}
        for node, page in zip(nodes, pages, strict=True):
            if page is None:
                continue
            for raw in page.get("messages") or ():
                try:
                    records.append(expand(node, raw))
                except ValueError:
                    log.warning("%s sent a malformed trace record: %.200r", node, raw)
            missed[node] = int(page.get("missed") or 0)
        records.sort(key=lambda r: (r["time"], r["node"], r["seq"]))
        return records, missed

    async def _page(self, node: str) -> dict[str, Any] | None:
        cursor = self._cursors.get(node)
        msg: dict[str, Any] = {"op": "trace", "limit": PAGE if cursor else FIRST_PAGE}
        if cursor is not None:
            msg["after"] = cursor[1]
        if not self._receiving:
            msg["dir"] = "send"
        try:
            page = await self._ask(node, msg, ASK_TIMEOUT)
        except (GateError, TimeoutError, OSError, KeyError):
            return None  # down, paused or gone: asked again next round
        if not isinstance(page, dict):
            return None
        started = page.get("started_at")
        until = page.get("until")
        if not isinstance(started, int | float) or not isinstance(until, int):
            return None
        if cursor is not None and cursor[0] != started:
            # It restarted: its numbers start again at 1; read its new ring next round.
            self._cursors[node] = (started, 0)
            return None
        self._cursors[node] = (started, until)
        return page


def _bounded(request: web.Request, name: str, bounds: tuple[int, int, int]) -> int:
    low, high, default = bounds
    value = int_param(request, name, minimum=low)
    if value is None:
        return default
    if value > high:
        raise invalid(f"query parameter {name!r} must be at most {high}, got {value}")
    return value


def _choice(request: web.Request, name: str, choices: tuple[str, str]) -> str:
    value = query_param(request, name) or choices[0]
    if value not in choices:
        raise invalid(f"query parameter {name!r} must be {' or '.join(choices)}, got {value!r}")
    return value


async def serve_trace(hub: TraceHub, request: web.Request) -> web.WebSocketResponse:
    """The WebSocket: one ``{"type": "trace", "time", "interval", "lines"}`` per interval
    that has any (docs/API.md, "Message trace")."""
    interval = _bounded(request, "interval_ms", INTERVAL_MS) / 1000
    folder = TraceFolder(
        detail=_bounded(request, "detail", DETAIL),
        fold_heartbeats=_choice(request, "heartbeats", ("fold", "show")) == "fold",
        received=_choice(request, "received", ("false", "true")) == "true",
    )
    ws = await open_websocket(request, heartbeat=20)
    queue = hub.subscribe(folder.received)
    reader = asyncio.create_task(drain_client(ws))
    getter: asyncio.Task[Batch] | None = None
    loop = asyncio.get_running_loop()
    try:
        while not ws.closed and not reader.done():
            until = loop.time() + interval
            records: list[dict[str, Any]] = []
            missed: dict[str, int] = {}
            while (left := until - loop.time()) > 0 and not reader.done():
                getter = getter or asyncio.create_task(queue.get())
                await asyncio.wait({getter, reader}, timeout=left, return_when="FIRST_COMPLETED")
                if getter.done():
                    got, lost = getter.result()
                    getter = None
                    records.extend(got)
                    for node, count in lost.items():
                        missed[node] = missed.get(node, 0) + count
            lines = folder.lines(records, interval, missed)
            if lines:
                batch = {"type": "trace", "time": time.time(), "interval": interval, "lines": lines}
                await send_bounded(ws, request, orjson.dumps(batch).decode())
    except (ConnectionError, RuntimeError):
        pass
    finally:
        for task in (reader, getter):
            if task is not None:
                task.cancel()
        hub.unsubscribe(queue)
    return ws
