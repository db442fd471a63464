"""Prometheus metrics of a gateway, read from its request counts, the router and the health
view at scrape time."""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Iterator
from typing import TypeVar

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.gateway.health import ClusterMonitor
from engine.gateway.routing import Router
from engine.heap import frozen_heap_gauge
from engine.protocol.errors import GateError

T = TypeVar("T")


class RequestCounts:
    """The requests the gateway's handlers hand to the backend (engine/backends/port.py), and
    those that ended in an error by its code: counted where the port is called, so both
    backends report them alike."""

    def __init__(self) -> None:
        self.writes = 0
        self.appends = 0
        self.events_appended = 0  # in the appends acknowledged
        self.reads = 0
        self.errors: collections.Counter[tuple[str, str]] = collections.Counter()

    async def write(self, call: Awaitable[T]) -> T:
        self.writes += 1
        return await self._counting("write", call)

    async def append(self, call: Awaitable[T], events: int) -> T:
        self.writes += 1
        self.appends += 1
        result = await self._counting("write", call)
        self.events_appended += events
        return result

    async def read(self, call: Awaitable[T]) -> T:
        self.reads += 1
        return await self._counting("read", call)

    async def _counting(self, kind: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except GateError as err:
            self.errors[kind, err.code] += 1
            raise


class GatewayCollector(Collector):
    """Request counters and the cluster's health as the gateway sees it."""

    def __init__(self, counts: RequestCounts, router: Router, health: ClusterMonitor) -> None:
        self.counts = counts
        self.router = router
        self.health = health

    def collect(self) -> Iterator[Metric]:
        counts = self.counts
        for name, doc, value in (
            ("writes", "Write requests (appends, stores, snapshots, subscriptions)", counts.writes),
            ("appends", "Append requests", counts.appends),
            ("events_appended", "Events in the appends acknowledged", counts.events_appended),
            ("reads", "Read requests, the observers' long polls included", counts.reads),
        ):
            yield CounterMetricFamily(f"gate_gateway_{name}", doc, value=value)
        errors = CounterMetricFamily(
            "gate_gateway_request_errors",
            "Write and read requests that ended in an error, by its code",
            labels=["kind", "code"],
        )
        for (kind, code), value in sorted(counts.errors.items()):
            errors.add_metric([kind, code], value)
        yield errors
        for key, doc in (
            ("write_retries", "Write attempts repeated after a failover or lost answer"),
            ("reads_on_followers", "Reads answered by a follower"),
            ("reads_damaged", "Read answers store_damaged, each retried on another node"),
        ):
            yield CounterMetricFamily(f"gate_gateway_{key}", doc, value=self.router.counters[key])
        batcher = self.router.proposals.counters
        yield CounterMetricFamily(
            "gate_gateway_propose_frames",
            "Frames of proposals sent to a leader (engine/gateway/proposals.py)",
            value=batcher["propose_frames"],
        )
        yield CounterMetricFamily(
            "gate_gateway_proposals",
            "Proposals sent to a leader; over propose_frames, how many a frame carried",
            value=batcher["proposals"],
        )
        yield CounterMetricFamily(
            "gate_gateway_leaders_pushed",
            "New leaders learned from a node's announcement rather than a health round",
            value=self.health.leaders_pushed,
        )
        view = self.health.view
        yield GaugeMetricFamily(
            "gate_cluster_has_leader",
            "1 when a leader is known",
            value=1.0 if view.get("leader") else 0.0,
        )
        yield GaugeMetricFamily(
            "gate_cluster_term", "Highest term seen", value=view.get("term") or 0
        )
        up = GaugeMetricFamily("gate_node_up", "1 when the node answers", labels=["node", "probe"])
        lag = GaugeMetricFamily("gate_node_lag", "Log entries behind the leader", labels=["node"])
        for node in view.get("nodes", []):
            up.add_metric([node["node_id"], "http"], 1.0 if node["http"]["up"] else 0.0)
            up.add_metric([node["node_id"], "tcp"], 1.0 if node["tcp"]["up"] else 0.0)
            if node.get("lag") is not None:
                lag.add_metric([node["node_id"]], node["lag"])
        yield up
        yield lag
        yield frozen_heap_gauge()
