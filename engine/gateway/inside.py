"""``/api/cluster/inside``: each node's Raft state, fresh several times a second while watched.

The cluster view's inside columns (term, vote, commit, applied, log span, election timer, the
leader's match/next) come from the health rounds, which probe every ``healthInterval`` times the
tempo: at x1/20 a follower's election timer would be seen once in 20 s.  While at least one
client watches, :class:`InsideHub` asks every node for its inside (the TCP op ``inside``, read
from memory) every :data:`POLL_SECONDS`, whatever the tempo; each watcher is sent the nodes whose
inside changed since it was last sent.  Nobody watching, nothing is asked.  The health rounds
still decide up/down, the leader and freshness.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from aiohttp import web

from engine.gateway.health import inside_fields, status_int
from engine.gateway.trace import Ask
from engine.gateway.watched import WatchedRounds
from engine.protocol.errors import GateError
from engine.transport.limits import drain_client, open_websocket, send_bounded

# Fixed, not stretched by the tempo: a timer running down over 6-12 s at x1/20 is seen in 60 to
# 120 steps, one of 300-600 ms at x1 in 3 to 6.
POLL_SECONDS = 0.1
# Less than a round's pace is not possible for a paused node without holding up the others'
# answers of that round; a node not answering within it reads as unreachable this round.
ASK_TIMEOUT = 0.5
QUEUED_ROUNDS = 10  # per watcher; one that falls behind only needs the newest
# One round: when it was asked, and each node's inside (None: it could not be asked).
Round = tuple[float, dict[str, dict[str, Any] | None]]


def clean_inside(answer: Any) -> dict[str, Any] | None:
    """A node's answer to ``inside`` as the cluster view's fields (garbage reads as 0 or null);
    None for an answer that is not an object."""
    if not isinstance(answer, dict):
        return None
    span = answer.get("log")
    fields = inside_fields(answer)
    return {
        "role": str(answer.get("role", "follower")),
        "term": status_int(answer.get("term")),
        "leader": answer["leader"] if isinstance(answer.get("leader"), str) else None,
        "voted_for": fields["voted_for"],
        "commit_position": status_int(answer.get("commit_position")),
        "applied_position": status_int(answer.get("applied_position")),
        "log": (
            {key: status_int(span.get(key)) for key in ("first_index", "last_index")}
            if isinstance(span, dict)
            else None
        ),
        "election_timer": fields["election_timer"],
        "progress": fields["progress"],
    }


class InsideHub(WatchedRounds[Round]):
    """Asks every node for its inside each round while anyone watches."""

    name = "nodes' inside"

    def __init__(self, ask: Ask, node_ids: Callable[[], Iterable[str]]) -> None:
        super().__init__(pace=POLL_SECONDS, queued=QUEUED_ROUNDS)
        self._ask = ask
        self._node_ids = node_ids

    async def poll(self) -> Round:
        """One round: every node's inside, None for those that did not answer."""
        nodes = list(self._node_ids())
        asked = time.time()
        answers = await asyncio.gather(*(self._inside(n) for n in nodes))
        return asked, dict(zip(nodes, answers, strict=True))

    async def _inside(self, node: str) -> dict[str, Any] | None:
        try:
            return clean_inside(await self._ask(node, {"op": "inside"}, ASK_TIMEOUT))
        except (GateError, TimeoutError, OSError, KeyError):
            return None  # down, paused or gone: asked again next round


def changes(
    sent: dict[str, dict[str, Any] | None], nodes: dict[str, dict[str, Any] | None]
) -> dict[str, dict[str, Any] | None]:
    """The nodes of a round whose inside differs from what a watcher was ``sent`` (a node not
    sent yet counts as changed); ``sent`` is brought up to date."""
    changed = {n: inside for n, inside in nodes.items() if n not in sent or sent[n] != inside}
    sent.update(changed)
    return changed


async def serve_inside(hub: InsideHub, request: web.Request) -> web.WebSocketResponse:
    """The WebSocket: ``{"type": "inside", "time", "nodes"}`` after each round in which some
    node's inside changed, with those nodes only (the first: all of them; docs/API.md, "Nodes'
    inside")."""
    ws = await open_websocket(request, heartbeat=20)
    queue = hub.watch()
    reader = asyncio.create_task(drain_client(ws))
    sent: dict[str, dict[str, Any] | None] = {}
    try:
        while not ws.closed and not reader.done():
            getter = asyncio.create_task(queue.get())
            await asyncio.wait({getter, reader}, return_when="FIRST_COMPLETED")
            if not getter.done():
                getter.cancel()
                break
            asked, nodes = getter.result()
            changed = changes(sent, nodes)
            if changed:
                message = {"type": "inside", "time": asked, "nodes": changed}
                await send_bounded(ws, request, orjson.dumps(message).decode())
    except (ConnectionError, RuntimeError):
        pass
    finally:
        reader.cancel()
        hub.unwatch(queue)
    return ws
