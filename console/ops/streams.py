"""Streams: list them, read them, append greenhouse events by hand, look at a greenhouse.

Hand-made events are greenhouse events: generated ones come from the domain's random generator
and chosen ones are typed by a person; both are checked with the catalogue's ``validate_event``
before anything is sent.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from console.ops.answers import listed
from console.ops.errors import OpsError
from console.ops.numbers import is_choice_number
from domain.greenhouse.aggregate import Greenhouse
from domain.greenhouse.catalogue import INITIALIZED, InvalidEvent, validate_event
from domain.greenhouse.event_factory import EventFactory, stream_seed
from domain.greenhouse.generators import make_generator
from domain.greenhouse.repository import SOURCE_TYPE, load, save_snapshot
from engine.client import GateClient
from engine.client.results import EventRecord, Snapshot

MAX_COUNT = 1000  # the API's largest read and a sane bound for one append
DEFAULT_FETCH = 10  # events read when a person does not say how many (both consoles)
DEFAULT_APPEND = 5  # random events appended when a person does not say how many
DIRECTIONS = ("forward", "backward")
MAX_STREAM_ID = 256
_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class StreamRow:
    """One stream and its version (the number of its last event)."""

    stream_id: str
    version: int


@dataclass(frozen=True, slots=True)
class StreamPage:
    """Events read from a stream."""

    stream_id: str
    version: int
    events: list[EventRecord]


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append wrote: the events and the stream's new version and the last position."""

    stream_id: str
    events: list[dict[str, Any]]
    version: int
    position: int


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """One recorded snapshot of a greenhouse: at which version, when, in which status."""

    version: int
    source_type: str | None
    created_at: str
    status: str | None  # the greenhouse's status then, as the snapshot's metadata says

    @classmethod
    def from_answer(cls, snapshot: Snapshot) -> SnapshotRow:
        """Read from one entry of ``GET …/snapshots``."""
        status = (snapshot.get("metadata") or {}).get("status")
        return cls(
            version=int(snapshot["source_version"]),
            source_type=snapshot.get("source_type"),
            created_at=str(snapshot.get("created_at") or ""),
            status=None if status is None else str(status),
        )


@dataclass(frozen=True, slots=True)
class GreenhouseView:
    """A greenhouse folded from its stream, and the snapshots recorded for it (oldest first)."""

    greenhouse: Greenhouse
    snapshots: list[SnapshotRow]


class NewStreamError(OpsError):
    """A chosen event that cannot start a stream; each console adds where random appends are."""


def natural_key(stream_id: str) -> tuple[Any, ...]:
    """Sort ``greenhouse-2`` before ``greenhouse-10``."""
    parts = _NUMBER.split(stream_id)
    return tuple(int(p) if p.isdigit() else p for p in parts)


def check_count(count: int) -> int:
    """A number of events to read or append, within 1..MAX_COUNT."""
    if not 1 <= count <= MAX_COUNT:
        raise OpsError(f"the number of events must be between 1 and {MAX_COUNT}")
    return count


