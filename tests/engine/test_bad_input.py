"""Bad input gets the JSON error body with a fitting status, never a 500, and loses nothing."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from tests.cluster_harness import RunningCluster

EVENTS = "/api/stores/reg_gh/streams/bad-input/events"


async def request(
    cluster: RunningCluster, method: str, path: str, body: Any = None, raw: bytes | None = None
) -> tuple[int, Any]:
    data = raw if raw is not None else (orjson.dumps(body) if body is not None else None)
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, cluster.url + path, data=data) as resp,
    ):
        text = await resp.read()
        return resp.status, (orjson.loads(text) if text else None)


def ok_event() -> dict[str, Any]:
    return {"event_type": "temperature_measured:v1", "data": {"temperature": 20}}


@pytest.mark.parametrize(
    ("method", "path", "body", "raw", "status", "code"),
    [
        ("POST", EVENTS, None, b"{not json", 400, "invalid_request"),
        ("POST", EVENTS, None, b"", 400, "invalid_request"),
        ("POST", EVENTS, [], None, 400, "invalid_request"),
        ("POST", EVENTS, {"events": []}, None, 400, "invalid_request"),
        ("POST", EVENTS, {"events": "x"}, None, 400, "invalid_request"),
        ("POST", EVENTS, {"events": [{"data": {}}]}, None, 400, "invalid_request"),
        (
            "POST",
            EVENTS,
            {"events": [{"event_type": "t", "data": [1]}]},
            None,
            400,
            "invalid_request",
        ),
        (
            "POST",
            EVENTS,
            {"events": [{"event_type": "t", "data": {}, "metadata": 3}]},
            None,
            400,
            "invalid_request",
        ),
        (
            "POST",
            EVENTS,
            {"events": [{"event_type": "", "data": {}}]},
            None,
            400,
            "invalid_request",
        ),
        (
            "POST",
            EVENTS,
            {"events": [ok_event()], "expected_version": "sometimes"},
            None,
            400,
            "invalid_request",
        ),
        (
            "POST",
            EVENTS,
            {"events": [ok_event()], "expected_version": -2},
            None,
            400,
            "invalid_request",
        ),
        (
            "POST",
            EVENTS,
            {"events": [ok_event()], "expected_version": True},
            None,
            400,
            "invalid_request",
        ),
        (
            "POST",
            EVENTS,
            {"events": [{**ok_event(), "event_id": "a"}, {**ok_event(), "event_id": "a"}]},
            None,
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/api/stores/nope/streams/s/events",
            {"events": [ok_event()]},
            None,
            404,
            "store_not_found",
        ),
        (
            "GET",
            "/api/stores/reg_gh/streams/s/events?count=abc",
            None,
            None,
            400,
            "invalid_request",
        ),
        ("GET", "/api/stores/reg_gh/streams/s/events?count=0", None, None, 400, "invalid_request"),
        (
            "GET",
            "/api/stores/reg_gh/streams/s/events?count=5000",
            None,
            None,
            400,
            "invalid_request",
        ),
        (
            "GET",
            "/api/stores/reg_gh/streams/s/events?direction=sideways",
            None,
            None,
            400,
            "invalid_request",
        ),
        ("GET", "/api/stores/reg_gh/streams/s/events?from=-3", None, None, 400, "invalid_request"),
        ("GET", "/api/stores/reg_gh/all?from_position=x", None, None, 400, "invalid_request"),
        ("GET", "/api/stores/nope/all", None, None, 404, "store_not_found"),
        ("GET", "/api/stores/nope", None, None, 404, "store_not_found"),
        ("POST", "/api/stores", {"store_id": "bad id!"}, None, 400, "invalid_request"),
        ("POST", "/api/stores", {"nope": 1}, None, 400, "invalid_request"),
        ("POST", "/api/stores", {"store_id": "reg_gh"}, None, 409, "store_exists"),
        ("PUT", "/api/stores/reg_gh/snapshots/a/b/x", {"data": {}}, None, 400, "invalid_request"),
        ("PUT", "/api/stores/reg_gh/snapshots/a/b/1", {"data": 5}, None, 400, "invalid_request"),
        ("GET", "/api/stores/reg_gh/snapshots/a/b/1", None, None, 404, "snapshot_not_found"),
        ("GET", "/api/nothing-here", None, None, 404, "not_found"),
        ("PATCH", "/api/stores", None, None, 405, "method_not_allowed"),
        ("POST", "/api/cluster/nodes/node9/kill", None, None, 404, "node_not_found"),
        ("POST", "/api/cluster/nodes/node1/explode", None, None, 400, "invalid_request"),
        ("POST", "/api/cluster/nodes/node9/transfer", None, None, 404, "node_not_found"),
        ("POST", "/api/cluster/nodes/no%20de/transfer", None, None, 400, "invalid_request"),
        ("POST", "/api/cluster/nodes/node2/transfer", {"now": True}, None, 400, "invalid_request"),
        ("POST", "/api/cluster/nodes/node9/isolate", None, None, 404, "node_not_found"),
        (
            "POST",
            "/api/cluster/nodes/node1/isolate",
            {"peers": ["node1"]},
            None,
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/api/cluster/nodes/node1/isolate",
            {"peers": ["node7"]},
            None,
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/api/cluster/nodes/node1/isolate",
            {"direction": "up"},
            None,
            400,
            "invalid_request",
        ),
        ("POST", "/api/cluster/nodes/node1/heal", None, b"garbage", 400, "invalid_request"),
        ("POST", "/api/cluster/nodes/x%2Fy/heal", None, None, 400, "invalid_request"),
    ],
)
async def test_bad_requests_get_json_errors(
    cluster: RunningCluster,
    method: str,
    path: str,
    body: Any,
    raw: bytes | None,
    status: int,
    code: str,
) -> None:
    got_status, payload = await request(cluster, method, path, body, raw)
    assert got_status == status, payload
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]


async def test_oversized_request_is_413_and_writes_nothing(cluster: RunningCluster) -> None:
    limit = cluster.config.limits.max_request_bytes
    huge = {"events": [{"event_type": "t", "data": {"blob": "x" * (limit + 10)}}]}
    status, payload = await request(cluster, "POST", "/api/stores/reg_gh/streams/huge/events", huge)
    assert status == 413
    assert payload["error"]["code"] == "payload_too_large"
    status, payload = await request(cluster, "GET", "/api/stores/reg_gh/streams/huge/version")
    assert payload["version"] == -1


async def test_bad_input_loses_nothing(cluster: RunningCluster) -> None:
    good = {"events": [ok_event(), ok_event()]}
    status, _ = await request(cluster, "POST", EVENTS.replace("bad-input", "keep"), good)
    assert status == 200
    await request(cluster, "POST", EVENTS.replace("bad-input", "keep"), None, b"garbage")
    await request(
        cluster, "POST", EVENTS.replace("bad-input", "keep"), {"events": [ok_event(), {"data": {}}]}
    )
    status, page = await request(cluster, "GET", "/api/stores/reg_gh/streams/keep/events")
    assert page["version"] == 1 and len(page["events"]) == 2
