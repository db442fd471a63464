"""The greenhouse event catalogue: the 15 event types, their payloads, ranges and operators.

The type names, field names, ranges and operator names are part of the contract
(``docs/GREENHOUSE.md``).  ``validate_event`` is the single check of a payload, used by the tests
and by the console when a person appends an event by hand.
"""

from __future__ import annotations

from typing import Any

STORE_ID = "reg_gh"
STREAM_PREFIX = "greenhouse-"

MEASURES: tuple[str, ...] = ("temperature", "humidity", "light")
ACTUATORS: tuple[str, ...] = ("fan", "light", "heater", "sprinkler")
OPERATORS: tuple[str, ...] = ("John", "Paul", "George", "Ringo", "Jim", "Laura", "Peter")

# Inclusive ranges of every numeric payload field.
RANGES: dict[str, tuple[int, int]] = {
    "temperature": (6, 35),
    "humidity": (1, 100),
    "light": (1, 100),
    "intensity": (1, 100),
}

INITIALIZED = "initialized:v1"


def measured_type(measure: str) -> str:
    """``temperature`` -> ``temperature_measured:v1``."""
    return f"{measure}_measured:v1"


def desired_type(measure: str) -> str:
    """``temperature`` -> ``desired_temperature_set:v1``."""
    return f"desired_{measure}_set:v1"


def activated_type(actuator: str) -> str:
    """``fan`` -> ``fan_activated:v1``."""
    return f"{actuator}_activated:v1"


def deactivated_type(actuator: str) -> str:
    """``fan`` -> ``fan_deactivated:v1``."""
    return f"{actuator}_deactivated:v1"


# event type -> its payload fields, in the order of the contract.
PAYLOADS: dict[str, tuple[str, ...]] = {
    INITIALIZED: MEASURES,
    **{measured_type(m): (m,) for m in MEASURES},
    **{desired_type(m): (m, "operator") for m in MEASURES},
    **{kind(a): ("intensity",) for a in ACTUATORS for kind in (activated_type, deactivated_type)},
}

EVENT_TYPES: tuple[str, ...] = tuple(PAYLOADS)
# Everything a greenhouse says after it is initialized.
FOLLOW_UP_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t != INITIALIZED)

# Metadata keys every greenhouse event carries.
METADATA_KEYS: tuple[str, ...] = ("causation_id", "correlation_id")


class InvalidEvent(ValueError):
    """An event type or payload outside the catalogue."""


def clamp(measure_or_field: str, value: float) -> int:
    """Round a value to an int inside the contract range of that field."""
    low, high = RANGES[measure_or_field]
    return max(low, min(high, round(value)))


def validate_event(event_type: str, data: Any) -> None:
    """Check a payload against the catalogue; raise ``InvalidEvent`` saying what is wrong.

    Numbers may be ints or floats (not booleans) within the inclusive range; the operator must
    be one of ``OPERATORS``; missing and unexpected fields are both errors.
    """
    fields = PAYLOADS.get(event_type)
    if fields is None:
        raise InvalidEvent(f"unknown event type {event_type!r}")
    if not isinstance(data, dict):
        raise InvalidEvent(f"{event_type}: data must be an object, not {type(data).__name__}")
    missing = [f for f in fields if f not in data]
    if missing:
        raise InvalidEvent(f"{event_type}: missing {', '.join(missing)}")
    extra = sorted(set(data) - set(fields))
    if extra:
        raise InvalidEvent(f"{event_type}: unexpected {', '.join(extra)}")
    for name in fields:
        value = data[name]
        if name == "operator":
            if value not in OPERATORS:
                raise InvalidEvent(
                    f"{event_type}: operator {value!r} is not one of {', '.join(OPERATORS)}"
                )
            continue
        low, high = RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidEvent(f"{event_type}: {name} must be a number, not {value!r}")
        if not low <= value <= high:
            raise InvalidEvent(f"{event_type}: {name} {value} is outside {low}..{high}")
