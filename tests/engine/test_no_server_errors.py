"""Seeded random bad input against every endpoint: never a 500, always the JSON error body."""

from __future__ import annotations

import json
import random
from typing import Any

import aiohttp
import orjson

from tests.cluster_harness import RunningCluster

VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**70,
    1.5,
    "",
    "x",
    "$all",
    "\u0000",
    "é" * 300,
    [],
    [1, "a"],
    {},
    {"a": {"b": [None]}},
    {"$gt": 3},
    {"$regex": "("},
    {"$in": 5},
    "nan",
]
SEGMENTS = ["reg_gh", "nope", "$all", "..", "%00", "a b", "é", "x" * 300, "0", "-1", "node1"]
PATHS = [
    "/api/stores/{s}/streams/{t}/events",
    "/api/stores/{s}/streams/{t}/version",
    "/api/stores/{s}/streams",
    "/api/stores/{s}/all",
    "/api/stores/{s}",
    "/api/stores",
    "/api/stores/{s}/snapshots/{t}/{t}/{t}",
    "/api/stores/{s}/snapshots",
    "/api/stores/{s}/subscriptions",
    "/api/stores/{s}/subscriptions/{t}",
    "/api/stores/{s}/subscriptions/{t}/replay-parked",
    "/api/cluster/nodes/{s}/{t}",
]
PARAMS = [
    "from",
    "count",
    "direction",
    "min_position",
    "min_index",
    "from_position",
    "source_uuid",
    "stream_uuid",
    "selector",
    "type",
]


def random_body(rng: random.Random) -> bytes:
    shape = rng.randrange(5)
    if shape == 0:
        return rng.randbytes(rng.randrange(1, 40))
    if shape == 1:
        return json.dumps(rng.choice(VALUES)).encode()
    events = [
        {
            k: rng.choice(VALUES)
            for k in rng.sample(
                ["event_type", "data", "metadata", "event_id", "zz"], rng.randrange(5)
            )
        }
        for _ in range(rng.randrange(3))
    ]
    body = {
        "expected_version": rng.choice(VALUES),
        "events": events,
        "store_id": rng.choice(VALUES),
        "data": rng.choice(VALUES),
        "selector": rng.choice(VALUES),
        "type": rng.choice(VALUES),
        "start_from": rng.choice(VALUES),
        "max_retries": rng.choice(VALUES),
    }
    keys = rng.sample(list(body), rng.randrange(len(body)))
    return json.dumps({k: body[k] for k in keys}).encode()


async def test_random_bad_requests_never_cause_a_500(cluster: RunningCluster) -> None:
    rng = random.Random(20261122)
    async with aiohttp.ClientSession() as http:
        for _ in range(400):
            method = rng.choice(["GET", "POST", "PUT", "DELETE"])
            path = rng.choice(PATHS).format(s=rng.choice(SEGMENTS), t=rng.choice(SEGMENTS))
            if "/cluster/nodes/" in path and method == "POST":
                path = (
                    path.rsplit("/", 1)[0] + "/explode"
                )  # never stop a node of the shared cluster
            params = {p: str(rng.choice(VALUES)) for p in rng.sample(PARAMS, rng.randrange(3))}
            data = random_body(rng) if method in ("POST", "PUT") else None
            async with http.request(method, cluster.url + path, params=params, data=data) as resp:
                raw = await resp.read()
            what = f"{method} {path} {params} {data!r:.200}"
            assert resp.status < 500 or resp.status in (503, 504), (
                f"{resp.status} for {what}: {raw[:300]!r}"
            )
            if resp.status >= 400:
                error = orjson.loads(raw)["error"]
                assert error["code"] and error["message"], what
