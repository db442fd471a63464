"""The cluster's members as this gateway knows them (docs/API.md, "Membership").

They start as the config's nodes, all voters; from then on the replicated log rules: each
health round reads the membership in the leader's status (once committed), and an accepted
``POST``/``DELETE /api/cluster/nodes`` reads it from the leader's answer.  So a gateway restarted
with the original YAML still learns a node added at run time, with its endpoints, from the
cluster.  :meth:`Members.learn` returns the timeline events of a change.
"""

from __future__ import annotations

from typing import Any

from engine.config_model import ClusterConfig, Endpoint, NodeConfig


class Members:
    """Node id -> :class:`NodeConfig` and whether it votes, in the config's order, then the
    order nodes were added."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self._nodes: dict[str, NodeConfig] = {n.node_id: n for n in config.nodes}
        self._voters: set[str] = set(self._nodes)

    @property
    def nodes(self) -> tuple[NodeConfig, ...]:
        return tuple(self._nodes.values())

    @property
    def node_ids(self) -> tuple[str, ...]:
        return tuple(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def node(self, node_id: str) -> NodeConfig:
        """The member ``node_id``; KeyError if it is none."""
        return self._nodes[node_id]

    def voter(self, node_id: str) -> bool:
        return node_id in self._voters

    def listed(self, node_id: str) -> bool:
        """Whether the config lists ``node_id`` (a node added at run time is not)."""
        return any(n.node_id == node_id for n in self.config.nodes)

    def port_owner(self, host: str, port: int) -> str | None:
        """The member already listening on ``host:port`` (HTTP or TCP), if any."""
        wanted = Endpoint(host, port).connect_host
        for node in self._nodes.values():
            for endpoint in (node.http, node.tcp):
                if endpoint.port == port and endpoint.connect_host == wanted:
                    return node.node_id
        return None

    def learn(self, membership: Any) -> list[dict[str, Any]]:
        """Take the membership of a node's status (``{"voters", "learners", "addresses"}``);
        returns the events of what changed: ``member_added``, ``member_promoted``,
        ``member_removed``.  Anything malformed changes nothing."""
        parsed = _parse(membership)
        if parsed is None:
            return []
        voters, learners, addresses = parsed
        events: list[dict[str, Any]] = []
        for node_id in [n for n in self._nodes if n not in voters and n not in learners]:
            del self._nodes[node_id]
            self._voters.discard(node_id)
            events.append({"type": "member_removed", "node_id": node_id})
        for node_id in voters + learners:
            voter = node_id in voters
            if node_id not in self._nodes:
                node = addresses.get(node_id) or next(
                    (n for n in self.config.nodes if n.node_id == node_id), None
                )
                if node is None:
                    continue  # no endpoints known: the next round may bring them
                self._nodes[node_id] = node
                if voter:
                    self._voters.add(node_id)
                events.append({"type": "member_added", "node_id": node_id, "voter": voter})
            elif voter and node_id not in self._voters:
                self._voters.add(node_id)
                events.append({"type": "member_promoted", "node_id": node_id})
            elif not voter:
                self._voters.discard(node_id)
        return events


def _parse(raw: Any) -> tuple[list[str], list[str], dict[str, NodeConfig]] | None:
    if not isinstance(raw, dict):
        return None
    voters, learners, addresses = raw.get("voters"), raw.get("learners"), raw.get("addresses")
    if not (_names(voters) and isinstance(learners, list) and isinstance(addresses, list)):
        return None
    if not all(isinstance(n, str) for n in learners):
        return None
    nodes: dict[str, NodeConfig] = {}
    for item in addresses:
        try:
            node_id, http, tcp = str(item["node_id"]), item["http"], item["tcp"]
            nodes[node_id] = NodeConfig(
                node_id,
                False,
                Endpoint(str(http[0]), int(http[1])),
                Endpoint(str(tcp[0]), int(tcp[1])),
            )
        except (KeyError, TypeError, ValueError, IndexError):
            return None
    return list(voters or ()), list(learners), nodes


def _names(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
