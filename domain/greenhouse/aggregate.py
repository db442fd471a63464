"""The ``Greenhouse`` aggregate: its state folded from a stream, its status, and its snapshots.

Name, location, city and country travel in the METADATA of ``initialized:v1`` (the contract fixes
its data to the three initial set points); an ``initialized:v1`` without them, such as one
appended by hand, gets a place derived from the stream id, so the fold is still deterministic.
The data of ``initialized:v1`` are the initial targets: readings are unknown (status
``inactive``) until the first measurement.

Events the catalogue does not know, or whose payload it rejects, still advance the version but
change nothing else: a stream is never unreadable because of one bad event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from domain.greenhouse.catalogue import (
    ACTUATORS,
    INITIALIZED,
    MEASURES,
    InvalidEvent,
    activated_type,
    deactivated_type,
    desired_type,
    measured_type,
    validate_event,
)
from domain.greenhouse.event_factory import stream_seed
from domain.greenhouse.places import place_for

Status = Literal["inactive", "warning", "active"]

# How far a reading may stray from its target before the greenhouse is in ``warning``.
WARNING_DEVIATION: dict[str, float] = {"temperature": 5, "humidity": 20, "light": 30}

_PLACE_FIELDS = ("name", "location", "city", "country")

# event type -> (what it changes, which measure or actuator)
_EFFECTS: dict[str, tuple[str, str]] = {
    **{measured_type(m): ("current", m) for m in MEASURES},
    **{desired_type(m): ("target", m) for m in MEASURES},
    **{activated_type(a): ("on", a) for a in ACTUATORS},
    **{deactivated_type(a): ("off", a) for a in ACTUATORS},
}


@dataclass(slots=True)
class Greenhouse:
    """The state of one greenhouse; ``version`` is the number of its last folded event."""

    greenhouse_id: str
    name: str | None = None
    location: str | None = None
    city: str | None = None
    country: str | None = None
    target_temperature: float | None = None
    target_humidity: float | None = None
    target_light: float | None = None
    current_temperature: float | None = None
    current_humidity: float | None = None
    current_light: float | None = None
    actuators: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(ACTUATORS))
    created_at: str | None = None
    updated_at: str | None = None
    version: int = -1

    @property
    def status(self) -> Status:
        """``inactive`` with no reading, ``warning`` when one strays too far, else ``active``."""
        readings = {m: getattr(self, f"current_{m}") for m in MEASURES}
        if all(value is None for value in readings.values()):
            return "inactive"
        for measure, value in readings.items():
            target = getattr(self, f"target_{measure}")
            known = value is not None and target is not None
            if known and abs(value - target) > WARNING_DEVIATION[measure]:
                return "warning"
        return "active"

    def apply(self, record: Mapping[str, Any]) -> None:
        """Fold one event record (as read from the store) into the state."""
        number = int(record["event_number"])
        if number != self.version + 1:
            raise ValueError(
                f"{self.greenhouse_id}: event {number} does not follow version {self.version}"
            )
        self.version = number
        self.updated_at = record.get("created")
        event_type = record["event_type"]
        data = record.get("data")
        try:
            validate_event(event_type, data)
        except InvalidEvent:
            return
        assert isinstance(data, dict)  # validate_event checked it; this narrows the type
        if event_type == INITIALIZED:
            self._initialize(data, record.get("metadata") or {}, record.get("created"))
            return
        effect, name = _EFFECTS[event_type]
        if effect in ("current", "target"):
            setattr(self, f"{effect}_{name}", data[name])
        else:
            self.actuators[name] = data["intensity"] if effect == "on" else None

    def _initialize(
        self, data: dict[str, Any], metadata: dict[str, Any], created: str | None
    ) -> None:
        for measure in MEASURES:
            setattr(self, f"target_{measure}", data[measure])
        if all(isinstance(metadata.get(f), str) for f in _PLACE_FIELDS):
            place = {f: metadata[f] for f in _PLACE_FIELDS}
        else:
            place = place_for(stream_seed(0, self.greenhouse_id)).as_metadata()
        for name, value in place.items():
            setattr(self, name, value)
        self.created_at = created

    def to_snapshot(self) -> dict[str, Any]:
        """The state as snapshot data (JSON-able)."""
        return asdict(self)

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Greenhouse:
        """Rebuild the state from ``to_snapshot`` data."""
        fields = dict(data)
        fields["actuators"] = {a: fields.get("actuators", {}).get(a) for a in ACTUATORS}
        return cls(**fields)


def fold(
    stream_id: str, records: Iterable[Mapping[str, Any]], start: Greenhouse | None = None
) -> Greenhouse:
    """Fold event records into a greenhouse, from scratch or on top of ``start``."""
    greenhouse = start if start is not None else Greenhouse(stream_id)
    for record in records:
        greenhouse.apply(record)
    return greenhouse
