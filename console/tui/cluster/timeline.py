"""What changed between two looks at the cluster, in words: the failover as it happens.

The health monitor samples the gateway's cluster view about once a second; comparing each
sample with the one before tells a person what the cluster just went through: a node went
down, an election started, a new leader took over, an old leader came back and caught up.
"""

from __future__ import annotations

from console.ops.cluster import ClusterStatus, NodeRow

# Under a steady write load a follower trails by a few entries between two samples; only a lag
# this large (a node back from the dead, a long pause) is worth "caught up" when it ends.
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
    # campaigning, who is catching up.
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
        caught_up = old.up and (old.lag or 0) >= CATCH_UP_LAG and new.lag == 0
        if new.up and caught_up and after.leader is not None:
            said.append(f"{new.node_id} caught up")
    return [sentence for sentence in said if sentence]


def _up_or_down(old: NodeRow, new: NodeRow) -> str:
    if old.up and not new.up:
        what = "the leader" if old.role == "leader" else old.role
        return f"{new.node_id} {new.shown_role} (was {what})"
    if new.up and not old.up:
        return f"{new.node_id} back up" + _lag_note(new)
    return ""


def _lag_note(node: NodeRow) -> str:
    # A node back within one sample of the leader never trails by CATCH_UP_LAG; say it at once.
    return f", catching up (lag {node.lag})" if node.lag else ", caught up"
