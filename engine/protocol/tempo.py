"""The cluster's tempo (``POST /api/cluster/tempo``, docs/API.md): slow motion on a real cluster.

At tempo ``scale`` every node's election timeout range and heartbeat interval are ``scale`` times
the config's, each Raft message a node sends waits ``scale - 1`` ticks, at most
:data:`MAX_MESSAGE_DELAY` (:func:`message_delay`), and the gateway probes the nodes ``scale`` times
less often; 1 is the config's own timing. ``since`` (the epoch seconds the tempo was set, 0 for a
node that was never told) lets every gateway take the newest tempo any node holds, and bring a node
that restarted at 1 back to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.protocol.errors import invalid

MAX_SCALE = 100
# A message waits this many ticks per unit of scale above 1: at 50 ms ticks and x20, 0.95 s,
# against heartbeats 1 s apart and election timeouts of 6 to 12 s (RaftScope's proportions: a
# message flies about a tenth of an election timeout), long enough to see it on its way and drop
# it by hand (docs/API.md, "links/drop").
TICKS_PER_SCALE = 1.0
# ... but never longer than this: at x100 a message flies half a heartbeat interval, and a write's
# round trip stays within the gateway's request timeout.
MAX_MESSAGE_DELAY = 2.5


@dataclass(frozen=True, slots=True)
class Tempo:
    scale: int = 1
    since: float = 0.0  # when it was set (time.time()), 0: never

    def to_json(self) -> dict[str, Any]:
        return {"scale": self.scale, "since": self.since}

    @property
    def text(self) -> str:
        """``×1/20``: a twentieth of the speed (``×1`` at full speed)."""
        return "×1" if self.scale == 1 else f"×1/{self.scale}"


def message_delay(scale: int, tick_seconds: float) -> float:
    """Seconds each Raft message waits at tempo ``scale``."""
    return min((scale - 1) * TICKS_PER_SCALE * tick_seconds, MAX_MESSAGE_DELAY)


def parse_scale(value: Any) -> int:
    """A tempo scale: an integer from 1 to :data:`MAX_SCALE`; a 400 naming ``scale`` otherwise."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SCALE:
        raise invalid(
            f"scale must be an integer from 1 (full speed) to {MAX_SCALE}, got {value!r}",
            field="scale",
        )
    return value


def parse_tempo_request(body: Any) -> int:
    """The scale of a ``POST /api/cluster/tempo`` body ``{"scale": N}``."""
    if not isinstance(body, dict):
        raise invalid('the body must be a JSON object: {"scale": N}')
    unknown = sorted(set(body) - {"scale"})
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r} (allowed: scale)", field=unknown[0])
    if "scale" not in body:
        raise invalid("scale is required", field="scale")
    return parse_scale(body["scale"])


def parse_tempo(raw: Any) -> Tempo:
    """A tempo as the gateway sends it to a node, ``{"scale", "since"}``."""
    if not isinstance(raw, dict):
        raise invalid("tempo needs scale and since")
    since = raw.get("since")
    if not isinstance(since, int | float) or isinstance(since, bool) or since < 0:
        raise invalid("since must be a time in epoch seconds", field="since")
    return Tempo(parse_scale(raw.get("scale")), float(since))
