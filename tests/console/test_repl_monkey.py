"""Issue #15: a seeded monkey drives ``gate-repl`` for thousands of random steps against a real
3-node cluster the shell started itself, while nodes are killed (``kill -9`` from outside, and
the menu's own stop, kill, pause) and started again (the menu's start, restart, resume).

Each step answers what the shell asks: a menu choice (valid, invalid, ``wait N``) or, at a
question, a valid answer or a hostile one (huge, negative, empty, unicode, control characters,
malformed patterns, very long, Ctrl+C, Ctrl+D).  The shell must never die, never print a
traceback or an "Unexpected error", never hang, and option 15 must end it with status 0 and no
node process left.  ``GATE_MONKEY_SEED`` picks the seed (printed in every failure),
``GATE_MONKEY_STEPS`` the steps of the in-process run (the pty run takes an eighth of them).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
import pytest

from console.ops.session import SessionOptions
from console.repl.menu import EXIT
from domain.greenhouse.catalogue import EVENT_TYPES
from tests.cluster_harness import cluster_config, write_config
from tests.console.repl_driver import ReplDriver, repl_session
from tests.console.script_runs import ROOT
from tests.console.waiting import eventually

SEED = int(os.environ.get("GATE_MONKEY_SEED", "1515"))
STEPS = int(os.environ.get("GATE_MONKEY_STEPS", "2000"))
PTY_STEPS = max(1, STEPS // 8)

CTRL_C, CTRL_D, ESC, TAB, UP = "\x03", "\x04", "\x1b", "\t", "\x1b[A"
MENU = "Select an option"
MONITORING = "Press Ctrl+C to stop monitoring"
MONITOR_STOPPED = "Stopped monitoring"
# Keys that end a monitor (docs/CONSOLE.md): Ctrl+C, Ctrl+D, Esc, q.
MONITOR_KEYS = (CTRL_C, CTRL_D, ESC, "q")
HUGE = "99999999999999999999999"
# Menu answers that are not options.  None can become 15 (which would end the run): no digits
# next to editing keys, no Tab (it completes to an option), no Ctrl+D (it exits at the menu).
MENU_NOISE = (
    "0",
    "99",
    "-1",
    "٣",
    "",
    "?",
    "m",
    HUGE,
    "+3",
    "16.0",
    "1 2",
    "x" * 300,
    "🌱",
    "wait 0.05",
    "wait 0",
    "wait 99",
    "wait nan",
    "wait",
    "wait -1",
    "tempo 0",  # bad lesson lines only: a real tempo would slow the whole run down
    "tempo",
    "tempo 101",
    "tempo nan",
    "\x01\x0b",
    "\x15menu",
    "\x0c",
    "\x07\x7f\x08",
)
# Hostile answers to a question.
NOISE = (
    HUGE,
    "-" + HUGE,
    "-1",
    "-5",
    "0",
    "٣",
    "１２",
    "3.5",
    "1e9",
    "nan",
    "1_000",
    "",
    " ",
    "[",
    "**",
    "$all",
    "$",
    "%{",
    "%{}",
    "{",
    '{"$gt": ',
    "}",
    "null",
    "'",
    '"',
    "\\",
    '%{temperature: %{"$where": 1}}',
    "🌱",
    "é",
    "\u202e",
    "\u200b",
    "node1 node2",
    "../../etc/passwd",
    "greenhouse-1; rm -rf /",
)
CONTROLS = "\x00\x01\x02\x05\x07\x08\x0b\x0c\x0e\x10\x12\x14\x15\x17\x19\x1b\x7f\t"
PATTERNS = (
    '%{operator: "John"}',
    "%{temperature: _}",
    "%{intensity: _}",
    '{"humidity": {"$gte": 80}}',
    "%{light: 50}",
)
NEW_STREAMS = tuple(f"mk-{n}" for n in range(1, 5))
NODES = ("node1", "node2", "node3")
# Escape sequences (colours, cursor moves, bracketed paste…) and the carriage returns of a pty.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\r")
# How often a menu step draws a wrong answer, and a question a hostile one.
MENU_NOISE_RATE = 0.15
NOISE_RATE = 0.4
# Per step, the chance of a kill -9 from outside.
KILL_RATE = 0.005
# How long the shell may take to ask again before it counts as hung.
HANG = 60.0
# Seconds a busy shell is given before the monkey presses Ctrl+C (drawn from this range).
PATIENCE = (0.5, 3.0)


@dataclass(frozen=True, slots=True)
class Keys:
    """What a step types: text, then Enter unless ``enter`` is false."""

    text: str
    enter: bool = True

    @property
    def sent(self) -> str:
        return self.text + ("\r" if self.enter else "")


@dataclass
class Monkey:
    """Seeded answers to whatever the shell asks, remembering the names it typed."""

    rng: random.Random
    streams: set[str] = field(default_factory=lambda: {"greenhouse-1"})
    observers: set[str] = field(default_factory=lambda: {"reg_gh:$all", "reg_gh:payload"})
    subscriptions: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    fields: str = ""  # the last event type's fields as the shell hinted them
    # Whether an answer may be one that exits at the menu (Ctrl+D, 15): not where a key could
    # reach another prompt than the one meant (the pty, after a Ctrl+C sent on a guess).
    may_exit: bool = True

    def menu(self, weights: dict[int, float]) -> Keys:
        if self.rng.random() < MENU_NOISE_RATE:
            return Keys(self.rng.choice(MENU_NOISE))
        options = list(weights)
        return Keys(str(self.rng.choices(options, [weights[o] for o in options])[0]))

    def answer(self, prompt: str, printed: str) -> Keys:
        """An answer to a question: hostile or valid."""
        if self.rng.random() < NOISE_RATE:
            return self.hostile()
        return Keys(self.valid(prompt, printed))

    def hostile(self) -> Keys:
        kind = self.rng.random()
        if kind < 0.08:
            return Keys(CTRL_C, enter=False)
        if kind < 0.14:
            return Keys(CTRL_D if self.may_exit else CTRL_C, enter=False)
        if kind < 0.2:
            return Keys(self.rng.choice((UP, TAB, UP + UP)))
        if kind < 0.3:
            return Keys(self.long())
        if kind < 0.42:
            return Keys(self.controls())
        return Keys(self.rng.choice(NOISE))

    def long(self) -> str:
        size = self.rng.choice((257, 1000))  # past the 256 of a stream id; a paste
        alphabet = self.rng.choice(("x", "é", "٣", "🌱", "ab$[*%{"))
        return "".join(self.rng.choice(alphabet) for _ in range(size))

    def controls(self) -> str:
        chars = [self.rng.choice(CONTROLS) for _ in range(self.rng.randint(1, 4))]
        chars.insert(self.rng.randint(0, len(chars)), self.rng.choice(("1", "x", "node1", "")))
        return "".join(chars)

    def pick(self, names: set[str] | list[str]) -> str:
        return self.rng.choice(sorted(names)) if names else ""

    def valid(self, prompt: str, printed: str) -> str:
        """A plausible answer, so that operations really run (often, not always, right)."""
        for words, answer in self._answers(printed):
            if words in prompt:
                return answer()
        self.unknown.add(prompt)
        return ""

    def _answers(self, printed: str) -> Iterator[tuple[str, Callable[[], str]]]:
        rng = self.rng
        yield "(or $all)", lambda: self.pick({"$all", *self.streams})
        yield "Enter observer name (default", lambda: rng.choice(("", "", "obs1", "obs2"))
        # Option 5 monitors this console's subscription consumers too.
        yield "to monitor", lambda: self.pick(self.observers | self.subscriptions)
        yield "observer name to", lambda: self.pick(self.observers)
        last = len(EVENT_TYPES) if self.may_exit else EXIT - 1
        yield "Enter event type", lambda: rng.choice((str(rng.randint(1, last)), *EVENT_TYPES))
        yield "Pattern", lambda: rng.choice(PATTERNS)
        yield "Number of producers", lambda: rng.choice(("", "1", "2"))
        yield "stop producer", lambda: self.pick(_listed(printed, "Running producers: "))
        yield "Enter subscription name", lambda: self._subscription(printed)
        yield "Enter stream name", lambda: self._stream(printed)
        yield "Start from version", lambda: rng.choice(("", "0", "2", "5"))
        yield "Number of events to fetch", lambda: rng.choice(("", "1", "3", "1000"))
        yield "Number of events to append", lambda: rng.choice(("", "1", "3"))
        yield "Enter node id", lambda: self._node(printed)
        yield "(y/N)", lambda: rng.choice(("y", "y", "n", ""))
        yield "Data", lambda: _data(self.fields, rng)
        # Option 30 (before option 25's "Direction"): peers to cut from, and which way.
        # Often every peer both ways (an isolation, which the run must see succeed), else a
        # partial cut or a wrong answer.
        yield (
            "Cut from peers",
            lambda: rng.choice(("", "", "", "all", *NODES, "node2 node3", "node1,")),
        )
        yield "Direction (both", lambda: rng.choice(("", "", "", "both", "in", "out", "sideways"))
        # Option 32: the proposed addresses, or one that is no address.
        yield "host:port", lambda: rng.choice(("", "", "localhost", "127.0.0.1:0", ":80"))
        yield "Direction", lambda: rng.choice(("", "f", "b", "forward", "backward"))
        yield "Enter action", lambda: rng.choice(("", "ack", "nack_park", "2", "3", "4"))
        yield "Nack every", lambda: rng.choice(("", "2", "3"))
        yield "Number of lines", lambda: rng.choice(("", "1", "5", "1000"))

    def _subscription(self, printed: str) -> str:
        if "Creating Subscription" in printed:
            name = f"sub{self.rng.randint(1, 4)}"
            self.subscriptions.add(name)
            return name
        return self.pick(self.subscriptions) or "sub1"

    def _node(self, printed: str) -> str:
        """A node the action fits (a down one to start, …) from the ``Nodes:`` line, or the
        default; any node for option 16."""
        action = re.search(r"🧪 (\w+) Node", printed)
        states = dict(re.findall(r"(node\d+) \(([\w ]+)\)", " ".join(_listed(printed, "Nodes: "))))
        if action is None or not states:
            return self.rng.choice(("", *NODES))
        wanted = {"Start": {"down"}, "Resume": {"paused"}}.get(action.group(1))
        fits = [
            node
            for node, state in sorted(states.items())
            if (state in wanted if wanted else state not in ("down", "paused"))
        ]
        return self.rng.choice(["", *fits])

    def _stream(self, printed: str) -> str:
        listed = re.findall(r"^  (\d+)\. \S+ \(v\d+\)$", printed, re.MULTILINE)
        if listed and self.rng.random() < 0.5:
            return self.rng.choice(listed)  # a number picks from the list shown
        if "Available streams: " in printed:  # option 10: a stream, or $all
            return self.pick({"$all", *self.streams})
        stream = self.rng.choice((*NEW_STREAMS, *sorted(self.streams)))
        self.streams.add(stream)
        return stream

    def note(self, printed: str) -> None:
        """Remember names the shell reported."""
        self.observers.update(re.findall(r"✅ Observer '([^']+)' created", printed))
        hints = re.findall(r"^Fields: (%\{.*\})", printed, re.MULTILINE)
        if hints:
            self.fields = hints[-1]
        for started in re.findall(r"Started \d+ producers?: ([\w, -]+) \(", printed):
            self.streams.update(s.strip() for s in started.split(","))


def _listed(printed: str, label: str) -> list[str]:
    for line in printed.splitlines():
        if line.startswith(label):
            return [name.strip() for name in line[len(label) :].split(",")]
    return []


def _data(fields: str, rng: random.Random) -> str:
    """Event data filled in from the hint the shell printed (``%{temperature: 6..35}``)."""

    def number(match: re.Match[str]) -> str:
        return str(rng.randint(int(match.group(1)), int(match.group(2))))

    return re.sub(r"(-?\d+)\.\.(-?\d+)", number, fields)


def node_pids(config: Path) -> list[int]:
    """The node processes started from ``config`` (their command line names it)."""
    found = subprocess.run(
        ["pgrep", "-f", f"{config} --node"], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in found.stdout.split()]


def cluster_pids(directory: Path) -> list[int]:
    """Every process (gateway and nodes) whose command line names ``directory``."""
    found = subprocess.run(
        ["pgrep", "-f", str(directory)], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in found.stdout.split()]


def kill_a_node(config: Path, rng: random.Random) -> int | None:
    """``kill -9`` one node process started from ``config``; answers its pid."""
    pids = node_pids(config)
    if not pids:
        return None
    pid = rng.choice(sorted(pids))
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:  # it ended on its own a moment ago
        return None
    return pid


def monkey_config(directory: Path) -> Path:
    """A 3-node cluster config on free ports under ``directory`` (not started: the shell does)."""
    return write_config(directory, cluster_config(directory))


BASE_WEIGHTS: dict[int, float] = {
    1: 1.0,
    2: 1.0,
    3: 1.0,
    4: 0.4,
    5: 1.2,
    6: 0.6,
    7: 0.6,
    8: 0.8,
    9: 0.4,
    10: 1.0,
    11: 0.6,
    12: 1.0,
    13: 1.5,
    14: 0.4,
    16: 0.4,
    17: 0.15,
    18: 0.2,
    19: 0.4,
    20: 0.15,
    21: 0.2,
    22: 0.4,
    23: 0.6,
    24: 1.0,
    25: 1.0,
    26: 0.8,
    27: 0.6,
    28: 0.4,
    29: 0.3,
    30: 0.3,
    31: 0.5,
    32: 0.05,
    33: 0.05,
}


@dataclass
class Run:
    """One monkey run's log, for the failure messages."""

    seed: int
    capsys: pytest.CaptureFixture[str] | None = None
    steps: list[str] = field(default_factory=list)
    stuck: int = 0  # times the line editor kept the keys (search, completion) and was nudged
    interrupts: int = 0  # Ctrl+C sent while a command was busy
    kills: int = 0
    # A key sent on a guess (Ctrl+C to a shell that looked stuck) may still be on its way to
    # the next prompt, so the next answer may land one prompt later: then no Ctrl+D, which at
    # the menu would end the run.
    unsure: bool = False

    # What reached the real stdout and stderr: prompt-toolkit prints a task's unhandled
    # exception there, outside the shell's printer.
    stray: str = ""

    def safe(self, keys: Keys) -> Keys:
        """``keys``, or Ctrl+C for a Ctrl+D (or 15) while unsure which prompt will read it."""
        unsure, self.unsure = self.unsure, False
        exits = CTRL_D in keys.text or keys.text.strip() == str(EXIT)
        return Keys(CTRL_C, enter=False) if unsure and exits else keys

    def log(self, entry: str) -> None:
        self.steps.append(entry)

    def where(self, output: str = "") -> str:
        recent = "\n".join(self.steps[-25:])
        return (
            f"seed {self.seed} (GATE_MONKEY_SEED={self.seed}); after {len(self.steps)} steps, "
            f"{self.kills} kills from outside, {self.interrupts} Ctrl+C while busy, "
            f"{self.stuck} nudges; last steps:\n{recent}\noutput:\n{output[-3000:]}\n"
            f"stdout/stderr:\n{self.stray[-3000:]}"
        )


