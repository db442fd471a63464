"""Prometheus metrics of a node, read from the live host state at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.heap import frozen_heap_gauge
from engine.node.host import RaftHost

_ROLES = ("follower", "candidate", "leader")


class NodeCollector(Collector):
    """Exposes term, role, log positions and activity counters of one node."""

    def __init__(self, host: RaftHost) -> None:
        self.host = host

    def collect(self) -> Iterator[Metric]:
        status = self.host.status()
        labels = ["node"]
        node = [self.host.node_id]
        for name, doc, value in (
            ("gate_node_term", "Current Raft term", status["term"]),
            ("gate_node_commit_index", "Highest committed log index", status["commit_position"]),
            (
                "gate_node_applied_index",
                "Highest log index applied to the stores",
                status["applied_position"],
            ),
            ("gate_node_last_index", "Last log index", status["last_index"]),
            (
                "gate_node_log_entries",
                "Entries the log holds (compaction drops those behind compactAfter)",
                status["log"]["last_index"] - status["log"]["first_index"] + 1,
            ),
            (
                "gate_node_snapshot_index",
                "Index of the last entry compacted away or replaced by a snapshot",
                status["snapshot"]["index"],
            ),
            (
                "gate_node_reachable_peers",
                "Peers heard from within an election timeout",
                self.host.reachable_peers(),
            ),
            (
                "gate_node_disk_full",
                "1 while the node takes no new entries: below storage.minFreeBytes free",
                0 if status["disk_full"] is None else 1,
            ),
        ):
            g = GaugeMetricFamily(name, doc, labels=labels)
            g.add_metric(node, value)
            yield g
        role = GaugeMetricFamily(
            "gate_node_role", "1 for the node's current role", labels=["node", "role"]
        )
        for r in _ROLES:
            role.add_metric([self.host.node_id, r], 1.0 if status["role"] == r else 0.0)
        yield role
        cut = GaugeMetricFamily(
            "gate_node_links_cut",
            "Peers whose Raft traffic this node drops (isolate), per direction",
            labels=["node", "direction"],
        )
        for direction in ("in", "out"):
            cut.add_metric([self.host.node_id, direction], len(status["cuts"][direction]))
        yield cut
        for key, doc in (
            ("proposals", "Commands proposed by this node as leader"),
            ("applied_entries", "Log entries applied to the stores"),
            ("fsyncs", "Log writes (one fsync each)"),
            ("raft_messages_in", "Raft messages received from peers"),
            ("long_polls", "Long-poll reads served (the gateways' observer tails)"),
            ("leadership_transfers", "Leadership hand-overs this node started as leader"),
            ("compactions", "Log compactions"),
            ("snapshots_sent", "Snapshots sent to followers behind the log's start"),
            ("snapshot_bytes_sent", "Bytes of store files sent in snapshots"),
            ("snapshot_failures", "Snapshot transfers that failed (they resume)"),
            ("snapshots_installed", "Snapshots from a leader installed here"),
        ):
            c = CounterMetricFamily(f"gate_node_{key}", doc, labels=labels)
            c.add_metric(node, self.host.counters[key])
            yield c
        shaped = self.host.peers.shaper.counters
        for key, doc in (
            ("dropped", "Raft messages a link fault dropped (POST /api/cluster/links)"),
            ("duplicated", "Raft messages a link fault sent twice"),
            ("delayed", "Raft messages held by a link fault's delay or the tempo"),
            ("dropped_by_hand", "Raft messages in flight dropped by hand (links/drop)"),
        ):
            c = CounterMetricFamily(f"gate_node_messages_{key}", doc, labels=labels)
            c.add_metric(node, shaped[key])
            yield c
        tempo = GaugeMetricFamily(
            "gate_node_tempo", "How many times slower than its config this node runs", labels=labels
        )
        tempo.add_metric(node, self.host.tempo.scale)
        yield tempo
        yield frozen_heap_gauge()
