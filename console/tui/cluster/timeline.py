"""What changed between two looks at the cluster, in words: the failover as it happens.

The health monitor samples the gateway's cluster view about once a second; comparing each
sample with the one before tells a person what the cluster just went through: a node went
down, an election started, a new leader took over, an old leader came back and caught up, the
gateway restarted a node that died.
:class:`Timeline` remembers who is catching up across samples, so a node back with some lag
reads "caught up" once its lag reaches 0, however many samples that takes.
"""

from __future__ import annotations

from console.ops.cluster import ClusterStatus, NodeRow

# Under a steady write load a follower trails by a few entries between two samples; only a lag
# this large (a long pause, a slow disk) makes a node that stayed up "catching up".
CATCH_UP_LAG = 20


def transitions(before: ClusterStatus | None, after: ClusterStatus) -> list[str]:
    """Sentences for what changed from ``before`` to ``after`` (the start: the initial state)."""
    if before is None:
        if after.leader is None:
            return ["no leader yet: the cluster is electing one"]
        return [f"{after.leader} leads (term {after.term}), {after.nodes_up}/{len(after.nodes)} up"]
    old_nodes = {node.node_id: node for node in before.nodes}
    pairs = [(old_nodes[n.node_id], n) for n in after.nodes if n.node_id in old_nodes]
    # In the order a person follows a failover: who went, the leader lost or won, who is
    # campaigning.
    said = [_up_or_down(old, new) for old, new in pairs]
    if after.leader != before.leader:
        if after.leader is None:
            said.append(f"leader {before.leader} lost: no leader")
        else:
            said.append(f"new leader: {after.leader} (term {after.term})")
    elif after.term != before.term and after.term is not None:
        said.append(f"term {after.term}")
    for old, new in pairs:
        if new.up and new.role == "candidate" and old.role != "candidate":
            said.append(f"election: {new.node_id} is a candidate (term {new.term})")
    for old, new in pairs:
        said.append(_disk(old, new))
        said.append(_repair(old, new, after.leader))
    return [sentence for sentence in said if sentence]


class Timeline:
    """The sentences for each new look at the cluster, and who is still catching up."""

    def __init__(self) -> None:
        self.last: ClusterStatus | None = None
        self.catching_up: set[str] = set()  # said to be behind, "caught up" not said yet

    def note(self, status: ClusterStatus) -> list[str]:
        """What changed since the last look, ending with the nodes that just caught up."""
        before, self.last = self.last, status
        said = transitions(before, status)
        old_nodes = {node.node_id: node for node in before.nodes} if before else {}
        for node in status.nodes:
            old = old_nodes.get(node.node_id)
            if not node.up:
                self.catching_up.discard(node.node_id)
            elif old is not None and _came_back(old, node) and node.lag != 0:
                self.catching_up.add(node.node_id)  # its lag is unknown yet, or not 0
            elif (node.lag or 0) >= CATCH_UP_LAG:
                self.catching_up.add(node.node_id)
            elif node.node_id in self.catching_up and node.lag == 0 and status.leader:
                self.catching_up.discard(node.node_id)
                said.append(f"{node.node_id} caught up")
        return said


def _came_back(old: NodeRow, new: NodeRow) -> bool:
    """Up again since the last look: it was down, or its process is another one (restarted
    between two looks)."""
    return new.up and (not old.up or _restarted(old, new))


def _restarted(old: NodeRow, new: NodeRow) -> bool:
    return old.up and old.pid is not None and new.pid is not None and old.pid != new.pid


def _up_or_down(old: NodeRow, new: NodeRow) -> str:
    if new.restarts > old.restarts:
        # No lag here: the line fits 80 columns; "caught up" follows once the lag is 0.
        return _restarted_by_gateway(new)
    if old.up and not new.up:
        what = "the leader" if old.role == "leader" else old.role
        return f"{new.node_id} {new.shown_role} (was {what})"
    if new.up and not old.up:
        return f"{new.node_id} back up" + _lag_note(new)
    if _restarted(old, new):
        return f"{new.node_id} restarted" + _lag_note(new)
    return ""


def _disk(old: NodeRow, new: NodeRow) -> str:
    """A node's disk filled up (it takes no new entries), or has room again."""
    if new.disk_full is not None and old.disk_full is None:
        return f"{new.node_id}: {new.disk_full}, takes no new entries"
    if new.up and new.disk_full is None and old.disk_full is not None:
        return f"{new.node_id}: disk space back, takes new entries"
    return ""


def _repair(old: NodeRow, new: NodeRow, leader: str | None) -> str:
    """A node found its data damaged and rebuilds it from the leader, or is done."""
    if new.repairing is not None and old.repairing is None:
        source = f", rebuilding from {leader}" if leader and leader != new.node_id else ""
        return f"{new.node_id}: {new.repairing}{source}"
    if new.up and new.repairing is None and old.repairing is not None:
        return f"{new.node_id} repaired from {new.repaired_from or 'the leader'}"
    return ""


def _restarted_by_gateway(node: NodeRow) -> str:
    how = f" ({node.last_exit})" if node.last_exit else ""
    return f"{node.node_id} exited unexpectedly{how}: restarted (restart {node.restarts})"


def _lag_note(node: NodeRow) -> str:
    if node.lag is None:
        return ""  # not known yet: "caught up" follows once it is 0
    # A node back within one sample of the leader never trails by much; say it at once.
    return f", catching up (lag {node.lag})" if node.lag else ", caught up"
