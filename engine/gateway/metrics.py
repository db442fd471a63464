"""Prometheus metrics of a gateway, read from the router and the health view at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.gateway.health import ClusterMonitor
from engine.gateway.routing import Router
from engine.heap import frozen_heap_gauge


class GatewayCollector(Collector):
    """Request counters and the cluster's health as the gateway sees it."""

    def __init__(self, router: Router, health: ClusterMonitor) -> None:
        self.router = router
        self.health = health

    def collect(self) -> Iterator[Metric]:
        for key, doc in (
            ("writes", "Write requests routed to the leader"),
            ("write_retries", "Write attempts repeated after a failover or lost answer"),
            ("reads", "Read requests routed"),
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
