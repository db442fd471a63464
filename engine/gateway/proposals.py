"""Coalesced proposals: the writes bound for one node go to it together, in one frame.

Sixteen clients appending one event each would otherwise cost sixteen signed frames to the
leader, sixteen request tasks there and sixteen answer frames back, each with its own socket
write on both sides.  Here a write joins the queue of its node, and the queue leaves as one
``propose`` frame carrying ``commands`` (one ``command`` when it holds one) at the end of the
event loop's turn: every write the turn brought (the gateway takes the requests of every
socket that is ready at once) shares the frame.  No timer, so no write waits for company; and
frames are not held back while earlier ones are in flight, so the leader's own group commit
(engine/node/host.py: one round for everything proposed since the last) joins the frames that
arrive during a round.

The node proposes the commands of a frame as entries of one Raft round and answers each on its
own (docs/ENGINE.md, the ``propose`` op): a command keeps its own ``expected_version`` check at
apply time, its own idempotency by event id and its own error, and a write abandoned before its
frame left (its caller gave up) is never sent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson

from engine.gateway.tcp_pool import NodePool
from engine.protocol.errors import GateError

# How many commands, and how many bytes of them, one frame carries at most (a command larger
# than that goes alone); more leave in the frames that follow.  Far below the node's frame
# limit (MAX_FRAME): 16 requests of limits.maxRequestBytes would reach it.
MAX_BATCH = 256
MAX_BATCH_BYTES = 1024 * 1024
# Beyond the node's own timeout: the answer's way back.
ANSWER_MARGIN = 0.2


@dataclass
class _Proposal:
    command: bytes  # its JSON, encoded once: it sizes the frame and goes into it as it is
    deadline: float  # loop time
    answer: asyncio.Future[Any]


class ProposalBatcher:
    """Sends the proposals of concurrent writes to a node in as few frames as it can."""

    def __init__(self, pool: NodePool) -> None:
        self.pool = pool
        # Per node, the proposals of this turn of the loop (a flush of them is scheduled).
        self._waiting: dict[str, list[_Proposal]] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self.counters = {"propose_frames": 0, "proposals": 0}

    def submit(self, node_id: str, command: dict[str, Any], timeout: float) -> asyncio.Future[Any]:
        """Queue ``command`` for ``node_id``: a future of the node's answer (``{"result",
        "index"}``), or of its error as a GateError, or ConnectionError / TimeoutError when the
        frame or its answer was lost.  Cancel it to give the write up: if its frame has not
        left yet, it never will."""
        loop = asyncio.get_running_loop()
        proposal = _Proposal(orjson.dumps(command), loop.time() + timeout, loop.create_future())
        waiting = self._waiting.get(node_id)
        if waiting is None:
            # After the callbacks already due: the writes of this turn of the loop join.
            waiting = self._waiting[node_id] = []
            loop.call_soon(self._flush, node_id)
        waiting.append(proposal)
        return proposal.answer

    def _flush(self, node_id: str) -> None:
        batch: list[_Proposal] = []
        size = 0
        for p in self._waiting.pop(node_id):
            if p.answer.done():
                continue  # given up before its frame left
            if batch and (len(batch) == MAX_BATCH or size + len(p.command) > MAX_BATCH_BYTES):
                self._start(node_id, batch)
                batch, size = [], 0
            batch.append(p)
            size += len(p.command)
        if batch:
            self._start(node_id, batch)

    def _start(self, node_id: str, batch: list[_Proposal]) -> None:
        task = asyncio.create_task(self._send(node_id, batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, node_id: str, batch: list[_Proposal]) -> None:
        loop = asyncio.get_running_loop()
        timeout = max(p.deadline for p in batch) - loop.time()
        msg: dict[str, Any] = {"op": "propose", "timeout": max(timeout, 0.001)}
        if len(batch) == 1:
            msg["command"] = orjson.Fragment(batch[0].command)
        else:
            msg["commands"] = [orjson.Fragment(p.command) for p in batch]
        self.counters["propose_frames"] += 1
        self.counters["proposals"] += len(batch)
        try:
            answer = await self.pool.get(node_id).request(msg, timeout + ANSWER_MARGIN)
        except Exception as exc:  # lost (ConnectionError, TimeoutError) or refused
            for p in batch:
                _settle(p.answer, exc=_copy(exc))
            return
        _deliver(batch, answer)


def _deliver(batch: list[_Proposal], answer: dict[str, Any]) -> None:
    """Hand each proposal its own answer from the node's."""
    if not answer.get("ok"):
        # Refused as a whole (not the leader, no quorum): the same answer for each.
        error = answer.get("error") or {"code": "internal"}
        for p in batch:
            _settle(p.answer, exc=GateError.from_dict(error))
        return
    if len(batch) == 1:
        _settle(batch[0].answer, result=answer.get("result"))
        return
    answers = answer.get("result")
    if not isinstance(answers, list) or len(answers) != len(batch):
        for p in batch:
            _settle(p.answer, exc=GateError("internal", "the node's answers do not match"))
        return
    for p, one in zip(batch, answers, strict=True):
        if isinstance(one, dict) and one.get("ok"):
            _settle(p.answer, result=one.get("result"))
        else:
            error = one.get("error") if isinstance(one, dict) else None
            _settle(p.answer, exc=GateError.from_dict(error or {"code": "internal"}))


def _settle(
    answer: asyncio.Future[Any], *, result: Any = None, exc: BaseException | None = None
) -> None:
    if answer.done():
        return  # its caller gave up meanwhile
    if exc is not None:
        answer.set_exception(exc)
    else:
        answer.set_result(result)


def _copy(exc: BaseException) -> BaseException:
    """A fresh exception of the same kind for each waiter (one shared instance would collect
    every waiter's traceback)."""
    try:
        return type(exc)(*exc.args)
    except Exception:
        return ConnectionError(str(exc))
