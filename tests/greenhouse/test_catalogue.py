"""The event catalogue and the random generator against the contract of docs/GREENHOUSE.md."""

from __future__ import annotations

import itertools

import pytest

from domain.greenhouse.catalogue import (
    EVENT_TYPES,
    FOLLOW_UP_TYPES,
    INITIALIZED,
    OPERATORS,
    PAYLOADS,
    InvalidEvent,
    validate_event,
)
from domain.greenhouse.random_generator import RandomGenerator

CONTRACT = {
    "initialized:v1": ("temperature", "humidity", "light"),
    "temperature_measured:v1": ("temperature",),
    "humidity_measured:v1": ("humidity",),
    "light_measured:v1": ("light",),
    "desired_temperature_set:v1": ("temperature", "operator"),
    "desired_humidity_set:v1": ("humidity", "operator"),
    "desired_light_set:v1": ("light", "operator"),
    "fan_activated:v1": ("intensity",),
    "fan_deactivated:v1": ("intensity",),
    "light_activated:v1": ("intensity",),
    "light_deactivated:v1": ("intensity",),
    "heater_activated:v1": ("intensity",),
    "heater_deactivated:v1": ("intensity",),
    "sprinkler_activated:v1": ("intensity",),
    "sprinkler_deactivated:v1": ("intensity",),
}


def test_the_fifteen_types_and_their_payloads_are_the_contract() -> None:
    assert PAYLOADS == CONTRACT
    assert len(EVENT_TYPES) == 15
    assert EVENT_TYPES[0] == INITIALIZED
    assert INITIALIZED not in FOLLOW_UP_TYPES and len(FOLLOW_UP_TYPES) == 14
    assert OPERATORS == ("John", "Paul", "George", "Ringo", "Jim", "Laura", "Peter")


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("initialized:v1", {"temperature": 6, "humidity": 1, "light": 100}),
        ("temperature_measured:v1", {"temperature": 35}),
        ("temperature_measured:v1", {"temperature": 21.5}),
        ("desired_light_set:v1", {"light": 50, "operator": "Laura"}),
        ("sprinkler_deactivated:v1", {"intensity": 1}),
    ],
)
def test_valid_payloads_pass(event_type: str, data: dict[str, object]) -> None:
    validate_event(event_type, data)


@pytest.mark.parametrize(
    ("event_type", "data", "complaint"),
    [
        ("teleported:v1", {}, "unknown event type"),
        ("temperature_measured:v1", [], "must be an object"),
        ("temperature_measured:v1", {}, "missing temperature"),
        ("temperature_measured:v1", {"temperature": 20, "x": 1}, "unexpected x"),
        ("temperature_measured:v1", {"temperature": 5}, "outside 6..35"),
        ("temperature_measured:v1", {"temperature": 35.5}, "outside 6..35"),
        ("humidity_measured:v1", {"humidity": 0}, "outside 1..100"),
        ("light_measured:v1", {"light": 101}, "outside 1..100"),
        ("fan_activated:v1", {"intensity": 0}, "outside 1..100"),
        ("fan_activated:v1", {"intensity": True}, "must be a number"),
        ("fan_activated:v1", {"intensity": "50"}, "must be a number"),
        ("desired_humidity_set:v1", {"humidity": 50, "operator": "Yoko"}, "operator 'Yoko'"),
    ],
)
def test_invalid_payloads_are_rejected_with_a_reason(
    event_type: str, data: object, complaint: str
) -> None:
    with pytest.raises(InvalidEvent, match=complaint):
        validate_event(event_type, data)


def test_random_events_start_initialized_and_stay_in_the_catalogue() -> None:
    for seed in range(20):
        generator = RandomGenerator(seed)
        events = [generator.next_event() for _ in range(300)]
        assert events[0]["event_type"] == INITIALIZED
        assert all(e["event_type"] != INITIALIZED for e in events[1:])
        for event in events:
            validate_event(event["event_type"], event["data"])
            assert set(event["metadata"]) >= {"causation_id", "correlation_id"}
        assert len({e["event_id"] for e in events}) == len(events)
        assert {e["metadata"]["correlation_id"] for e in events} == {
            events[0]["metadata"]["correlation_id"]
        }
        assert set(events[0]["metadata"]) >= {"name", "location", "city", "country"}


def test_random_events_cover_every_type_and_the_whole_ranges() -> None:
    generator = RandomGenerator(7)
    generator.next_event()
    events = [generator.next_event() for _ in range(5000)]
    counts = {t: sum(e["event_type"] == t for e in events) for t in FOLLOW_UP_TYPES}
    # Uniform over 14 types: about 357 each; far outside 250..470 would be a broken choice.
    assert all(250 < n < 470 for n in counts.values()), counts
    temperatures = {e["data"]["temperature"] for e in events if "temperature" in e["data"]}
    intensities = {e["data"]["intensity"] for e in events if "intensity" in e["data"]}
    operators = {e["data"]["operator"] for e in events if "operator" in e["data"]}
    assert temperatures == set(range(6, 36))
    assert intensities == set(range(1, 101))
    assert operators == set(OPERATORS)


def test_causation_chains_each_event_to_the_previous_one() -> None:
    generator = RandomGenerator(3)
    events = [generator.next_event() for _ in range(10)]
    assert events[0]["metadata"]["causation_id"] == events[0]["event_id"]
    for before, after in itertools.pairwise(events):
        assert after["metadata"]["causation_id"] == before["event_id"]