async def _next(repl: ReplDriver, task: asyncio.Task[int], run: Run, rng: random.Random) -> str:
    """Wait until the shell asks something new (answers the prompt) or monitors (answers
    MONITORING); a shell busy a while gets Ctrl+C, as a person waiting would press it."""
    # New since the keys last sent: the next prompt may already be up when this starts.
    asked = repl.answered
    patience = rng.uniform(*PATIENCE)
    started = time.monotonic()
    nudged = interrupted = False
    while True:
        if task.done():
            if run.capsys is not None:
                run.stray += "".join(run.capsys.readouterr())
            raise AssertionError(f"the shell ended by itself: {task!r}\n{run.where(repl.output)}")
        if repl.terminal.asking is not None and repl.terminal.asked > asked:
            return repl.terminal.asking
        since = repl.since_mark()
        if since.rfind(MONITORING) > since.rfind(MONITOR_STOPPED):
            return MONITORING
        waited = time.monotonic() - started
        if repl.terminal.asking is not None and waited > 1.0 and not nudged:
            # Still the same prompt: the editor kept the keys (a search, a completion menu).
            run.stuck += 1
            repl.keys.send_text(CTRL_C)
            nudged = run.unsure = True
        elif repl.terminal.asking is None and waited > patience and not interrupted:
            run.interrupts += 1
            os.kill(os.getpid(), signal.SIGINT)  # the shell's own Ctrl+C handler takes it
            # Keys sent for the command it stopped may still reach the next prompt.
            interrupted = run.unsure = True
        if waited > HANG:
            raise AssertionError(f"the shell hangs ({HANG:g} s)\n{run.where(repl.output)}")
        await asyncio.sleep(0.005)


