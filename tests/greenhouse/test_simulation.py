"""The simulate generator tells a plausible story: gradual readings, sensible switching."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.greenhouse.aggregate import fold
from domain.greenhouse.catalogue import ACTUATORS, INITIALIZED, MEASURES, validate_event
from domain.greenhouse.simulation import (
    RULES,
    Controller,
    GreenhouseModel,
    SimClock,
    SimulationGenerator,
    Weather,
    outside_at,
)
from tests.greenhouse.fake_gate import records_of

DAY = 1700  # events: a little over one simulated day at one-minute ticks


def _day(seed: int, clock: SimClock | None = None) -> list[dict[str, Any]]:
    generator = SimulationGenerator(seed, clock=clock)
    return [generator.next_event() for _ in range(DAY)]


@pytest.fixture(scope="module")
def days() -> dict[int, list[dict[str, Any]]]:
    return {seed: _day(seed) for seed in range(6)}


def test_events_are_valid_and_initialized_comes_first(days: dict[int, list]) -> None:
    for events in days.values():
        assert events[0]["event_type"] == INITIALIZED
        assert all(e["event_type"] != INITIALIZED for e in events[1:])
        for event in events:
            validate_event(event["event_type"], event["data"])
            assert {"causation_id", "correlation_id", "sim_time"} <= set(event["metadata"])
        assert len({e["event_id"] for e in events}) == DAY


def test_readings_move_gradually(days: dict[int, list]) -> None:
    # Consecutive readings of one quantity are three simulated minutes apart; lamps switching
    # at full power move light the most (60 units, warming up over ten minutes).
    limits = {"temperature": 2, "humidity": 5, "light": 20}
    for events in days.values():
        for measure, limit in limits.items():
            values = [
                e["data"][measure] for e in events if e["event_type"] == f"{measure}_measured:v1"
            ]
            steps = [abs(b - a) for a, b in itertools.pairwise(values)]
            assert len(values) > 400
            assert max(steps) <= limit, (measure, max(steps))
            assert len(set(values)) > 5  # and they do move


def test_activations_and_deactivations_alternate(days: dict[int, list]) -> None:
    for events in days.values():
        for actuator in ACTUATORS:
            switches = [
                e["event_type"].split(":")[0].split("_")[1]
                for e in events
                if e["event_type"].startswith(f"{actuator}_") and "activated" in e["event_type"]
            ]
            assert all(s != prev for prev, s in itertools.pairwise(switches))
            assert not switches or switches[0] == "activated"


def test_a_switch_is_caused_by_the_reading_just_before_it(days: dict[int, list]) -> None:
    by_id = {e["event_id"]: e for events in days.values() for e in events}
    for events in days.values():
        for event in events:
            if "activated" in event["event_type"]:
                cause = by_id[event["metadata"]["causation_id"]]
                assert cause["event_type"].endswith("_measured:v1")


def test_every_actuator_and_operator_plays_a_part(days: dict[int, list]) -> None:
    counts: Counter[str] = Counter(e["event_type"] for es in days.values() for e in es)
    for actuator in ACTUATORS:
        assert counts[f"{actuator}_activated:v1"] > 0, actuator
    for measure in MEASURES:
        assert counts[f"desired_{measure}_set:v1"] > 0, measure


def test_status_changes_over_a_simulated_day(days: dict[int, list]) -> None:
    for seed, events in days.items():
        records = records_of("greenhouse-1", events)
        greenhouse = fold("greenhouse-1", records[:1])
        statuses = [greenhouse.status]
        for record in records[1:]:
            greenhouse.apply(record)
            statuses.append(greenhouse.status)
        counts = Counter(statuses)
        assert counts["inactive"] == 1, seed
        # Mostly under control, with some warnings (cold mornings, new targets).
        assert counts["active"] > 0.75 * DAY, (seed, counts)
        assert counts["warning"] > 0, (seed, counts)


def test_simulated_time_advances_by_the_step() -> None:
    clock = SimClock(start=datetime(2026, 3, 1, 12, 0, tzinfo=UTC), step=timedelta(seconds=30))
    events = _day(9, clock)[:200]
    times = [datetime.fromisoformat(e["metadata"]["sim_time"]) for e in events]
    assert times[0] == clock.start
    gaps = {b - a for a, b in itertools.pairwise(times)}
    assert gaps <= {timedelta(0), clock.step}  # switches share their reading's tick


def test_the_outside_follows_day_and_night() -> None:
    calm = Weather(temperature=0, humidity=0, cloud=0)
    at = lambda hour: outside_at(datetime(2026, 6, 21, hour, tzinfo=UTC), calm)  # noqa: E731
    assert at(3).temperature < at(9).temperature < at(15).temperature
    assert at(3).humidity > at(15).humidity
    assert at(2).light == 0 and at(22).light == 0
    assert at(12).light > at(8).light > 0


def test_heater_goes_on_when_too_cold_and_off_when_back_at_target() -> None:
    controller = Controller({"temperature": 22, "humidity": 60, "light": 50})
    actuators: dict[str, int | None] = dict.fromkeys(ACTUATORS)

    def reading(value: int) -> list[tuple[str, int | None]]:
        switches = controller.react("temperature", value, actuators)
        actuators.update(switches)
        return switches

    assert reading(21) == []  # inside the band
    assert reading(20) == []  # on its edge
    [(actuator, intensity)] = reading(19)
    assert actuator == "heater" and intensity is not None and intensity >= 60
    assert reading(18) == []  # already on
    assert reading(21) == []  # on the way back: hysteresis keeps it on
    assert reading(22) == [("heater", None)]
    assert reading(25) == [("fan", 100)]
    assert reading(22) == [("fan", None)]


def test_the_fan_stays_on_while_either_reading_needs_it() -> None:
    controller = Controller({"temperature": 22, "humidity": 60, "light": 50})
    actuators: dict[str, int | None] = dict.fromkeys(ACTUATORS)
    for measure, value, expected in [
        ("humidity", 75, [("fan", 60)]),
        ("temperature", 26, []),  # wanted for heat too, already running
        ("humidity", 58, []),  # humidity is fine, but it is still too warm
        ("temperature", 22, [("fan", None)]),
    ]:
        switches = controller.react(measure, value, actuators)
        actuators.update(switches)
        assert switches == expected, (measure, value)


def test_lamps_size_to_the_target_and_go_off_when_daylight_suffices() -> None:
    controller = Controller({"temperature": 22, "humidity": 60, "light": 48})
    actuators: dict[str, int | None] = dict.fromkeys(ACTUATORS)
    [(lamp, intensity)] = controller.react("light", 20, actuators)
    assert lamp == "light" and intensity == 80  # 80 % of 60 light units = 48
    actuators[lamp] = intensity
    assert controller.react("light", 48, actuators) == []  # all of it lamp light
    assert controller.react("light", 80, actuators) == [("light", None)]  # 32 is daylight


def test_actuators_push_the_inside_climate() -> None:
    def after_an_hour(**on: int) -> dict[str, float]:
        import random

        model = GreenhouseModel(datetime(2026, 6, 21, 0, 0, tzinfo=UTC))
        model.actuators.update(on)
        rng = random.Random(1)
        for _ in range(60):
            model.advance(rng, 60)
        return model.inside

    idle = after_an_hour()
    assert after_an_hour(heater=100)["temperature"] > idle["temperature"] + 3
    assert after_an_hour(fan=100)["temperature"] < idle["temperature"] - 1
    assert after_an_hour(fan=100)["humidity"] < idle["humidity"] - 3
    assert after_an_hour(sprinkler=100)["humidity"] > idle["humidity"] + 5
    assert after_an_hour(light=100)["light"] > idle["light"] + 40


def test_resuming_takes_over_targets_readings_and_actuators() -> None:
    events = _day(4)[:500]
    greenhouse = fold("greenhouse-1", records_of("greenhouse-1", events))
    resumed = SimulationGenerator(77)
    resumed.resume(greenhouse)
    assert resumed.controller.targets == {m: getattr(greenhouse, f"target_{m}") for m in MEASURES}
    assert resumed.model.actuators == greenhouse.actuators
    following = [resumed.next_event() for _ in range(300)]
    assert all(e["event_type"] != INITIALIZED for e in following)
    later = fold("greenhouse-1", records_of("greenhouse-1", following, first=500), greenhouse)
    assert later.version == 799


def test_rules_cover_each_actuator() -> None:
    assert {r.actuator for r in RULES} == set(ACTUATORS)
