"""What a person types for slow motion and link faults, read once for both consoles."""

from __future__ import annotations

import pytest

from console.ops.cluster import (
    ClusterStatus,
    HealthSample,
    fault_text,
    parse_fault,
    parse_percent,
    tempo_step,
)
from console.ops.errors import OpsError
from console.ops.lessons import is_tempo
from console.repl.toolbar import toolbar_fragments
from engine.client.results import LinkFaultView
from tests.tui.recorded import HEALTHY


def test_the_tempo_keys_step_through_the_tempos_and_stop_at_the_ends() -> None:
    assert [tempo_step(s, 1) for s in (1, 2, 3, 20, 100)] == [2, 5, 5, 50, 100]
    assert [tempo_step(s, -1) for s in (100, 20, 3, 2, 1)] == [50, 10, 2, 1, 1]


def test_a_link_fault_is_typed_in_percent_and_milliseconds() -> None:
    assert parse_fault("30", "200", "5%") == (0.3, 200, 0.05)
    assert parse_fault("", "", "") == (0.0, 0, 0.0)
    assert parse_percent(" 2.5 % ", "drop") == 0.025
    fault: LinkFaultView = {
        "from": "a",
        "to": "b",
        "drop": 0.3,
        "delayMs": 200,
        "duplicate": 0.05,
        "seed": 1,
    }
    assert fault_text(fault) == "drop 30% · +200 ms · dup 5%"


@pytest.mark.parametrize(
    ("drop", "delay", "duplicate"),
    [
        ("101", "0", "0"),
        ("-1", "0", "0"),
        ("nan", "0", "0"),
        ("1_0", "0", "0"),
        ("0", "60001", "0"),
        ("0", "1.5", "0"),
        ("0", "0", "inf"),
        ("0", "0", "٣"),
    ],
)
def test_bad_link_fault_answers_get_one_line(drop: str, delay: str, duplicate: str) -> None:
    with pytest.raises(OpsError) as caught:
        parse_fault(drop, delay, duplicate)
    assert "\n" not in str(caught.value)


def test_a_lesson_line_tempo_is_told_apart_from_the_menu_numbers() -> None:
    assert is_tempo("tempo 20") and is_tempo("TEMPO") and not is_tempo("34")


def test_the_repl_toolbar_shows_the_tempo_in_slow_motion_only() -> None:
    def text(tempo: int) -> str:
        status = ClusterStatus("node1", 3, (), tempo)
        fragments = toolbar_fragments(HealthSample(status, 0.0, None, 0.0), "http://g")
        return "".join(part for _, part in fragments)

    assert "tempo" not in text(1)
    assert "leader node1 (term 3) · tempo ×1/20 · 0/0 nodes up" in text(20)


def test_the_repl_toolbar_ends_with_the_gateway_so_80_columns_cut_it_not_the_rate() -> None:
    """As the dashboard's top line: in slow motion at 80 columns the toolbar is too long, and
    what the terminal cuts must be the address (the room knows it), not the events per second."""
    status = ClusterStatus("node2", 2, (), 20)
    sample = HealthSample(status, 13.5, None, 0.0)
    text = "".join(part for _, part in toolbar_fragments(sample, "http://127.0.0.1:17399"))
    assert text == (
        " leader node2 (term 2) · tempo ×1/20 · 0/0 nodes up · 13.5/s events · "
        "http://127.0.0.1:17399 "
    )


def test_a_link_is_named_by_a_peer_never_by_the_node_itself() -> None:
    """The peer is checked where it is typed, before the percentages are asked for."""
    assert HEALTHY.link_peer("node1", "node2") == "node2"
    assert HEALTHY.link_peer("node1", " all ") == HEALTHY.link_peer("node1", "") == "all"
    with pytest.raises(OpsError, match="node1 has no link to itself; name a peer"):
        HEALTHY.link_peer("node1", "node1")
    with pytest.raises(OpsError, match="no node 'node9'"):
        HEALTHY.link_peer("node1", "node9")
