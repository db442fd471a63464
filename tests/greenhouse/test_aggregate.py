"""Folding greenhouse streams: the fields, the status rules, snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from domain.greenhouse.aggregate import Greenhouse, fold
from domain.greenhouse.places import place_for
from domain.greenhouse.random_generator import RandomGenerator
from domain.greenhouse.repository import SnapshotPolicy
from tests.greenhouse.fake_gate import records_of

STREAM = "greenhouse-1"
PLACE = {
    "name": "Jansen Nursery",
    "location": "Dorpsstraat 1",
    "city": "Aalst",
    "country": "Belgium",
}


def _event(event_type: str, data: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    meta = {"causation_id": "c", "correlation_id": "r", **metadata}
    return {
        "event_id": f"id-{event_type}",
        "event_type": event_type,
        "data": data,
        "metadata": meta,
    }


def _initialized() -> dict[str, Any]:
    return _event("initialized:v1", {"temperature": 22, "humidity": 60, "light": 50}, **PLACE)


def test_a_new_greenhouse_is_inactive_with_its_targets_and_place() -> None:
    records = records_of(STREAM, [_initialized()])
    greenhouse = fold(STREAM, records)
    assert greenhouse.greenhouse_id == STREAM
    assert (greenhouse.name, greenhouse.location, greenhouse.city, greenhouse.country) == tuple(
        PLACE.values()
    )
    assert (greenhouse.target_temperature, greenhouse.target_humidity, greenhouse.target_light) == (
        22,
        60,
        50,
    )
    assert greenhouse.current_temperature is None
    assert greenhouse.actuators == {"fan": None, "light": None, "heater": None, "sprinkler": None}
    assert greenhouse.created_at == records[0]["created"] == greenhouse.updated_at
    assert greenhouse.version == 0
    assert greenhouse.status == "inactive"


def test_every_event_type_lands_in_its_field() -> None:
    events = [
        _initialized(),
        _event("temperature_measured:v1", {"temperature": 21}),
        _event("humidity_measured:v1", {"humidity": 55}),
        _event("light_measured:v1", {"light": 45}),
        _event("desired_temperature_set:v1", {"temperature": 24, "operator": "Jim"}),
        _event("desired_humidity_set:v1", {"humidity": 65, "operator": "Paul"}),
        _event("desired_light_set:v1", {"light": 40, "operator": "Ringo"}),
        _event("fan_activated:v1", {"intensity": 30}),
        _event("light_activated:v1", {"intensity": 40}),
        _event("heater_activated:v1", {"intensity": 50}),
        _event("sprinkler_activated:v1", {"intensity": 60}),
        _event("light_deactivated:v1", {"intensity": 40}),
        _event("heater_deactivated:v1", {"intensity": 50}),
    ]
    records = records_of(STREAM, events)
    greenhouse = fold(STREAM, records)
    assert (greenhouse.current_temperature, greenhouse.current_humidity) == (21, 55)
    assert greenhouse.current_light == 45
    assert (greenhouse.target_temperature, greenhouse.target_humidity) == (24, 65)
    assert greenhouse.target_light == 40
    assert greenhouse.actuators == {"fan": 30, "light": None, "heater": None, "sprinkler": 60}
    assert greenhouse.version == 12
    assert greenhouse.created_at == records[0]["created"]
    assert greenhouse.updated_at == records[-1]["created"]


@pytest.mark.parametrize(
    ("readings", "status"),
    [
        ({"current_temperature": 27}, "active"),  # exactly 5 off is still fine
        ({"current_temperature": 28}, "warning"),
        ({"current_temperature": 16.5}, "warning"),
        ({"current_humidity": 80}, "active"),
        ({"current_humidity": 39}, "warning"),
        ({"current_light": 80}, "active"),
        ({"current_light": 19}, "warning"),
        ({"current_temperature": 22, "current_humidity": 60, "current_light": 81}, "warning"),
        ({"current_temperature": 24, "current_humidity": 45, "current_light": 25}, "active"),
    ],
)
def test_status_rules(readings: dict[str, float], status: str) -> None:
    greenhouse = Greenhouse(
        STREAM, target_temperature=22, target_humidity=60, target_light=50, **readings
    )
    assert greenhouse.status == status


def test_a_reading_without_a_target_cannot_warn() -> None:
    assert Greenhouse(STREAM, current_temperature=35).status == "active"


def test_unknown_and_invalid_events_only_advance_the_version() -> None:
    events = [
        _initialized(),
        _event("teleported:v1", {"where": "moon"}),
        _event("temperature_measured:v1", {"temperature": 99}),
        _event("humidity_measured:v1", {"humidity": 70}),
    ]
    greenhouse = fold(STREAM, records_of(STREAM, events))
    assert greenhouse.version == 3
    assert greenhouse.current_temperature is None
    assert greenhouse.current_humidity == 70


def test_an_initialized_without_a_place_gets_one_from_the_stream_id() -> None:
    bare = _event("initialized:v1", {"temperature": 22, "humidity": 60, "light": 50})
    first = fold(STREAM, records_of(STREAM, [bare]))
    again = fold(STREAM, records_of(STREAM, [bare]))
    other = fold("greenhouse-2", records_of("greenhouse-2", [bare]))
    assert first.name is not None and first.country is not None
    assert (first.name, first.city) == (again.name, again.city)
    assert first.name != other.name


def test_generated_initialized_carries_the_generator_place() -> None:
    generator = RandomGenerator(12)
    greenhouse = fold(STREAM, records_of(STREAM, [generator.next_event()]))
    assert greenhouse.name == place_for(12).name


def test_events_must_follow_each_other() -> None:
    records = records_of(STREAM, [_initialized(), _event("light_measured:v1", {"light": 5})])
    with pytest.raises(ValueError, match="does not follow"):
        fold(STREAM, [records[1]])


def test_snapshot_round_trip_and_folding_on_top_of_it() -> None:
    generator = RandomGenerator(5)
    records = records_of(STREAM, [generator.next_event() for _ in range(300)])
    whole = fold(STREAM, records)
    half = fold(STREAM, records[:150])
    restored = Greenhouse.from_snapshot(half.to_snapshot())
    assert restored == half
    assert fold(STREAM, records[150:], restored) == whole


def test_snapshot_policy() -> None:
    policy = SnapshotPolicy(every=10)
    assert not policy.due(-1, 8)
    assert policy.due(-1, 9)  # ten events: versions 0..9
    assert not policy.due(9, 18)
    assert policy.due(9, 19)
    assert policy.due(9, 40)
    assert not SnapshotPolicy(every=0).due(-1, 10_000)