def _weights(ops_nodes_down: int, producers: int, observers: int, cut: int = 0) -> dict[int, float]:
    weights = dict(BASE_WEIGHTS)
    if ops_nodes_down:
        weights[19] *= 10  # bring nodes back, so that most steps find a majority
        weights[22] *= 5
    if cut:
        weights[31] *= 10  # heal cut links, so that most steps find a majority too
    elif not ops_nodes_down:
        # Isolating is refused while a node is down (no majority would be left), which the
        # kills make common: try it more while it can work, so a run sees one succeed.
        weights[30] *= 5
    if producers >= 4:
        weights[7] = 0.0
        weights[8] *= 3
    if observers >= 8:
        for option in (1, 2, 3):
            weights[option] *= 0.2
        weights[6] *= 4
    return weights


@pytest.mark.timeout(600)
async def test_monkey_drives_the_repl_through_thousands_of_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = monkey_config(tmp_path)
    rng, chaos = random.Random(SEED), random.Random(SEED + 1)
    monkey = Monkey(rng)
    run = Run(SEED, capsys)
    options = SessionOptions(config=config)
    async with repl_session(options, seed=SEED, handle_sigint=True) as (repl, task, ops):
        for step in range(STEPS):
            asked = await _next(repl, task, run, rng)
            seen = repl.terminal.asked
            stray = capsys.readouterr()
            run.stray += stray.out + stray.err
            assert "Unhandled exception" not in run.stray, run.where(repl.output)
            monkey.note(repl.since_mark())
            if chaos.random() < KILL_RATE:
                pid = kill_a_node(config, chaos)
                run.kills += pid is not None
                run.log(f"{step}: kill -9 {pid}")
            if asked == MONITORING:
                keys = Keys(rng.choice(MONITOR_KEYS), enter=False)
            elif MENU in asked:
                sample = ops.health.latest
                status = None if sample is None else sample.status
                down = 0 if status is None else 3 - status.nodes_up
                cut = 0 if status is None else sum(node.cut for node in status.nodes)
                running, observing = len(ops.producers.running()), len(ops.observers.names())
                weights = _weights(down, running, observing, cut)
                keys = monkey.menu(weights)
            else:
                keys = monkey.answer(asked, repl.since_mark())
            moved = repl.terminal.asked != seen or repl.terminal.asking != asked
            if asked != MONITORING and moved:
                run.unsure = True  # the shell moved on while the monkey chose (a redraw)
            keys = run.safe(keys)
            run.log(f"{step}: {asked!r} <- {keys.sent!r}"[:200])
            repl.send(keys.sent)
            if asked == MONITORING:
                # The key must end the monitor: a monitor deaf to it would hang a class.
                await eventually(
                    lambda: MONITOR_STOPPED in repl.since_mark(),
                    10,
                    f"the monitor to stop on {keys.text!r}; {run.where(repl.output)}",
                )
        asked = await _next(repl, task, run, rng)
        while MENU not in asked:  # leave the question or monitor at hand
            repl.send(CTRL_C)
            asked = await _next(repl, task, run, rng)
        try:
            await repl.choose(EXIT)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {run.where(repl.output)}") from None
        try:
            status = await asyncio.wait_for(asyncio.shield(task), HANG)
        except TimeoutError:
            pending = sorted(t.get_name() for t in asyncio.all_tasks())
            raise AssertionError(
                f"option 15 did not end the shell within {HANG:g} s (tasks: {pending}); "
                + run.where(repl.output)
            ) from None
        output = repl.output
    where = run.where(output)
    assert status == 0, where
    for bad in ("Traceback", "Unexpected error"):
        assert bad not in output, f"{bad!r} in the transcript; {where}"
    stray = capsys.readouterr()
    assert "Unhandled exception" not in stray.out + stray.err, f"{stray}; {where}"
    assert not monkey.unknown, f"prompts the monkey does not know: {monkey.unknown}; {where}"
    assert output.rstrip().endswith("✅ Console shut down successfully!"), where
    left = cluster_pids(tmp_path)
    assert not left, f"processes left: {left}; {where}"
    # The monkey really did things: each kind of operation succeeded at least once.
    for done in (
        "✅ Started",
        "✅ Subscription",
        "✅ Observer",
        "📄 Events from",
        "✅ Appended",
        "SEEN [",
        "RECEIVED [",
        "📜 The newest",
        " isolated",
        " healed: every Raft link back",
    ):
        assert done in output, f"{done!r} never happened; {where}"
    assert run.kills, f"no node was killed from outside; {where}"


