"""Coalesced proposals answer each append as one at a time would (docs/ENGINE.md, "Coalesced
proposals"), on a real cluster.

Many clients append at once, so the gateway sends their commands to the leader in shared frames
(checked on its ``/metrics``): contenders on one stream with the same expected version, the same
request twice, retries of earlier winners and losers, ``any`` appends beside them, a
``stream_exists`` on a missing stream and appends to a missing store.  Each round's answers must
be exactly what a sequential model of the store gives for some order of the round's requests:
the successes in the order of their positions, each refusal at a point between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from engine.client import GateClient, GateError
from engine.cluster_secret import cluster_key, resolve_cluster_secret
from engine.gateway.tcp_pool import NodeConnection
from tests.cluster_harness import RunningCluster

STORE = "coalesced"
ROUNDS = 20
CONTENDERS = 10
CLIENTS = 8

Outcome = tuple[Any, ...]  # ("ok", version, position) or (error code, current_version)


@dataclass(frozen=True)
class Request:
    store: str
    stream: str
    expected: int | str
    ids: tuple[str, ...]


@dataclass
class Model:
    """The store as one append at a time leaves it (engine/storage/event_store.py, _append)."""

    stores: set[str]
    streams: dict[str, list[str]] = field(default_factory=dict)
    where: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    last_position: int = 0

    def append(self, req: Request) -> Outcome:
        if req.store not in self.stores:
            return ("store_not_found", None)
        events = self.streams.setdefault(req.stream, [])
        current = len(events) - 1
        found = {i: self.where[(req.stream, i)] for i in req.ids if (req.stream, i) in self.where}
        if found:
            numbers = [found[i][0] if i in found else None for i in req.ids]
            first = numbers[0]
            retry = first is not None and numbers == [first + k for k in range(len(req.ids))]
            if isinstance(req.expected, int) and first != req.expected + 1:
                retry = False
            if req.expected == "no_stream" and first != 0:
                retry = False
            if not retry:
                return ("wrong_expected_version", current)
            return ("ok", *found[req.ids[-1]])
        matches = {
            "any": True,
            "no_stream": current == -1,
            "stream_exists": current >= 0,
        }.get(str(req.expected), req.expected == current)
        if not matches:
            return ("wrong_expected_version", current)
        for event_id in req.ids:
            self.last_position += 1
            events.append(event_id)
            self.where[(req.stream, event_id)] = (len(events) - 1, self.last_position)
        return ("ok", len(events) - 1, self.last_position)


async def _send(client: GateClient, req: Request) -> Outcome:
    events = [{"event_id": i, "event_type": "t", "data": {"id": i}} for i in req.ids]
    try:
        result = await client.append(req.store, req.stream, events, expected_version=req.expected)
    except GateError as err:
        return (err.code, err.details.get("current_version"))
    return ("ok", result["version"], result["position"])


async def _coalescing(cluster: RunningCluster) -> tuple[float, float]:
    """The gateway's (frames of proposals, proposals) so far."""
    async with aiohttp.ClientSession() as http, http.get(cluster.url + "/metrics") as resp:
        text = await resp.text()
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("gate_gateway_propose_frames_total", "gate_gateway_proposals_total"):
            values[name] = float(value)
    return values["gate_gateway_propose_frames_total"], values["gate_gateway_proposals_total"]


def _round(rng: random.Random, r: int, model: Model, history: list[Request]) -> list[Request]:
    """The requests of round ``r``, sent all at once."""
    ids = (f"r{r}-{n}" for n in itertools.count())
    hot = len(model.streams.get("hot", [])) - 1

    def fresh(stream: str, expected: int | str, store: str = STORE) -> Request:
        return Request(store, stream, expected, tuple(next(ids) for _ in range(rng.randint(1, 3))))

    contenders = [fresh("hot", hot) for _ in range(CONTENDERS)]
    requests = [
        *contenders,
        contenders[0],  # the same request twice: a retry of whichever is applied first
        fresh("hot", "no_stream"),  # contends in round 0, refused after
        fresh(f"never-{r}", "stream_exists"),
        fresh("hot", "any", store="missing"),
        *(fresh(f"free-{k}", "any") for k in range(3)),
        *rng.sample(history, min(3, len(history))),  # earlier winners and losers again
    ]
    rng.shuffle(requests)
    return requests


