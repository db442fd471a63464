"""The words both consoles share: node states and the menu prompt (no cluster)."""

from __future__ import annotations

from console.ops.cluster import ClusterStatus
from console.repl.menu import PROMPT
from console.repl.shell import CHOICES


def test_a_paused_node_is_shown_paused_not_down() -> None:
    view = {
        "leader": "node1",
        "term": 3,
        "nodes": [
            {"node_id": "node1", "role": "leader", "http": {"up": True}, "state": "running"},
            {"node_id": "node2", "role": "down", "http": {"up": False}, "state": "paused"},
            {"node_id": "node3", "role": "down", "http": {"up": False}, "state": "exited"},
            {"node_id": "node4", "role": "follower", "http": {"up": True}},  # not managed
        ],
    }
    status = ClusterStatus.from_view(view)

    shown = [node.shown_role for node in status.nodes]
    assert shown == ["leader", "paused", "down", "follower"]


def test_the_menu_prompt_names_every_option() -> None:
    assert f"(1-{CHOICES[-1]})" in PROMPT and CHOICES[-1] == 27
