"""Loading greenhouses from the store, from the newest snapshot plus the events after it.

Snapshots go through the snapshot API with ``source_uuid`` = ``stream_uuid`` = the stream id,
``version`` = the aggregate's version and ``source_type`` = ``greenhouse:v1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from domain.greenhouse.aggregate import Greenhouse, fold

if TYPE_CHECKING:
    from engine.client import GateClient

SOURCE_TYPE = "greenhouse:v1"
_PAGE = 1000  # the API's largest read


@dataclass(frozen=True, slots=True)
class SnapshotPolicy:
    """Record a snapshot once ``every`` events have been added since the last one (0: never)."""

    every: int = 100

    def due(self, snapshot_version: int, version: int) -> bool:
        """Whether a greenhouse at ``version`` whose newest snapshot is at ``snapshot_version``
        (-1: none) should record a new one."""
        return self.every > 0 and version - snapshot_version >= self.every


async def newest_snapshot(client: GateClient, store: str, stream: str) -> Greenhouse | None:
    """The state in the stream's newest ``greenhouse:v1`` snapshot, if it has one."""
    snapshots = await client.list_snapshots(store, source_uuid=stream, stream_uuid=stream)
    ours = [s for s in snapshots if s.get("source_type") == SOURCE_TYPE]
    if not ours:
        return None
    newest = max(ours, key=lambda s: int(s["source_version"]))
    data = newest.get("data")
    if data is None:
        data = (await client.get_snapshot(store, stream, stream, newest["source_version"]))["data"]
    return Greenhouse.from_snapshot(data)


async def load(client: GateClient, store: str, stream: str) -> Greenhouse:
    """The greenhouse of a stream: its newest snapshot plus the events after it."""
    greenhouse, _ = await _load(client, store, stream)
    return greenhouse


async def save_snapshot(client: GateClient, store: str, greenhouse: Greenhouse) -> None:
    """Record the greenhouse's state as a snapshot at its version."""
    gid = greenhouse.greenhouse_id
    await client.put_snapshot(
        store,
        gid,
        gid,
        greenhouse.version,
        greenhouse.to_snapshot(),
        metadata={"status": greenhouse.status},
        source_type=SOURCE_TYPE,
    )


async def _load(client: GateClient, store: str, stream: str) -> tuple[Greenhouse, int]:
    # Also answers the version of the snapshot it started from (-1: none), for the policy.
    greenhouse = await newest_snapshot(client, store, stream)
    snapshot_version = -1 if greenhouse is None else greenhouse.version
    greenhouse = greenhouse or Greenhouse(stream)
    while True:
        page = await client.read_stream(store, stream, start=greenhouse.version + 1, count=_PAGE)
        events = page["events"]
        fold(stream, events, greenhouse)
        if not events or greenhouse.version >= int(page["version"]):
            return greenhouse, snapshot_version


class GreenhouseRepository:
    """Greenhouses of one store, snapshotted according to a policy."""

    def __init__(
        self, client: GateClient, store: str, policy: SnapshotPolicy | None = None
    ) -> None:
        self.client = client
        self.store = store
        self.policy = policy or SnapshotPolicy()

    async def load(self, stream: str) -> Greenhouse:
        """The greenhouse of a stream (newest snapshot plus tail)."""
        return await load(self.client, self.store, stream)

    async def snapshot_if_due(self, stream: str) -> int:
        """Load a greenhouse and record a snapshot of it when the policy says so.

        Answers the version of the stream's newest snapshot afterwards (-1: none).
        """
        greenhouse, snapshot_version = await _load(self.client, self.store, stream)
        if self.policy.due(snapshot_version, greenhouse.version):
            await save_snapshot(self.client, self.store, greenhouse)
            return greenhouse.version
        return snapshot_version
