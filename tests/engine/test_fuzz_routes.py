"""A seeded fuzzer over every gateway route (issue #23): thousands of hostile requests.

Each request is built from the route's own shape, then spoiled: hostile path segments, query
parameters (unknown, repeated, huge, negative, not numbers), bodies with fields dropped, added,
retyped, integers past 64 bits, deep nesting, invalid JSON or UTF-8.  The fuzzer asserts what a
user may count on: never a 5xx, every answer within 1 s, every error the JSON error body, every
process alive at the end, and nothing written by a refused request (each append carries event
ids of its own; the store holds exactly those of the appends that were acknowledged).

The cluster has tokens of the three roles (issue #18) and each request carries one of them, an
unknown one or none: without a known token every route but /health and /ready is 401, a reader
never changes anything, a writer never creates or deletes a store or touches a node.

``GATE_FUZZ_SEED`` replays a run, ``GATE_FUZZ_REQUESTS`` sets its length (default 5,000).
"""

from __future__ import annotations

import asyncio
import copy
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest

from tests.api_routes import gateway_routes
from tests.cluster_harness import RunningCluster, wait_for

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("GATE_FUZZ_SEED", "23"))
REQUESTS = int(os.environ.get("GATE_FUZZ_REQUESTS", "5000"))
WORKERS = 4
SLOWEST_ALLOWED = 1.0  # seconds
LOG_STORE = "fzlog"  # the fuzzer's ledger: created first, never deleted

HOSTILE_TEXT = [
    "",
    " ",
    "a" * 300,
    "ü",
    "日本",
    "\u202e",
    "a\tb",
    "%00",
    "%2e%2e",
    "..",
    "$all",
    "$x",
    "-1",
    "0",
    "1e3",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "99999999999999999999999",
    "null",
    "{}",
    "[1]",
    "true",
    "🌱",
]
HOSTILE_JSON: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    1.5,
    "",
    "x" * 2000,
    [],
    {},
    [None],
    {"": None},
    "origin",
    "$all",
    {"$eq": 1},
]
EDGE_INTEGERS = [
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "1180591620717411303424",
]
QUERY_NAMES = [
    "from",
    "count",
    "direction",
    "from_position",
    "min_index",
    "min_position",
    "source_uuid",
    "stream_uuid",
    "type",
    "selector",
    "stream",
    "pattern",
    "since",
    "junk",
]
STORES = [LOG_STORE, "fz1", "fz2", "reg_gh", "nope"]
TOKENS = {"reader": "fz-reader", "writer": "fz-writer", "admin": "fz-admin"}
# Who sends a request, by weight: mostly an admin, so that the handlers are what gets fuzzed.
CALLERS = [("admin", 55), ("writer", 15), ("reader", 15), ("none", 8), ("unknown", 7)]
SECURITY = {
    "tokens": [
        {"name": f"fz-{role}", "token": token, "role": role} for role, token in TOKENS.items()
    ]
}
OPEN_PATHS = frozenset({"/health", "/ready"})
STREAMS = ["s1", "s2", "greenhouse-1"]
NAMES = ["sub1", "sub2", "sub.3"]
ACTIONS_SAFE = ["explode", "KILL", "stop ", "restartt", ""]


@dataclass
class Ledger:
    """What the fuzzer was told: event ids acknowledged and refused, statuses seen."""

    written: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    callers: dict[str, int] = field(default_factory=dict)
    slowest: tuple[float, str] = (0.0, "")
    problems: list[str] = field(default_factory=list)


