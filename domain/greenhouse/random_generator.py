"""The classic demo: ``initialized:v1`` first, then any of the other 14 types, uniformly."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from domain.greenhouse.catalogue import (
    FOLLOW_UP_TYPES,
    INITIALIZED,
    MEASURES,
    OPERATORS,
    PAYLOADS,
    RANGES,
)
from domain.greenhouse.event_factory import EventFactory
from domain.greenhouse.places import place_for

if TYPE_CHECKING:
    from domain.greenhouse.aggregate import Greenhouse


class RandomGenerator:
    """Uniformly random greenhouse events for one stream, reproducible for a seed.

    The first event is ``initialized:v1`` (with the greenhouse's place in its metadata) unless
    ``resume`` said the stream already exists.
    """

    mode = "random"

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.started = False
        self._rng = random.Random(seed)
        self._events = EventFactory(self._rng)

    def resume(self, greenhouse: Greenhouse) -> None:
        """Continue an existing stream: no ``initialized:v1``; its state does not matter here."""
        self.started = True

    def next_event(self) -> dict[str, Any]:
        """The next event of the stream."""
        if not self.started:
            self.started = True
            data = {m: self._value(m) for m in MEASURES}
            return self._events.build(
                INITIALIZED, data, extra_metadata=place_for(self.seed).as_metadata()
            )
        event_type = self._rng.choice(FOLLOW_UP_TYPES)
        data = {field: self._value(field) for field in PAYLOADS[event_type]}
        return self._events.build(event_type, data)

    def _value(self, field: str) -> Any:
        if field == "operator":
            return self._rng.choice(OPERATORS)
        return self._rng.randint(*RANGES[field])
