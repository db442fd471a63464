"""What changed between two looks at the cluster, in words: the failover as it happens.

The health monitor samples the gateway's cluster view about once a second; comparing each
sample with the one before tells a person what the cluster just went through: a node went
down, an election started, a new leader took over (or was handed the leadership, as it says),
an old leader came back and caught up, the gateway restarted a node that died, a node was
isolated or healed, a link of it was made lossy, slow or repeating or whole again, the tempo
changed, a node joined as a learner, was promoted to voter or was removed; on JetStream, a
stream's group elected another leader.
:class:`Timeline` remembers who is catching up across samples, so a node back with some lag
reads "caught up" once its lag reaches 0, however many samples that takes, and a node that
stayed up but fell far behind is said to have, before its "caught up".
"""

from __future__ import annotations

from console.ops.cluster import ClusterStatus, NodeRow, uptime_text

# Under a steady write load a follower trails by a few entries between two samples; only a lag
# this large (a long pause, a slow disk) makes a node that stayed up "catching up".
CATCH_UP_LAG = 20


def elapsed_text(seconds: float) -> str:
    """A timeline line's time since the first look, always seven columns so the sentences
    line up: ``+ 12.3s``, past 999.9 s ``+26m45s``."""
    if round(seconds, 1) < 1000:
        return f"+{seconds:5.1f}s"
    return "+" + uptime_text(seconds).rjust(6)


def transitions(before: ClusterStatus | None, after: ClusterStatus) -> list[str]:
    """Sentences for what changed from ``before`` to ``after`` (the start: the initial state)."""
    if before is None:
        if after.leader is None:
            return ["no leader yet: the cluster is electing one"]
        return [f"{after.leader} leads (term {after.term}), {after.nodes_up}/{len(after.nodes)} up"]
    old_nodes = {node.node_id: node for node in before.nodes}
    pairs = [(old_nodes[n.node_id], n) for n in after.nodes if n.node_id in old_nodes]
    # In the order a person follows a failover: who joined or left, who went or was cut off,
    # the leader lost or won, who is campaigning.
    said = _membership(before, after)
    if after.tempo != before.tempo:
        said.append(
            after.tempo_text + ": slow motion" if after.tempo_text else "tempo ×1: full speed"
        )
    said += [_up_or_down(old, new) for old, new in pairs]
    said += [_links(old, new, old.node_id == before.leader) for old, new in pairs]
    said += [_link_faults(old, new) for old, new in pairs]
    if after.leader != before.leader:
        new_leader = {node.node_id: node for node in after.nodes}.get(after.leader or "")
        if after.leader is None:
            said.append(f"leader {before.leader} lost: no leader")
        elif before.leader is not None and new_leader is not None and new_leader.handed_over:
            # The new leader says it was handed over (TimeoutNow), not elected on a timeout: an
            # old leader that stayed up can still lose an election (a stall, a lossy link).
            said.append(
                f"leadership transferred: {before.leader} → {after.leader} (term {after.term})"
            )
        else:
            said.append(f"new leader: {after.leader} (term {after.term})")
    elif after.term != before.term and after.term is not None:
        said.append(f"term {after.term}")
    said += _stream_leaders(before, after)
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
                if node.node_id not in self.catching_up:  # else "caught up" comes from nowhere
                    said.append(f"{node.node_id} fell behind (lag {node.lag}), catching up")
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


def _stream_leaders(before: ClusterStatus, after: ClusterStatus) -> list[str]:
    """JetStream's elections of a stream's leader (each stream is a Raft group of its own)."""
    old = dict(before.stream_leaders)
    said = []
    for stream, leader in after.stream_leaders:
        if stream not in old or old[stream] == leader:
            continue
        if leader is None:
            said.append(f"stream {stream}: leader {old[stream]} lost")
        else:
            said.append(f"stream {stream}: new leader {leader}")
    return said


def _membership(before: ClusterStatus, after: ClusterStatus) -> list[str]:
    """Nodes that joined (as learners, or as voters), were promoted, or were removed."""
    old_nodes = {node.node_id: node for node in before.nodes}
    new_ids = {node.node_id for node in after.nodes}
    said = []
    for node in after.nodes:
        old = old_nodes.get(node.node_id)
        if old is None:
            said.append(f"{node.node_id} joins as {'voter' if node.voter else 'learner'}")
        elif node.voter and not old.voter:
            said.append(f"{node.node_id} promoted to voter")
    said += [f"{node.node_id} removed" for node in before.nodes if node.node_id not in new_ids]
    return said


def _links(old: NodeRow, new: NodeRow, was_leader: bool) -> str:
    """A node isolated (the leader steps down for want of a quorum), partly cut, or healed.
    Only a node that answers says; a restarted node has its links back by itself."""
    if not new.up or (old.cut_in, old.cut_out, old.isolated) == (
        new.cut_in,
        new.cut_out,
        new.isolated,
    ):
        return ""
    if new.isolated:
        if was_leader:
            return f"{new.node_id} isolated: steps down (no quorum)"
        return f"{new.node_id} isolated: hears no peer, no peer hears it"
    if new.cut:
        return f"{new.node_id}: {new.cuts_text}"
    if old.up and not _restarted(old, new):
        return f"{new.node_id} healed"
    return ""


def _link_faults(old: NodeRow, new: NodeRow) -> str:
    """A node's outgoing links made lossy, slow or repeating, or whole again (only a node that
    answers says; a restarted one has none)."""
    if not new.up or old.link_faults == new.link_faults:
        return ""
    if new.link_faults:
        return f"{new.node_id} link faults: {new.faults_text}"
    if old.up and not _restarted(old, new):
        return f"{new.node_id}: link faults cleared"
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