class Fuzzer:
    """One worker: a seeded stream of hostile requests against one gateway."""

    def __init__(self, url: str, rng: random.Random, worker: int, ledger: Ledger) -> None:
        self.url = url
        self.rng = rng
        self.worker = worker
        self.ledger = ledger
        self.n = 0

    # -- values ----------------------------------------------------------------------------

    def segment(self, good: list[str]) -> str:
        r = self.rng.random()
        if r < 0.75:
            return self.rng.choice(good)
        return self.rng.choice(HOSTILE_TEXT)

    def json_value(self, depth: int = 0) -> Any:
        r = self.rng.random()
        if r < 0.6 or depth > 2:
            return copy.deepcopy(self.rng.choice(HOSTILE_JSON))  # spoiling must not share it
        if r < 0.8:
            return [self.json_value(depth + 1) for _ in range(self.rng.randint(0, 3))]
        return {
            self.rng.choice(["a", "x", "$in", "temperature"]): self.json_value(depth + 1)
            for _ in range(self.rng.randint(0, 3))
        }

    def spoil(self, body: dict[str, Any]) -> dict[str, Any]:
        """Drop, add or retype fields at the top or one level down."""
        for _ in range(self.rng.randint(1, 3)):
            target: Any = body
            if self.rng.random() < 0.4:
                nested = [v for v in body.values() if isinstance(v, dict)]
                lists = [v[0] for v in body.values() if isinstance(v, list) and v]
                choices = nested + [x for x in lists if isinstance(x, dict)]
                if choices:
                    target = self.rng.choice(choices)
            keys = list(target)
            action = self.rng.random()
            if keys and action < 0.3:
                del target[self.rng.choice(keys)]
            elif keys and action < 0.8:
                target[self.rng.choice(keys)] = self.json_value()
            else:
                target[self.rng.choice(["surprise", "", "$x", "ü"])] = self.json_value()
        return body

    def encode(self, body: Any) -> bytes:
        """The body as bytes, sometimes broken on the way."""
        raw = orjson.dumps(body)
        r = self.rng.random()
        if r < 0.25:
            # Integers at and past the 64-bit edges in place of number values (orjson cannot
            # write those past it): every number, or just one.
            big = b":" + self.rng.choice(EDGE_INTEGERS).encode()
            return re.sub(rb":-?[0-9]+", big, raw, count=self.rng.choice([0, 1]))
        if r < 0.28:
            return raw[: self.rng.randint(0, max(0, len(raw) - 1))]
        if r < 0.30:
            depth = self.rng.choice([65, 300, 2000])
            return b'{"events": ' + b"[" * depth + b"]" * depth + b"}"
        if r < 0.32:
            return raw.replace(b'"', b"\xff", 1)
        if r < 0.33:
            return b"\x00" * self.rng.randint(1, 50)
        return raw

    def query(self) -> list[tuple[str, str]]:
        params: list[tuple[str, str]] = []
        for _ in range(self.rng.choice([0, 0, 1, 1, 2, 3])):
            name = self.rng.choice(QUERY_NAMES)
            value = self.rng.choice([*HOSTILE_TEXT, "1", "5", "forward", "backward"])
            params.append((name, value))
            if self.rng.random() < 0.1:
                params.append((name, self.rng.choice(HOSTILE_TEXT)))
        return params

    # -- requests per route ----------------------------------------------------------------

    def event_ids(self, count: int) -> list[str]:
        self.n += 1
        return [f"fz-{self.worker}-{self.n}-{k}" for k in range(count)]

    def append(self) -> tuple[str, str, Any, list[str]]:
        store = self.segment(STORES)
        stream = self.segment(STREAMS)
        ids = self.event_ids(self.rng.choice([1, 1, 1, 2, 5]))
        events = [
            {
                "event_id": event_id,
                "event_type": self.rng.choice(["t:v1", "temperature_measured:v1"]),
                "data": {"k": self.rng.randint(-5, 5), "text": self.rng.choice(HOSTILE_TEXT)},
                "metadata": {"fuzz": True},
            }
            for event_id in ids
        ]
        body: dict[str, Any] = {"events": events}
        if self.rng.random() < 0.3:
            body["expected_version"] = self.rng.choice(["any", "no_stream", -1, 0, 3, "soon"])
        if self.rng.random() < 0.35:
            body = self.spoil(body)
        # The ids the body still carries (spoiling may have changed or dropped some).
        sent = body.get("events") if isinstance(body, dict) else None
        ids = [
            e["event_id"]
            for e in (sent if isinstance(sent, list) else [])
            if isinstance(e, dict) and str(e.get("event_id")).startswith("fz-")
        ]
        return "POST", f"/api/stores/{store}/streams/{stream}/events", body, ids

    def build(self, method: str, path: str) -> tuple[str, str, Any, list[str]]:
        """A request for one route of the app: (method, concrete path, body, event ids)."""
        if path == "/api/stores/{store}/streams/{stream}/events" and method == "POST":
            return self.append()
        values = {
            "store": lambda: self.segment(STORES),
            "stream": lambda: self.segment(STREAMS),
            "name": lambda: self.segment(NAMES),
            "source_uuid": lambda: self.segment(["src", "gh-1"]),
            "stream_uuid": lambda: self.segment(["str", "gh-1"]),
            "version": lambda: self.segment(["1", "2", "0"]),
            "node_id": lambda: self.rng.choice(["node1", "node2", "node9", *HOSTILE_TEXT[:4]]),
            "action": lambda: self.rng.choice(ACTIONS_SAFE),
        }
        concrete = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)](), path)
        if "/api/cluster/nodes/" in path and concrete.rsplit("/", 2)[-2] in ("node1", "node2"):
            # A real node with a real action would kill it: the fuzzer keeps the action bogus.
            concrete = concrete.rsplit("/", 1)[0] + "/" + self.rng.choice(ACTIONS_SAFE[:4])
        if path == "/api/cluster/nodes/{node_id}" and concrete.endswith(("/node1", "/node2")):
            concrete = "/api/cluster/nodes/node9"  # removing a member is the membership tests'
        if (
            method == "DELETE"
            and path == "/api/stores/{store}"
            and concrete.endswith((f"/{LOG_STORE}", "/reg_gh"))
        ):
            concrete = concrete.rsplit("/", 1)[0] + "/fz2"
        body: Any = None
        if method == "POST" and path == "/api/stores":
            body = {"store_id": self.rng.choice(["fz1", "fz2", LOG_STORE, "bad name", "ü"])}
            if self.rng.random() < 0.3:
                body["config"] = self.json_value()
        elif method == "PUT" and "/snapshots/" in path:
            body = {"data": {"count": self.rng.randint(0, 9)}, "metadata": {}}
            if self.rng.random() < 0.3:
                body["source_type"] = self.rng.choice(["gh", "", "x" * 300])
        elif method == "PUT" and "/subscriptions/" in path:
            body = {
                "type": self.rng.choice(
                    ["by_stream", "by_event_type", "by_event_pattern", "by_event_payload", "x"]
                ),
                "selector": self.rng.choice(["$all", "$s1", "t:v1", {"k": 1}, {"k": {"$gt": 1}}]),
                "start_from": self.rng.choice(["origin", "current", 0, 1, 5]),
            }
            if self.rng.random() < 0.3:
                body["max_in_flight"] = self.rng.choice([0, 1, 100, 10**6])
        if isinstance(body, dict) and self.rng.random() < 0.35:
            body = self.spoil(body)
        return method, concrete, body, []

    # -- sending ---------------------------------------------------------------------------

    async def send(
        self, http: aiohttp.ClientSession, request: tuple[str, str, Any, list[str]]
    ) -> None:
        method, path, body, ids = request
        if self.rng.random() < 0.1:
            method = self.rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH"])
        if method == "DELETE" and _KEPT_STORE.fullmatch(path):
            path = "/api/stores/fz2"  # the ledger's store, and the config's, stay
        data = None if body is None and self.rng.random() < 0.9 else self.encode(body)
        headers = {"Content-Type": self.rng.choice(["application/json"] * 4 + ["text/plain"])}
        caller = self.rng.choices([c for c, _ in CALLERS], [w for _, w in CALLERS])[0]
        if caller in TOKENS:
            headers["Authorization"] = f"Bearer {TOKENS[caller]}"
        elif caller == "unknown":
            headers["Authorization"] = self.rng.choice(
                ["Bearer FZ-ADMIN", "Bearer fz-admin2", "fz-admin", "Bearer ", "Basic Zm9v"]
            )
        what = f"{caller}: {method} {path} {data[:200] if data else b''!r}"
        start = time.monotonic()
        try:
            async with http.request(
                method,
                self.url + path,
                params=self.query(),
                data=data,
                headers=headers,
                allow_redirects=False,
            ) as resp:
                payload = await resp.read()
                status = resp.status
                content_type = resp.content_type
        except aiohttp.InvalidURL:
            return  # the client refuses to send it: nothing to learn
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.ledger.problems.append(f"no answer ({exc!r}) for {what}")
            return
        elapsed = time.monotonic() - start
        ledger = self.ledger
        ledger.statuses[status] = ledger.statuses.get(status, 0) + 1
        ledger.callers[caller] = ledger.callers.get(caller, 0) + 1
        if (problem := _role_problem(caller, method, path, status)) is not None:
            ledger.problems.append(f"{problem} for {what}")
        if elapsed > ledger.slowest[0]:
            ledger.slowest = (elapsed, what)
        if status >= 500:
            ledger.problems.append(f"{status} for {what}: {payload[:300]!r}")
        elif status >= 400 and not _is_error_body(content_type, payload):
            ledger.problems.append(f"{status} without the JSON error body for {what}")
        if elapsed > SLOWEST_ALLOWED:
            ledger.problems.append(f"{elapsed:.2f} s for {what}")
        if ids:
            store_ok = path.startswith(f"/api/stores/{LOG_STORE}/")
            if 200 <= status < 300 and method == "POST" and store_ok:
                ledger.written.update(ids)
            elif status >= 400 or not store_ok:
                ledger.refused.update(ids)