# A prompt-toolkit prompt starting at the pty: bracketed paste on, then the prompt's bold text.
_PROMPT_STARTS = re.compile(r"\x1b\[\?2004h(?:\x1b\[[0-9;?]*[A-Za-z])*\x1b\[0;1m([^\x1b]+)\x1b")
_PROMPT_ENDS = re.escape("\x1b[?2004l")  # and bracketed paste off when it is answered
_NODES_UP = re.compile(r"(\d)/3 nodes up")


@pytest.mark.timeout(600)
def test_monkey_through_a_real_pty(tmp_path: Path) -> None:
    """``gate-repl`` itself at a pty, starting its own cluster: a few hundred monkey steps,
    then option 15 exits 0 and no process of its cluster is left."""
    config = monkey_config(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GATE_AUTH_TOKEN")}
    env.update(PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp_path / "xdg"), TERM="xterm")
    # No cursor-position request: pexpect does not answer one, and the prompt would wait for it.
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    rng, chaos = random.Random(SEED + 2), random.Random(SEED + 3)
    monkey = Monkey(rng, may_exit=False)
    run = Run(SEED)
    screen = tmp_path / "screen.txt"
    with screen.open("w", encoding="utf-8") as log:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "console.repl", "--config", str(config)],
            env=env,
            cwd=str(tmp_path),
            dimensions=(36, 120),
            encoding="utf-8",
            codec_errors="replace",
            timeout=HANG,
        )
        child.logfile_read = log
        try:
            status = _pty_monkey(child, config, monkey, chaos, run)
        finally:
            child.close(force=True)
    shown = _ESCAPES.sub("", screen.read_text(encoding="utf-8"))
    where = run.where(shown)
    assert status == 0 and child.exitstatus == 0, f"exit {child.exitstatus}; {where}"
    for bad in ("Traceback", "Unexpected error", "Unhandled exception"):
        assert bad not in shown, f"{bad!r} on the screen; {where}"
    logged = (tmp_path / "xdg" / "gate" / "repl.log").read_text(errors="replace")
    assert "Traceback" not in logged, f"a traceback in repl.log: {logged[-3000:]}; {where}"
    assert "Console shut down successfully!" in shown, where
    assert not monkey.unknown, f"prompts the monkey does not know: {monkey.unknown}; {where}"
    left = cluster_pids(tmp_path)
    assert not left, f"processes left: {left}; {where}"


