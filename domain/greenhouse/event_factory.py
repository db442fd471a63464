"""Seeds and event envelopes: what makes generated events unique yet reproducible.

Event ids come from the generator's seeded rng (not ``uuid4``), so the same seed gives the same
events, ids included.  A producer seeds its generator with ``stream_seed(seed, stream, version)``:
the stream's version when it starts is part of the seed, so restarting a producer with the same
seed on a stream that already has events never reuses an event id of that stream.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from typing import Any


def stream_seed(seed: int, stream_id: str, start_version: int = -1) -> int:
    """A stable 64-bit seed for one stream (Python's ``hash`` of a str varies per process)."""
    key = f"{seed}:{stream_id}:{start_version}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


class EventFactory:
    """Builds event dicts (``event_id``, ``event_type``, ``data``, ``metadata``) from an rng.

    All events of one factory share a ``correlation_id`` (one generator run = one story);
    ``causation_id`` is the event that caused it: the triggering reading when one is given,
    else the previous event, and for the very first event the event itself.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.correlation_id = self.new_id()
        self.last_event_id: str | None = None

    def new_id(self) -> str:
        """A version-4 UUID drawn from the seeded rng."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def build(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        caused_by: str | None = None,
        extra_metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One event, ready for ``GateClient.append``."""
        event_id = self.new_id()
        metadata = {
            "causation_id": caused_by or self.last_event_id or event_id,
            "correlation_id": self.correlation_id,
            **(extra_metadata or {}),
        }
        self.last_event_id = event_id
        return {"event_id": event_id, "event_type": event_type, "data": data, "metadata": metadata}