_KEPT_STORE = re.compile(rf"/api/stores/({LOG_STORE}|reg_gh)")
_ADMIN_ONLY = re.compile(r"/api/stores/?|/api/stores/[^/]+/?|/api/cluster/nodes(/.*)?")


def _role_problem(caller: str, method: str, path: str, status: int) -> str | None:
    """What the caller's role should have prevented, if the answer shows it was not."""
    if caller in ("none", "unknown") and path not in OPEN_PATHS and status != 401:
        return f"{status}, not 401, without a known token"
    changes = method in ("POST", "PUT", "DELETE") and 200 <= status < 300
    if caller == "reader" and changes:
        return f"{status}: a reader changed something"
    if caller == "writer" and changes and _ADMIN_ONLY.fullmatch(path):
        return f"{status}: a writer did an admin's work"
    return None


def _is_error_body(content_type: str, payload: bytes) -> bool:
    if content_type != "application/json":
        return False
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and isinstance(error.get("code"), str)


async def run_fuzzer(
    cluster: RunningCluster, routes: list[tuple[str, str]], seed: int, total: int
) -> Ledger:
    ledger = Ledger()
    per_worker = total // WORKERS
    writes = [(m, p) for m, p in routes if m in ("PUT", "POST") and "/cluster/" not in p]

    async def worker(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        fuzzer = Fuzzer(cluster.url, rng, k, ledger)
        timeout = aiohttp.ClientTimeout(total=3 * SLOWEST_ALLOWED)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for _ in range(per_worker):
                if len(ledger.problems) >= 20:
                    return  # enough to see what is wrong
                # Appends and the other writes with a body are half the traffic: they are
                # what could write what it should not, or poison the log.
                r = rng.random()
                if r < 0.35:
                    request = fuzzer.append()
                elif r < 0.5:
                    request = fuzzer.build(*rng.choice(writes))
                else:
                    request = fuzzer.build(*rng.choice(routes))
                await fuzzer.send(http, request)

    await asyncio.gather(*(worker(k) for k in range(WORKERS)))
    return ledger


async def test_fuzz_every_route(make_cluster: Callable[..., Any]) -> None:
    cluster: RunningCluster = await make_cluster(extra={"security": SECURITY})
    routes = sorted(
        (method, path)
        for path, methods in (await gateway_routes(cluster)).items()
        for method in methods
        if method != "HEAD"
    )
    assert len(routes) >= 25, routes
    async with cluster.new_client() as client:
        await client.create_store(LOG_STORE)
    pids = {node: await cluster.node_pid(node) for node in cluster.config.node_ids}

    ledger = await run_fuzzer(cluster, routes, SEED, REQUESTS)
    replay = f"GATE_FUZZ_SEED={SEED} GATE_FUZZ_REQUESTS={REQUESTS}"
    summary = (
        f"{sum(ledger.statuses.values())} requests over {len(routes)} routes,"
        f" callers {sorted(ledger.callers.items())},"
        f" statuses {sorted(ledger.statuses.items())},"
        f" slowest {ledger.slowest[0] * 1000:.0f} ms ({ledger.slowest[1][:120]})"
    )
    print(summary)
    assert not ledger.problems, f"replay with {replay}\n{summary}\n" + "\n".join(
        ledger.problems[:20]
    )
    assert sum(ledger.statuses.values()) >= REQUESTS * 0.95
    assert ledger.written, "no append was acknowledged: the fuzzer is not reaching the store"

    # Every node alive, the same processes as before, and the ledger exact on each of them.
    for node, pid in pids.items():
        assert await cluster.node_pid(node) == pid, f"{node} was restarted ({replay})"

    async def ledgers() -> list[set[str]]:
        return [
            {e["event_id"] for e in await cluster.node_all(node, LOG_STORE)}
            for node in cluster.config.node_ids
        ]

    held = await wait_for(ledgers, lambda c: all(x == c[0] for x in c), 15, "identical nodes")
    fuzzed = {event_id for event_id in held[0] if event_id.startswith("fz-")}
    assert fuzzed == ledger.written, (
        f"{len(fuzzed - ledger.written)} written unacknowledged,"
        f" {len(ledger.written - fuzzed)} acknowledged missing ({replay})"
    )
    assert not fuzzed & ledger.refused, replay