def _pty_monkey(
    child: pexpect.spawn, config: Path, monkey: Monkey, chaos: random.Random, run: Run
) -> int:
    """The steps at the pty, then option 15; answers 0 once the program ended."""
    nodes_up = 3
    rng = monkey.rng

    def expect(patterns: list[object], deadline: float) -> int:
        """The index of the pattern seen; Ctrl+C, as a person would press it, each time the
        shell keeps them waiting (busy, or its editor kept the keys: a search, a menu)."""
        while True:
            index = child.expect([*patterns, pexpect.EOF, pexpect.TIMEOUT], rng.uniform(*patience))
            if index == len(patterns):
                raise AssertionError(f"gate-repl ended by itself; {run.where(child.before)}")
            if index < len(patterns):
                return index
            if time.monotonic() > deadline:
                raise AssertionError(f"gate-repl hangs ({HANG:g} s); {run.where()}")
            run.interrupts += 1
            child.send(CTRL_C)
            run.unsure = True

    def next_state(*, answered: bool) -> tuple[str, str]:
        """The next prompt (or MONITORING) and the text shown since the last one; a prompt
        ``answered`` must end first (a redraw, as Ctrl+L makes, is no new prompt)."""
        nonlocal nodes_up
        deadline = time.monotonic() + HANG
        if answered:
            expect([_PROMPT_ENDS], deadline)
        index = expect([_PROMPT_STARTS, MONITORING], deadline)
        shown = _ESCAPES.sub("", child.before)
        ups = _NODES_UP.findall(shown)
        nodes_up = int(ups[-1]) if ups else nodes_up
        return (MONITORING if index == 1 else child.match.group(1)), shown

    patience = (HANG, HANG)  # the cluster starts: no Ctrl+C meanwhile
    asked, shown = next_state(answered=False)
    patience = PATIENCE
    for step in range(PTY_STEPS):
        monkey.note(shown)
        if chaos.random() < KILL_RATE:
            pid = kill_a_node(config, chaos)
            run.kills += pid is not None
            run.log(f"{step}: kill -9 {pid}")
        if asked == MONITORING:
            keys = Keys(rng.choice(MONITOR_KEYS), enter=False)
        elif MENU in asked:
            keys = monkey.menu(_weights(3 - nodes_up, 0, 0))
        else:
            keys = monkey.answer(asked, shown)
        keys = run.safe(keys)
        run.log(f"{step}: {asked!r} <- {keys.sent!r}"[:200])
        child.send(keys.sent)
        if asked == MONITORING:
            child.expect_exact(MONITOR_STOPPED, timeout=10)
        asked, shown = next_state(answered=asked != MONITORING)
    # A Ctrl+C sent on a guess may have shifted the answers by a prompt (harmless: none of them
    # exits), so the last one is sent at a menu prompt known to be fresh: after what was shown
    # so far, Ctrl+C (a question, a monitor, a command or the menu all give the menu again).
    for _ in range(5):
        if child.expect([pexpect.TIMEOUT, pexpect.EOF], timeout=1.0):  # read what is shown…
            raise AssertionError(f"gate-repl ended by itself; {run.where(child.before)}")
        child.buffer = ""  # …and forget it
        child.send(CTRL_C)
        fresh = child.expect([_PROMPT_STARTS, pexpect.TIMEOUT], timeout=10) == 0
        if fresh and MENU in child.match.group(1):
            child.send(f"{EXIT}\r")
            child.expect(pexpect.EOF, timeout=HANG)
            child.close()
            return 0
    raise AssertionError(f"no menu to exit from after 5 Ctrl+C; {run.where()}")
