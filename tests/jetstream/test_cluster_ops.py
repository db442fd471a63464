"""The cluster operations on a JetStream-backed gateway, against real nats-servers it launched
(engine/backends/jetstream/cluster_ops.py): a transfer moves the store streams' leaders to the
named server; what JetStream has no equivalent of is refused at once with one JSON error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from console.ops.catalogue import CATALOGUE
from console.ops.cluster import ClusterOps
from console.ops.errors import OpsError, failure_text
from console.ops.inside import InsideFeed
from console.ops.operations import Operations
from console.ops.outcomes import leadership_transferred
from console.ops.session import SessionOptions
from console.tui.app import GateConsole
from console.tui.cluster.panel import ClusterPanel
from console.tui.requests import request
from engine.backends.port import OPERATIONS
from engine.client import GateError
from engine.client.results import ClusterView
from tests.jetstream_cluster import JetStreamGateway, all_up, jetstream_config, launch

pytestmark = pytest.mark.slow

STREAM = "GATE_reg_gh"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JetStreamGateway]:
    """One gateway over three nats-servers for the module's tests."""
    directory: Path = tmp_path_factory.mktemp("jsops")
    served = launch(directory, jetstream_config(directory))
    try:
        asyncio.run(served.view(all_up, "every nats-server up and a meta leader"))
        yield served
    finally:
        served.stop()


def _stream_leader(view: ClusterView) -> str | None:
    streams: list[dict[str, Any]] = view.get("streams", [])  # type: ignore[assignment]
    return next((s.get("leader") for s in streams if s["stream"] == STREAM), None)


async def test_transfer_moves_the_store_streams_leader_to_the_named_server(
    gateway: JetStreamGateway,
) -> None:
    view = await gateway.view(lambda v: _stream_leader(v) is not None, f"{STREAM} has a leader")
    before = _stream_leader(view)
    target = next(n["node_id"] for n in view["nodes"] if n["node_id"] != before)
    async with gateway.client() as client:
        answer: dict[str, Any] = dict(await client.transfer_leadership(target))
    assert answer["action"] == "transfer" and answer["accepted"] is True
    assert answer["streams"][STREAM] == before
    assert answer["already_leader"] is False
    await gateway.view(lambda v: _stream_leader(v) == target, f"{target} leads {STREAM}")
    async with gateway.client() as client:
        again: dict[str, Any] = dict(await client.transfer_leadership(target))
    assert STREAM not in again["streams"]


REFUSED = [
    ("GET", "/api/cluster/nodes/nats2/log", None, "node_log"),
    ("POST", "/api/cluster/nodes/nats2/isolate", None, "isolate"),
    ("POST", "/api/cluster/nodes/nats2/heal", None, "isolate"),
    ("GET", "/api/cluster/links", None, "links"),
    ("POST", "/api/cluster/links", {"from": "nats1", "to": "nats2", "drop": 0.5}, "links"),
    ("DELETE", "/api/cluster/links", None, "links"),
    ("POST", "/api/cluster/links/drop", {"node": "nats1", "id": 1}, "links"),
    ("POST", "/api/cluster/tempo", {"scale": 5}, "tempo"),
    ("DELETE", "/api/cluster/nodes/nats3", None, "membership"),
    (
        "POST",
        "/api/cluster/nodes",
        {
            "node_id": "nats4",
            "http": {"host": "127.0.0.1", "port": 1},
            "tcp": {"host": "127.0.0.1", "port": 2},
        },
        "membership",
    ),
    ("GET", "/api/cluster/trace", None, "trace"),
    ("GET", "/api/cluster/inside", None, "inside"),
]


@pytest.mark.parametrize(("method", "path", "body", "operation"), REFUSED)
async def test_what_jetstream_has_not_is_refused_at_once_in_one_json_error(
    gateway: JetStreamGateway, method: str, path: str, body: Any, operation: str
) -> None:
    # The seam's own answer, before any server is asked (they used to be asked, and the
    # request waited out its timeout to end in a Gate handshake or ``unavailable`` error).
    async with aiohttp.ClientSession() as session:
        async with session.request(method, gateway.url + path, json=body) as response:
            status, answer = response.status, await response.json()
        async with session.get(gateway.url + "/api/cluster") as response:
            view = await response.json()
    assert status == 501, answer
    assert operation in view["unsupported"]
    error = answer["error"]
    assert error["code"] == "not_supported_by_backend", answer
    assert error["message"].startswith("backend jetstream: ")
    assert "\n" not in error["message"]


async def test_the_consoles_operations_layer_transfers_and_words_refusals_in_one_line(
    gateway: JetStreamGateway,
) -> None:
    """What both consoles run (console/ops): a transfer waits for the stream leaders, a refused
    operation is one line for a person, and the catalogue hides what the backend refuses."""
    async with gateway.client() as client:
        ops = ClusterOps(client)
        status = await ops.status()
        assert set(status.unsupported) == set(OPERATIONS) - {"transfer"}
        hidden = {entry.name for entry in CATALOGUE if not entry.offered(status.unsupported)}
        assert {"isolate_node", "node_log", "add_node", "set_tempo"} <= hidden
        assert {"transfer_leader", "node_stop", "cluster_status"}.isdisjoint(hidden)
        leaders = dict(status.stream_leaders)
        target = next(n.node_id for n in status.nodes if n.node_id != leaders[STREAM])
        result = await ops.transfer(target)
        assert STREAM in result.streams
        assert dict(result.status.stream_leaders)[STREAM] == target
        assert "leads the stores'" in leadership_transferred(result).summary
        # The Cluster panel's inside feed stops at once, in one line (it does not retry).
        feed = InsideFeed(client)  # console/ops/inside.py
        feed.watch(True)
        async with asyncio.timeout(10):
            while not feed.problem:
                await asyncio.sleep(0.05)
        assert feed.problem.startswith("backend jetstream: ") and not feed.nodes
        await feed.stop()
        for refused in (ops.node_log(target), ops.isolate(target), ops.heal(target)):
            with pytest.raises((GateError, OpsError)) as info:
                await refused
            line = failure_text(info.value)
            assert "backend jetstream: " in line and "\n" not in line, line


async def test_the_dashboard_hides_the_keys_of_what_the_backend_refuses(
    gateway: JetStreamGateway,
) -> None:
    ops = await Operations.open(SessionOptions(connect=gateway.url), seed=7, health_interval=0.2)
    try:
        app = GateConsole(ops, blink=False)
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 30
            while not app.offer.unsupported:
                assert time.monotonic() < deadline, "the cluster view never came"
                await pilot.pause(0.05)
            panel = app.query_one(ClusterPanel)
            for hidden in ("isolate_node", "heal_node", "link_fault", "add_node", "remove_node"):
                assert not panel.check_action("request", (hidden,)), hidden
            assert not app.check_action("request", ("tempo_slower",))
            assert panel.check_action("request", ("transfer_leader",))
            assert panel.check_action("request", ("node_stop",))
            # Asked for anyway (a palette entry from before the view came): one line, no call.
            app.post_message(request("isolate_node", "nats2"))
            while "not on JetStream" not in app.last_message:
                assert time.monotonic() < deadline, "no answer to the isolate request"
                await pilot.pause(0.05)
            assert app.last_message.endswith(
                "Isolate Node is not on JetStream (only Gate's own nodes have it)"
            )
            assert "\n" not in app.last_message
    finally:
        await ops.close()
