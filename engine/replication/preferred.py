"""``replication.preferredLeader: return``: when a leader hands leadership back to the master.

After a failover the preferred node (the config's master) comes back as a follower.  With
"return" a leader that won its leadership in an election (an operator's transfer stands) hands
over to it (leadership transfer: the core brings it up to date, then sends ``TimeoutNow``) once
it has been in steady contact for ``settle`` seconds and trails by at most ``max_lag`` entries,
so a node that flaps or is still far behind is left alone.  A hand-over that did not happen (the
core gives up after an election timeout) is tried again ``retry`` seconds later at the earliest.
Pure: the host feeds it its clock and what it knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Entries a preferred node may trail by when the hand-over starts: the core sends it the rest
# while it holds new writes back, so this bounds the pause in writes.
DEFAULT_MAX_LAG = 256


@dataclass(slots=True)
class LeadershipReturn:
    """Decides, on a leader that is not the preferred node, when to hand over to it."""

    preferred: str
    settle: float  # seconds of steady contact with the preferred node before handing over
    retry: float  # seconds between two attempts
    max_lag: int = DEFAULT_MAX_LAG
    _last_try: float | None = field(default=None, init=False)

    def due(
        self,
        now: float,
        *,
        serving: bool,
        handed_over: bool,
        in_contact_since: float | None,
        lag: int | None,
    ) -> bool:
        """Whether to start a hand-over now (and, if so, it counts as an attempt).

        ``handed_over``: this leader was handed leadership (a transfer), so it keeps it;
        ``in_contact_since``: since when the leader has heard from the preferred node without a
        gap longer than an election timeout (None: not heard lately); ``lag``: how many entries
        it trails the leader's log by (None: unknown).
        """
        if not serving or handed_over or in_contact_since is None or lag is None:
            return False
        if now - in_contact_since < self.settle or lag > self.max_lag:
            return False
        if self._last_try is not None and now - self._last_try < self.retry:
            return False
        self._last_try = now
        return True