class StreamOps:
    """Stream browsing and manual appends on one store."""

    def __init__(self, client: GateClient, store: str, *, seed: int | None = None) -> None:
        self.client = client
        self.store = store
        self.seed = seed if seed is not None else random.SystemRandom().randrange(1 << 32)
        self._rng = random.Random(self.seed)

    async def rows(self) -> list[StreamRow]:
        """Every stream of the store, in natural order."""
        rows = [
            StreamRow(str(s["stream_id"]), int(s["version"]))
            for s in await self.client.list_streams(self.store)
        ]
        return sorted(rows, key=lambda r: natural_key(r.stream_id))

    async def names(self) -> list[str]:
        """Stream ids, in natural order."""
        return [row.stream_id for row in await self.rows()]

    async def read(
        self,
        stream: str,
        start: int | None = 0,
        count: int = 10,
        direction: str = "forward",
    ) -> StreamPage:
        """Read ``count`` events from ``start`` (None backward = from the last event)."""
        stream = stream_id(stream)
        if direction not in DIRECTIONS:
            raise OpsError(f"direction must be forward or backward, not {direction!r}")
        if start is not None and start < 0:
            raise OpsError("the start version cannot be negative")
        page = await self.client.read_stream(
            self.store, stream, start=start, count=check_count(count), direction=direction
        )
        if int(page["version"]) < 0:
            raise OpsError(f"there is no stream {stream!r} in {self.store}")
        return StreamPage(stream, int(page["version"]), list(page["events"]))

    async def append_generated(self, stream: str, count: int = 5) -> AppendResult:
        """Append ``count`` random greenhouse events (``initialized:v1`` first on a new stream)."""
        stream = stream_id(stream)
        check_count(count)
        version = await self.client.stream_version(self.store, stream)
        generator = make_generator("random", stream_seed(self._rng.randrange(1 << 32), stream))
        if version >= 0:
            generator.resume(Greenhouse(stream, version=version))
        events = [generator.next_event() for _ in range(count)]
        for event in events:
            check_event(event["event_type"], event["data"])
        # A new stream must start with its initialized:v1, so that one append is exclusive.
        expected: int | str = "no_stream" if version < 0 else "any"
        return await self._append(stream, events, expected)

    async def append_event(
        self, stream: str, event_type: str, data: dict[str, Any], count: int = 1
    ) -> AppendResult:
        """Append a chosen greenhouse event ``count`` times, after checking it."""
        stream, event_type = stream_id(stream), event_type.strip()
        check_count(count)
        check_event(event_type, data)
        # A greenhouse stream starts with initialized:v1, and only there (docs/GREENHOUSE.md).
        version = await self.client.stream_version(self.store, stream)
        if version < 0 and event_type != INITIALIZED:
            raise NewStreamError(
                f"{stream} is a new stream: its first event must be {INITIALIZED}; choose it, "
                "or append random events, which start the stream"
            )
        if version >= 0 and event_type == INITIALIZED:
            raise OpsError(f"{stream} is initialized already (at version 0)")
        factory = EventFactory(random.Random(self._rng.randrange(1 << 32)))
        events = [factory.build(event_type, dict(data)) for _ in range(count)]
        return await self._append(stream, events, "no_stream" if version < 0 else "any")

    async def _append(
        self, stream: str, events: list[dict[str, Any]], expected: int | str
    ) -> AppendResult:
        result = await self.client.append(self.store, stream, events, expected_version=expected)
        version = int(result["version"])
        first = version - len(events) + 1
        written = [
            {**event, "stream_id": stream, "event_number": first + i}
            for i, event in enumerate(events)
        ]
        return AppendResult(stream, written, version, int(result["position"]))

    async def greenhouse(self, stream: str) -> GreenhouseView:
        """The greenhouse of a stream (newest snapshot plus tail) and its snapshots."""
        stream = stream_id(stream)
        greenhouse = await load(self.client, self.store, stream)
        if greenhouse.version < 0:
            raise OpsError(f"there is no stream {stream!r} in {self.store}")
        snapshots = await self.client.list_snapshots(
            self.store, source_uuid=stream, stream_uuid=stream
        )
        ours = [SnapshotRow.from_answer(s) for s in snapshots if s["source_type"] == SOURCE_TYPE]
        return GreenhouseView(greenhouse, sorted(ours, key=lambda row: row.version))

    async def take_snapshot(self, stream: str) -> Greenhouse:
        """Record a snapshot of a greenhouse at its current version."""
        view = await self.greenhouse(stream)
        await save_snapshot(self.client, self.store, view.greenhouse)
        return view.greenhouse


def stream_id(stream: str) -> str:
    """A stream id as typed: not empty, and not ``$all`` (or any ``$`` name) where one stream is
    meant."""
    stream = stream.strip()
    if not stream:
        raise OpsError("a stream name is needed")
    if stream.startswith("$"):
        raise OpsError(f"{stream!r} is not a stream id; type one such as greenhouse-1")
    # The engine's own rules (engine/storage/commands.py), checked before anything is sent.
    if len(stream) > MAX_STREAM_ID:
        raise OpsError(f"a stream id has at most {MAX_STREAM_ID} characters")
    if not stream.isprintable():
        raise OpsError("a stream id cannot hold control characters")
    return stream


def existing_stream(answer: str, names: Sequence[str]) -> str:
    """One of the streams listed (``names``), typed as its id or its number in the list."""
    answer = answer.strip()
    if answer not in names and is_choice_number(answer, len(names)):
        return names[int(answer) - 1]
    stream = stream_id(answer)
    if stream not in names:
        raise OpsError(f"there is no stream {stream!r} yet (streams: {listed(names)})")
    return stream


def parse_direction(answer: str) -> str:
    """``forward`` (also when empty) or ``backward``; ``f`` and ``b`` will do."""
    word = answer.strip().lower()
    for direction in DIRECTIONS:
        if word and direction.startswith(word):
            return direction
    if not word:
        return "forward"
    raise OpsError(f"{word[:24]!r} is not a direction: type forward or backward")


def check_first_event(stream: str, exists: bool, event_type: str) -> None:
    """A greenhouse stream starts with initialized:v1, and only there (docs/GREENHOUSE.md)."""
    if not exists and event_type != INITIALIZED:
        raise NewStreamError(
            f"{stream} is a new stream: its first event must be {INITIALIZED}; choose it, "
            "or append random events, which start the stream"
        )
    if exists and event_type == INITIALIZED:
        raise OpsError(f"{stream} is initialized already (at version 0)")


def check_event(event_type: str, data: Any) -> None:
    """Whether the data fit the catalogue's schema of ``event_type`` (``OpsError`` saying why)."""
    try:
        validate_event(event_type, data)
    except InvalidEvent as exc:
        raise OpsError(str(exc)) from None