async def test_coalesced_appends_get_the_answers_of_one_at_a_time(
    cluster: RunningCluster,
) -> None:
    rng = random.Random(20)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(cluster.new_client()) for _ in range(CLIENTS)]
        await clients[0].create_store(STORE)
        frames_before, proposals_before = await _coalescing(cluster)
        model = Model(stores={STORE})
        history: list[Request] = []
        for r in range(ROUNDS):
            requests = _round(rng, r, model, history)
            outcomes = await asyncio.gather(
                *(_send(clients[i % CLIENTS], req) for i, req in enumerate(requests))
            )
            # A sequential order the answers imply: the successes by position (a request sent
            # twice: either copy may be the first), each refusal anywhere between them, where
            # its current_version says it was applied.
            successes = sorted(
                (i for i, o in enumerate(outcomes) if o[0] == "ok"), key=lambda i: outcomes[i][2]
            )
            refused = [i for i, o in enumerate(outcomes) if o[0] != "ok"]
            possible: dict[int, list[Outcome]] = {i: [] for i in refused}
            for step in [None, *successes]:
                if step is not None:
                    answer = model.append(requests[step])
                    assert outcomes[step] == answer, (r, requests[step], outcomes[step], answer)
                for i in refused:
                    possible[i].append(copy.deepcopy(model).append(requests[i]))
            for i in refused:
                assert outcomes[i] in possible[i], (r, requests[i], outcomes[i], possible[i])
            history.extend(q for q in requests if q.store == STORE and q.stream == "hot")
        frames, proposals = await _coalescing(cluster)
        assert proposals - proposals_before > frames - frames_before, (
            "no frame carried more than one proposal: nothing was coalesced"
        )
        stored = await clients[0].read_stream(STORE, "hot", count=1000)
        assert [e["event_id"] for e in stored["events"]] == model.streams["hot"]


async def test_a_frame_of_commands_is_answered_command_by_command(cluster: RunningCluster) -> None:
    """Straight to the leader, as the gateway sends a coalesced frame: a malformed command and
    a conflicting one are refused alone, their neighbours are written."""
    leader = await cluster.leader()
    config = resolve_cluster_secret(cluster.config, create=False)
    conn = NodeConnection(leader, config.node(leader).tcp, secret=cluster_key(config))

    def append(event_id: str, expected: int | str) -> dict[str, Any]:
        event = {"event_id": event_id, "event_type": "t", "data": {}, "metadata": {}}
        return {
            "op": "append",
            "store": "reg_gh",
            "stream": "framed",
            "expected_version": expected,
            "events": [{**event, "created_epoch": 0}],
        }

    commands = [
        append("f1", "no_stream"),
        {"op": "append", "store": "reg_gh"},  # malformed: refused before anything is proposed
        append("f2", "no_stream"),  # applied after f1: the stream exists by then
        append("f3", 0),
        append("f1", "no_stream"),  # the first again: a retry, the same result (own entry)
    ]
    try:
        answer = await conn.request({"op": "propose", "commands": commands, "timeout": 5}, 10)
    finally:
        conn.close()
    assert answer["ok"], answer
    first, malformed, conflict, third, again = answer["result"]
    assert first["ok"] and first["result"]["result"]["version"] == 0
    assert not malformed["ok"] and malformed["error"]["code"] == "invalid_request"
    assert not conflict["ok"] and conflict["error"]["code"] == "wrong_expected_version"
    assert conflict["error"]["current_version"] == 0
    assert third["ok"] and third["result"]["result"]["version"] == 1
    assert third["result"]["index"] > first["result"]["index"]
    assert again["ok"] and again["result"]["result"] == first["result"]["result"]
