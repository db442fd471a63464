"""The two ways to make greenhouse events (``random`` and ``simulate``) behind one interface."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from domain.greenhouse.random_generator import RandomGenerator
from domain.greenhouse.simulation import SimClock, SimulationGenerator

if TYPE_CHECKING:
    from domain.greenhouse.aggregate import Greenhouse

Mode = Literal["random", "simulate"]
MODES: tuple[Mode, ...] = ("random", "simulate")


class EventGenerator(Protocol):
    """Makes the events of one greenhouse stream, ``initialized:v1`` first unless resumed."""

    mode: str
    seed: int

    def next_event(self) -> dict[str, Any]:
        """The next event (``event_id``, ``event_type``, ``data``, ``metadata``)."""
        ...

    def resume(self, greenhouse: Greenhouse) -> None:
        """Continue a stream that already has events, in the given state."""
        ...


def make_generator(mode: str, seed: int, *, clock: SimClock | None = None) -> EventGenerator:
    """A generator of the given mode; ``clock`` drives the simulation (ignored by ``random``)."""
    if mode == "random":
        return RandomGenerator(seed)
    if mode == "simulate":
        return SimulationGenerator(seed, clock=clock)
    raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
