"""A lesson's "what you saw": a few lines computed from what was recorded while it played.

The player records two looks at the session (:class:`Look`, at the start and at the end), the
leaders the cluster view showed in between, what the lesson's steps did to nodes, which steps
failed, and the questions its ``ask`` lines asked (:class:`Asked`: this seat's answer, the right
one computed after the step, how the room answered); :func:`recap` words them.  Nothing here is
canned: a lesson that killed no node says nothing of nodes, one whose leader never changed
says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from console.ops.lessons import CHECKS, Ask

_PAST = {
    "stop": "stopped",
    "kill": "killed",
    "start": "started",
    "restart": "restarted",
    "pause": "paused",
    "resume": "resumed",
    "isolate": "isolated",
    "heal": "healed",
}


@dataclass(frozen=True, slots=True)
class Look:
    """The session at one moment: the leader, the nodes up, each observer's events seen and
    each subscription's parked events (None: the engine did not answer then)."""

    leader: str | None
    term: int | None
    nodes_up: int
    nodes: int
    seen: Mapping[str, int] = field(default_factory=dict)
    parked: Mapping[str, int] | None = None


@dataclass(frozen=True, slots=True)
class NodeEvent:
    """A step did something to a node: ``kill`` node1, which led; who led afterwards."""

    step: int
    action: str
    node: str
    was_leader: bool = False
    leader_after: str | None = None


@dataclass
class Asked:
    """A question a step asked: this seat's answer (None: not answered), the right one once the
    step ran (None: nothing checks it, or the cluster did not answer: ``checked`` says), and the
    room's tally (None outside a classroom; ``room_error``: why it could not be read)."""

    step: int
    ask: Ask
    answer: str | None
    right: str | None = None
    checked: bool = False
    room: Mapping[str, int] | None = None
    room_error: str | None = None

    def lines(self) -> list[str]:
        """The question and how it was answered, in a few lines."""
        ask = self.ask
        asked = f"Step {self.step} asked" if self.step else "Asked"  # gate-repl reads no steps
        lines = [f"{asked}: {ask.question}"]
        mine = "You did not answer" if self.answer is None else f"You answered {self.answer}"
        if ask.check is None:
            lines.append(mine)
        elif not self.checked:
            lines.append(f"{mine} (not checked: the cluster did not answer after the step)")
        else:
            right = f"the answer was {self.right} ({CHECKS[ask.check]})"
            if self.answer is None:
                lines.append(f"{mine}; {right}")
            else:
                verdict = "right" if self.answer == self.right else "wrong"
                lines.append(f"{mine}: {verdict}, {right}")
        if self.room_error is not None:
            lines.append(f"The room: cannot tell ({self.room_error})")
        elif self.room is not None:
            seats = sum(self.room.values())
            words = ", ".join(
                f"{choice} {count}" + (" ✓" if self.checked and choice == self.right else "")
                for choice, count in self.room.items()
            )
            lines.append(f"The room, {seats} seat" + "s" * (seats != 1) + f" answered: {words}")
        return lines


@dataclass
class Record:
    """What happened while a lesson played."""

    before: Look | None = None
    after: Look | None = None
    leaders: list[tuple[str, int | None]] = field(default_factory=list)
    nodes: list[NodeEvent] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (step, its ❌ line)
    asked: list[Asked] = field(default_factory=list)
    steps_played: int = 0

    def saw_leader(self, leader: str | None, term: int | None) -> None:
        """A look at the cluster view: a leader other than the last one seen is noted."""
        if leader is not None and (not self.leaders or self.leaders[-1][0] != leader):
            self.leaders.append((leader, term))


def _leader(leader: str | None, term: int | None) -> str:
    return "no leader" if leader is None else f"{leader} (term {term})"


def _leader_line(record: Record) -> str | None:
    before, after = record.before, record.after
    if before is None or after is None:
        return None
    first, last = _leader(before.leader, before.term), _leader(after.leader, after.term)
    changes = len(record.leaders) - 1
    if before.leader == after.leader and changes <= 0:
        if before.term == after.term:
            return f"Leader: {first} from start to end"
        return f"Leader: {before.leader} before and after, from term {before.term} to {after.term}"
    # The way from the first to the last, when more than those two led on the way.
    path = " → ".join(leader for leader, _ in record.leaders)
    seen = f"; leaders seen: {path}" if changes > 1 else ""
    return f"Leader: {first} before, {last} after{seen}"


def _node_line(events: Sequence[NodeEvent]) -> str | None:
    if not events:
        return None
    words = []
    for event in events:
        who = f"{event.node} (the leader)" if event.was_leader else event.node
        took = (
            f", {event.leader_after} took over"
            if event.was_leader and event.leader_after not in (None, event.node)
            else ""
        )
        words.append(f"{_PAST.get(event.action, event.action)} {who} in step {event.step}{took}")
    return "Nodes: " + "; ".join(words)


def _seen_line(before: Look | None, after: Look) -> str | None:
    earlier = before.seen if before is not None else {}
    counts = [(name, seen - earlier.get(name, 0)) for name, seen in after.seen.items()]
    if not counts:
        return None
    words = ", ".join(f"{name} {count}" for name, count in counts)
    return f"Events seen by the observers during the lesson: {words}"


def _parked_line(before: Look | None, after: Look) -> str | None:
    if after.parked is None:
        return "Parked events: unknown (the engine did not answer at the end)"
    earlier = (before.parked if before is not None else None) or {}
    shown = [
        (name, parked, parked - earlier.get(name, 0))
        for name, parked in after.parked.items()
        if parked or earlier.get(name)
    ]
    if not shown:
        return "Parked events: none" if after.parked else None
    words = ", ".join(
        f"{name} {parked}" + (f" ({change:+d})" if change and change != parked else "")
        for name, parked, change in shown
    )
    return f"Parked events now: {words}"


def recap(record: Record) -> list[str]:
    """The "what you saw" lines of a finished lesson."""
    lines: list[str] = []
    after = record.after
    if after is None:
        return ["The cluster did not answer at the end: nothing to sum up"]
    for line in (
        _leader_line(record),
        _node_line(record.nodes),
        f"Nodes up at the end: {after.nodes_up} of {after.nodes}",
        _seen_line(record.before, after),
        _parked_line(record.before, after),
    ):
        if line is not None:
            lines.append(line)
    for asked in record.asked:
        lines.extend(asked.lines())
    played = f"{record.steps_played} step" + "s" * (record.steps_played != 1) + " played"
    if record.failures:
        step, line = record.failures[0]
        more = f" ({len(record.failures)} in all)" if len(record.failures) > 1 else ""
        lines.append(f"{played}; step {step} failed: {line}{more}")
    else:
        lines.append(f"{played}, none failed")
    return lines
