"""The bottom toolbar: live cluster health (leader, the tempo in slow motion, nodes up, events/s,
then the gateway) from the health monitor."""

from __future__ import annotations

from console.ops.cluster import HealthSample
from console.ops.formatting import rate_text

Fragments = list[tuple[str, str]]


def toolbar_fragments(sample: HealthSample | None, url: str, access: str = "") -> Fragments:
    """The toolbar's text for the latest health sample; ``access`` (the token's role and name,
    when tokens limit anyone) first, where a narrow terminal does not cut it."""
    fragments = _health(sample, url)
    if access:
        return [("class:toolbar.role", f" as {access} "), *fragments]
    return fragments


def _health(sample: HealthSample | None, url: str) -> Fragments:
    if sample is None:
        return [("class:bottom-toolbar", f" {url} · connecting…")]
    if sample.status is None:
        return [("class:toolbar.bad", f" 🔴 {url} unreachable: {sample.error} ")]
    status = sample.status
    total = len(status.nodes)
    leader_style = "class:toolbar.ok" if status.leader else "class:toolbar.bad"
    nodes_style = "class:toolbar.ok" if status.nodes_up == total else "class:toolbar.bad"
    leader = f"leader {status.leader} (term {status.term})" if status.leader else "no leader"
    tempo: Fragments = []
    if status.tempo_text:
        tempo = [("class:toolbar.warn", status.tempo_text), ("class:bottom-toolbar", " · ")]
    # The gateway last, as on the dashboard's top line: a narrow terminal cuts the address,
    # which does not change, not the leader or the rate.
    return [
        ("class:bottom-toolbar", " "),
        (leader_style, leader),
        ("class:bottom-toolbar", " · "),
        *tempo,
        (nodes_style, f"{status.nodes_up}/{total} nodes up"),
        ("class:bottom-toolbar", f" · {rate_text(sample.events_per_second)} events · {url} "),
    ]
