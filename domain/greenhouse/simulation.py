"""The simulate generator: a small physical model of one greenhouse, its controller, its operators.

Outside, temperature, humidity and light follow a day/night cycle plus weather (slow random-walk
fronts and clouds).  Inside, each reading relaxes toward its outside-driven equilibrium and is
pushed by the actuators: the heater warms, the fan cools and dries, the sprinkler humidifies, the
lamps add light.  A controller with hysteresis switches an actuator on when a reading leaves the
band around its set point and off once the reading is back at the set point.  Now and then an
operator sets a new target.

Time is simulated only: every tick advances the model by ``SimClock.step`` and yields one
measurement (temperature, humidity and light in turn) or an operator's new target, followed by
the actuator switches that reading caused.  Nothing reads the wall clock, so a seed and a clock
pin the whole story.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from domain.greenhouse.catalogue import (
    ACTUATORS,
    INITIALIZED,
    MEASURES,
    OPERATORS,
    RANGES,
    activated_type,
    clamp,
    deactivated_type,
    desired_type,
    measured_type,
)
from domain.greenhouse.event_factory import EventFactory
from domain.greenhouse.places import place_for

if TYPE_CHECKING:
    from domain.greenhouse.aggregate import Greenhouse


@dataclass(frozen=True, slots=True)
class SimClock:
    """Where simulated time starts and how far one tick moves it."""

    start: datetime = datetime(2026, 6, 21, 6, 0, tzinfo=UTC)
    step: timedelta = timedelta(minutes=1)


# Weather fronts: Ornstein-Uhlenbeck walks that wander for hours and return to normal.
_FRONT_HOURS = 6.0
_FRONT_SPREAD = {"temperature": 3.0, "humidity": 10.0}
_CLOUD_MEAN, _CLOUD_SPREAD = 0.35, 0.3

# Inside dynamics: relaxation times (s) and actuator effects at full intensity (per hour).
_TAU = {"temperature": 7200.0, "humidity": 3600.0, "light": 600.0}
_HEATER_C_PER_H = 12.0
_FAN_C_PER_H = 5.0
_FAN_DRYING_PER_H = 15.0
_SPRINKLER_PER_H = 30.0
_LAMP_LIGHT = 60.0  # light the lamps add at full intensity, once warmed up
_SOLAR_GAIN_C = 10.0  # how much warmer than outside a sunlit greenhouse gets
_GLASS = 0.6  # share of daylight the glass lets through
_SENSOR_NOISE = {"temperature": 0.2, "humidity": 0.5, "light": 0.5}

_OPERATOR_CHANCE = 1 / 180  # per tick: about every three simulated hours
_TARGET_CHOICES = {"temperature": (18, 26), "humidity": (45, 75), "light": (30, 70)}


@dataclass(slots=True)
class Weather:
    """Deviations from the normal day: warm or cold fronts, wet or dry air, clouds."""

    temperature: float = 0.0
    humidity: float = 0.0
    cloud: float = _CLOUD_MEAN

    def advance(self, rng: random.Random, seconds: float) -> None:
        """Walk the fronts forward (mean-reverting, so the weather never runs away)."""
        k = seconds / (_FRONT_HOURS * 3600)
        noise = math.sqrt(2 * k)
        self.temperature += -self.temperature * k + _FRONT_SPREAD["temperature"] * noise * (
            rng.gauss(0, 1)
        )
        self.humidity += -self.humidity * k + _FRONT_SPREAD["humidity"] * noise * rng.gauss(0, 1)
        self.cloud += (_CLOUD_MEAN - self.cloud) * k + _CLOUD_SPREAD * noise * rng.gauss(0, 1)
        self.cloud = min(0.95, max(0.0, self.cloud))


@dataclass(frozen=True, slots=True)
class Outside:
    """The climate outside the glass."""

    temperature: float
    humidity: float
    light: float


def outside_at(when: datetime, weather: Weather) -> Outside:
    """The outside climate at a time of day: coldest before dawn, warmest mid-afternoon."""
    hour = when.hour + when.minute / 60 + when.second / 3600
    daily = math.sin(2 * math.pi * (hour - 9) / 24)  # -1 at 03:00, +1 at 15:00
    sun = max(0.0, math.sin(math.pi * (hour - 6) / 12))  # up from 06:00 to 18:00
    return Outside(
        temperature=15 + 6 * daily + weather.temperature,
        humidity=min(100.0, max(5.0, 70 - 15 * daily + weather.humidity)),
        light=100 * sun * (1 - 0.7 * weather.cloud),
    )


@dataclass(slots=True)
class GreenhouseModel:
    """The physical state inside one greenhouse and the actuators acting on it."""

    time: datetime
    weather: Weather = field(default_factory=Weather)
    inside: dict[str, float] = field(default_factory=dict)
    actuators: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(ACTUATORS))

    def __post_init__(self) -> None:
        if not self.inside:
            self.inside = dict(self._equilibrium(outside_at(self.time, self.weather)))

    def _power(self, actuator: str) -> float:
        intensity = self.actuators[actuator]
        return 0.0 if intensity is None else intensity / 100

    def _equilibrium(self, outside: Outside) -> dict[str, float]:
        # Where each reading would settle with the actuators off (lamps included in light).
        temperature = outside.temperature + _SOLAR_GAIN_C * outside.light / 100
        warmer = self.inside.get("temperature", temperature) - outside.temperature
        return {
            "temperature": temperature,
            "humidity": min(100.0, max(5.0, outside.humidity - 2 * warmer)),
            "light": _GLASS * outside.light + _LAMP_LIGHT * self._power("light"),
        }

    def advance(self, rng: random.Random, seconds: float) -> None:
        """Move time, weather and the inside climate forward by ``seconds``."""
        self.time += timedelta(seconds=seconds)
        self.weather.advance(rng, seconds)
        target = self._equilibrium(outside_at(self.time, self.weather))
        hours = seconds / 3600
        push = {
            "temperature": (
                _HEATER_C_PER_H * self._power("heater") - _FAN_C_PER_H * self._power("fan")
            )
            * hours,
            "humidity": (
                _SPRINKLER_PER_H * self._power("sprinkler") - _FAN_DRYING_PER_H * self._power("fan")
            )
            * hours,
            "light": 0.0,
        }
        for measure in MEASURES:
            value = self.inside[measure]
            value += (target[measure] - value) * min(1.0, seconds / _TAU[measure]) + push[measure]
            low, high = RANGES[measure]
            self.inside[measure] = min(float(high), max(float(low), value))

    def read(self, rng: random.Random, measure: str) -> int:
        """A sensor reading: the value plus a little noise, rounded into the contract range."""
        return clamp(measure, self.inside[measure] + rng.gauss(0, _SENSOR_NOISE[measure]))


@dataclass(frozen=True, slots=True)
class Rule:
    """One control loop: which actuator corrects which reading, in which direction.

    ``sign`` is +1 when the actuator raises the reading (heater, sprinkler, lamps) and -1 when it
    lowers it (fan).  The actuator goes on when the reading is more than ``band`` away from the
    target on the wrong side and off once the shortfall is down to ``release`` (0: back at the
    target).  Actuators run strongly (bang-bang with hysteresis), because one switch-on has to
    hold through a night that keeps cooling.  The lamps size their intensity to the target and,
    when deciding to switch off, discount their own light (``own_light``): they go off when
    daylight alone is nearly enough, instead of flickering off and on at dusk.  Any actuator
    also goes off once the reading overshoots the band on the other side.
    """

    measure: str
    actuator: str
    sign: int
    band: float
    base: float
    gain: float = 0.0  # intensity per unit of shortfall
    per_target: float = 0.0  # intensity per unit of target
    release: float = 0.0
    own_light: float = 0.0

    def shortfall(self, reading: float, target: float, intensity: int | None = None) -> float:
        """How far the reading is from the target on the side this actuator corrects."""
        own = self.own_light * (intensity or 0) / 100
        return (target - (reading - own)) * self.sign

    def intensity(self, shortfall: float, target: float) -> int:
        """How hard to run the actuator when switching it on."""
        return clamp("intensity", self.base + self.gain * shortfall + self.per_target * target)


RULES: tuple[Rule, ...] = (
    Rule("temperature", "heater", +1, band=2, base=60, gain=15),
    Rule("temperature", "fan", -1, band=2, base=60, gain=15),
    Rule("humidity", "sprinkler", +1, band=10, base=50, gain=4),
    Rule("humidity", "fan", -1, band=10, base=30, gain=2),
    Rule(
        "light",
        "light",
        +1,
        band=15,
        base=0,
        per_target=100 / _LAMP_LIGHT,
        release=7.5,
        own_light=_LAMP_LIGHT,
    ),
)


class Controller:
    """Hysteresis control of the actuators from readings and targets.

    The fan serves two rules (too warm, too humid): it goes on for the first and off only when
    neither needs it any more, so its activations and deactivations still alternate.
    """

    def __init__(self, targets: dict[str, float]) -> None:
        self.targets = dict(targets)
        self.demands: set[Rule] = set()

    def react(
        self, measure: str, reading: float, actuators: dict[str, int | None]
    ) -> list[tuple[str, int | None]]:
        """Switches to make after a reading: ``(actuator, intensity or None for off)``.

        ``actuators`` is the current state; the caller applies the switches to it.
        """
        switches: list[tuple[str, int | None]] = []
        target = self.targets[measure]
        for rule in RULES:
            if rule.measure != measure:
                continue
            if rule not in self.demands:
                shortfall = rule.shortfall(reading, target)
                if shortfall > rule.band:
                    self.demands.add(rule)
                    if actuators[rule.actuator] is None:
                        switches.append((rule.actuator, rule.intensity(shortfall, target)))
            elif (
                rule.shortfall(reading, target, actuators[rule.actuator]) <= rule.release
                or rule.shortfall(reading, target) < -rule.band
            ):
                self.demands.discard(rule)
                still_needed = any(r.actuator == rule.actuator for r in self.demands)
                if not still_needed and actuators[rule.actuator] is not None:
                    switches.append((rule.actuator, None))
        return switches


class SimulationGenerator:
    """Simulated greenhouse events for one stream, reproducible for (seed, clock)."""

    mode = "simulate"

    def __init__(self, seed: int, *, clock: SimClock | None = None) -> None:
        self.seed = seed
        self.clock = clock or SimClock()
        self.started = False
        self._rng = random.Random(seed)
        self._events = EventFactory(self._rng)
        self.model = GreenhouseModel(self.clock.start)
        self.controller = Controller({m: self._rng.randint(*_TARGET_CHOICES[m]) for m in MEASURES})
        self._pending: deque[dict[str, Any]] = deque()
        self._turn = 0

    def resume(self, greenhouse: Greenhouse) -> None:
        """Continue an existing stream: take over its targets, readings and actuators."""
        self.started = True
        for measure in MEASURES:
            target = getattr(greenhouse, f"target_{measure}")
            current = getattr(greenhouse, f"current_{measure}")
            if target is not None:
                self.controller.targets[measure] = target
            if current is not None:
                self.model.inside[measure] = float(current)
        self.model.actuators.update(greenhouse.actuators)
        # The demands behind actuators left on are unknown; the readings re-establish them.
        self.controller.demands = {r for r in RULES if self.model.actuators[r.actuator]}

    def next_event(self) -> dict[str, Any]:
        """The next event of the stream."""
        if not self.started:
            self.started = True
            return self._build(
                INITIALIZED, dict(self.controller.targets), extra=place_for(self.seed).as_metadata()
            )
        if self._pending:
            return self._pending.popleft()
        self.model.advance(self._rng, self.clock.step.total_seconds())
        if self._rng.random() < _OPERATOR_CHANCE:
            return self._operator_event()
        measure = MEASURES[self._turn % len(MEASURES)]
        self._turn += 1
        reading = self.model.read(self._rng, measure)
        event = self._build(measured_type(measure), {measure: reading})
        for actuator, intensity in self.controller.react(measure, reading, self.model.actuators):
            if intensity is None:
                data = {"intensity": self.model.actuators[actuator]}
                self._pending.append(
                    self._build(deactivated_type(actuator), data, caused_by=event["event_id"])
                )
            else:
                data = {"intensity": intensity}
                self._pending.append(
                    self._build(activated_type(actuator), data, caused_by=event["event_id"])
                )
            self.model.actuators[actuator] = intensity
        return event

    def _operator_event(self) -> dict[str, Any]:
        measure = self._rng.choice(MEASURES)
        low, high = _TARGET_CHOICES[measure]
        choices = [v for v in range(low, high + 1) if v != self.controller.targets[measure]]
        target = self._rng.choice(choices)
        self.controller.targets[measure] = target
        data = {measure: target, "operator": self._rng.choice(OPERATORS)}
        return self._build(desired_type(measure), data)

    def _build(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        caused_by: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # The simulated time travels in the metadata so a reader can follow the day.
        metadata = {"sim_time": self.model.time.isoformat(), **(extra or {})}
        return self._events.build(event_type, data, caused_by=caused_by, extra_metadata=metadata)
