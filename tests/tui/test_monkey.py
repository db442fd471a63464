"""A seeded monkey drives the real dashboard against a real 3-node cluster (issue #15).

Thousands of random steps: the app's keys (panels, dialogs, node actions, navigation) and
hostile answers in the dialogs' boxes (huge and negative numbers, empty, unicode, control
characters, malformed patterns, very long strings), while a seeded schedule kills nodes (through
the API and with ``kill -9`` from outside) and starts them again.  The app must never die and
never show a traceback; at the end Ctrl+Q exits cleanly and closing the session leaves no node
process behind.

The seed is ``GATE_MONKEY_SEED`` (else :data:`DEFAULT_SEED`), the number of steps
``GATE_MONKEY_STEPS``; every failure names the seed and the step.  Keys are posted as the
terminal driver posts them, without ``Pilot.press``, which waits for the app to be idle: with
producers and consumers running it never is.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from textual import events
from textual.drivers.headless_driver import HeadlessDriver
from textual.geometry import Size
from textual.keys import _character_to_key
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import Input, Static

from console.ops.operations import Operations
from console.ops.session import SessionOptions
from console.tui.app import GateConsole
from console.tui.dialogs.form import FormDialog
from console.tui.feed.panel import FeedPanel
from console.tui.main import HEALTH_INTERVAL
from console.tui.size_notice import SizeNotice
from engine.client import GateError
from tests.cluster_harness import cluster_config, kill_pid, write_config

DEFAULT_SEED = 1515
DEFAULT_STEPS = 2000
CHECK_EVERY = 50  # steps between looks at the app (liveness, messages, feed, dialog errors)
SCREEN_EVERY = 200  # steps between looks at every screen as drawn
CHAOS_EVERY = 150  # steps between two moves of the node schedule
STEP_PAUSE = 0.004  # seconds each step gives the app: keys arrive fast, but not all at once

# The keys a person finds: panels (7-9 are not bound: a stray press), the panels' and dialogs'
# action keys, and moving around.  Ctrl+P is left out: its palette lists "Quit".
PANEL_KEYS = [str(n) for n in range(1, 10)]
ACTION_KEYS = [
    *"nepdmskurtcabgvyihlxGS",
    "space",
    "slash",
    "question_mark",
    "left_square_bracket",
    "right_square_bracket",
    "ctrl+c",
]
MOVE_KEYS = [
    "tab",
    "shift+tab",
    "up",
    "down",
    "left",
    "right",
    "enter",
    "escape",
    "home",
    "end",
    "pageup",
    "pagedown",
]

# Answers typed into any box: good ones (so that observers, producers and subscriptions exist
# to act on) and hostile ones.
GOOD_ANSWERS = [
    "3",
    "1",
    "5",
    "0",
    "greenhouse-1",
    "greenhouse-2",
    "$all",
    "monkey_sub",
    "monkey_obs",
    "%{temperature: 25}",
    '%{operator: "John"}',
    '{"humidity": {"$gte": 80}}',
    "%{intensity: _}",
    "backward",
    "all",
    "node2",
    "node1 node3",
]
HOSTILE_ANSWERS = [
    "99999999999999999999999",
    "-99999999999999999999999",
    "9223372036854775808",
    "-1",
    "-5",
    "",
    "   ",
    "1e9",
    "NaN",
    "inf",
    "0x10",
    "١٢٣",  # Arabic-Indic digits
    "１２",  # fullwidth digits
    "½",
    "²",
    "🌱✨🔥",
    "naïve-ström",
    "שלום",
    "e\u0301\u200b\u202e",
    "\x00\x01\x07\x1b[31mred",
    "tab\there",
    "[",
    "]",
    "**",
    "$",
    "$all",
    "[/]",
    "[bold]markup[/bold]",
    "%{",
    "%{temperature: }",
    "%{a: %{b: %{c: 1}}}",
    '{"humidity": {"$gte": }}',
    '{"$where": "1"}',
    "{" * 300,
    "[" * 300,
    "%{" * 200,
    "a" * 5000,
    "greenhouse-" + "9" * 40,
    "../../etc/passwd",
    "name/with/slash",
    "%2F?x=1#frag",
    "'\";--",
    "null",
    "None",
    "true",
    "reg_gh:$all",
    "line\nbreak",
]

# What a traceback, or an exception's bare class name, looks like on a screen.
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]*\", line \d+")
EXCEPTION_NAME = re.compile(
    r"\b(?:Type|Value|Key|Attribute|Index|Name|Runtime|Assertion|Overflow|Unicode\w*|"
    r"ZeroDivision|Lookup|Recursion|NotImplemented|ScreenStack|NoMatches|Markup)Error\b"
    r"|Unexpected error|Exception\b"
)


def seed() -> int:
    return int(os.environ.get("GATE_MONKEY_SEED", DEFAULT_SEED))


def steps() -> int:
    return int(os.environ.get("GATE_MONKEY_STEPS", DEFAULT_STEPS))


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie has exited all the same)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def processes_using(config: Path) -> list[int]:
    """Live processes started with ``config`` on their command line (the gateway, its nodes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # it ended while we looked
            continue
        if str(config).encode() in argv and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


@dataclass
class Console:
    """The console session under test: its cluster's config, and the session it opened."""

    config: Path
    ops: Operations


@pytest.fixture
async def console_cluster(tmp_path: Path) -> AsyncIterator[Console]:
    """What ``gate-console`` without ``--connect`` does: the session starts a 3-node cluster
    (here on free ports) and must stop it on close."""
    config = write_config(tmp_path, cluster_config(tmp_path))
    ops = await Operations.open(
        SessionOptions(config=config), seed=seed(), health_interval=HEALTH_INTERVAL
    )
    try:
        yield Console(config, ops)
    finally:
        await ops.close()  # a no-op after the test's own close
        for pid in processes_using(config):  # a failed test must not leave processes behind
            kill_pid(pid)


@dataclass
class Seen:
    """Texts the app showed since the last look that a traceback could hide in."""

    notes: list[str] = field(default_factory=list)

    def hook(self, message: Message) -> None:
        """``run_test``'s message hook: every notification, even one gone before a look."""
        if isinstance(message, Notify):
            self.notes.append(str(message.notification.message))


class Monkey:
    """The random steps, the node schedule and the checks, all from one seed."""

    def __init__(self, app: GateConsole, console: Console, seed: int, size: Size) -> None:
        self.app = app
        self.console = console
        self.seed = seed
        self.keys = random.Random(seed)
        self.chaos = random.Random(seed * 7919 + 1)
        self.step = 0
        self.pids: set[int] = set()
        self.chaos_task: asyncio.Task[None] | None = None
        self.chaos_log: list[str] = []
        self.size = size  # the terminal's own size, which a resize comes back to

    def where(self) -> str:
        return f"seed {self.seed} (GATE_MONKEY_SEED={self.seed}), step {self.step}"

    # -- input, as the terminal driver gives it ------------------------------------------

    def key(self, key: str, character: str | None = None) -> None:
        event = events.Key(key, character)
        event.set_sender(self.app)
        self.app.post_message(event)

    def type_text(self, text: str) -> None:
        """Each character as its own key press."""
        for character in text:
            self.key(_character_to_key(character), character)

    def paste(self, text: str) -> None:
        """A bracketed paste over the box's old text."""
        self.key("home")
        self.key("ctrl+k")
        event = events.Paste(text)
        event.set_sender(self.app)
        self.app.post_message(event)

    def resize(self, width: int, height: int) -> None:
        """What ``Pilot.resize_terminal`` does, without its wait for an idle app."""
        size = Size(width, height)
        driver = self.app._driver
        assert isinstance(driver, HeadlessDriver)
        driver._size = size
        self.app.post_message(events.Resize(size, size))

    def answer(self) -> str:
        pool = HOSTILE_ANSWERS if self.keys.random() < 0.7 else GOOD_ANSWERS
        return self.keys.choice(pool)

    def one_step(self) -> None:
        rng = self.keys
        in_box = isinstance(self.app.focused, Input)
        roll = rng.random()
        if isinstance(self.app.screen, SizeNotice) and roll < 0.1:
            self.resize(self.size.width, self.size.height)  # a notice seen, the terminal grows
        elif in_box and roll < 0.35:
            self.paste(self.answer())
        elif in_box and roll < 0.45:
            self.type_text(self.answer()[:40])
        elif in_box and roll < 0.65:
            self.key("enter")
        elif roll < 0.003:
            width, height = rng.choice([(40, 12), (79, 23), (200, 60), (100, 30), self.size])
            self.resize(width, height)
        elif roll < 0.15:
            self.key(rng.choice(PANEL_KEYS))
        elif roll < 0.6:
            name = rng.choice(ACTION_KEYS)
            self.key(name, name if len(name) == 1 else None)
        else:
            self.key(rng.choice(MOVE_KEYS))

    # -- the node schedule ---------------------------------------------------------------

    def chaos_step(self) -> None:
        """Every other move breaks a node (API kill or ``kill -9``), the others bring every
        node back; a move still running when the next is due lets that one pass."""
        if self.chaos_task is not None and not self.chaos_task.done():
            self.chaos_log.append(f"{self.step}: busy")
            return
        move = self.step // CHAOS_EVERY
        nodes = self.console.ops.session.embedded
        assert nodes is not None
        node = self.chaos.choice(nodes.config.node_ids)
        if move % 2 == 0:
            how = self.chaos.choice(["api", "sigkill"])
            self.chaos_task = asyncio.create_task(self.kill(node, how))
        else:
            self.chaos_task = asyncio.create_task(self.heal())

    async def kill(self, node: str, how: str) -> None:
        client = self.console.ops.client
        try:
            if how == "api":
                await client.node_action(node, "kill")
            else:
                view = await client.cluster()
                pid = next(n["pid"] for n in view["nodes"] if n["node_id"] == node)
                if pid is None:
                    self.chaos_log.append(f"{self.step}: {node} has no process")
                    return
                self.pids.add(pid)
                kill_pid(pid)
            self.chaos_log.append(f"{self.step}: {how} kill {node}")
        except (GateError, ProcessLookupError) as exc:
            self.chaos_log.append(f"{self.step}: {how} kill {node}: {exc}")

    async def heal(self) -> None:
        """Start every node that is down, resume every paused one and heal every cut link."""
        client = self.console.ops.client
        try:
            view = await client.cluster()
        except GateError as exc:
            self.chaos_log.append(f"{self.step}: heal: {exc}")
            return
        for node in view["nodes"]:
            if node["isolated"] or node["cuts"]["in"] or node["cuts"]["out"]:
                try:
                    await client.heal(node["node_id"])
                    self.chaos_log.append(f"{self.step}: heal links of {node['node_id']}")
                except GateError as exc:
                    self.chaos_log.append(f"{self.step}: heal {node['node_id']}: {exc}")
            if node["state"] == "paused":
                action = "resume"
            elif node["state"] != "running":
                action = "start"
            else:
                continue
            try:
                await client.node_action(node["node_id"], action)
                self.chaos_log.append(f"{self.step}: {action} {node['node_id']}")
            except GateError as exc:
                self.chaos_log.append(f"{self.step}: {action} {node['node_id']}: {exc}")

    # -- checks --------------------------------------------------------------------------

    def check_alive(self) -> None:
        app = self.app
        assert app._exception is None, f"{self.where()}: the app raised {app._exception!r}"
        assert app.is_running, f"{self.where()}: the app stopped (code {app.return_code})"

    def note_pids(self) -> None:
        latest = self.console.ops.health.latest
        if latest is not None and latest.status is not None:
            self.pids.update(n.pid for n in latest.status.nodes if n.pid is not None)

    def screen_text(self) -> str:
        """Every row of every screen in the stack, as drawn now."""
        rows = []
        for screen in self.app.screen_stack:
            rows += [strip.text for strip in screen._compositor.render_strips()]
        return "\n".join(rows)

    def check_texts(self, seen: Seen, *, screen: bool) -> None:
        """No traceback in what was shown since the last look, nor (with ``screen``, less
        often: drawing every screen costs) anywhere on the screens now."""
        if screen:
            drawn = self.screen_text()
            assert not TRACEBACK.search(drawn), f"{self.where()}: a traceback on screen:\n{drawn}"
        texts = [*seen.notes, self.app.last_message, *self.feed_lines(), *self.form_errors()]
        for text in texts:
            bad = TRACEBACK.search(text) or EXCEPTION_NAME.search(text)
            assert bad is None, f"{self.where()}: {text!r} shows {bad.group()!r}"

    def feed_lines(self) -> Iterator[str]:
        for line in self.app.query_one(FeedPanel).retained:
            yield line.text

    def form_errors(self) -> Iterator[str]:
        if isinstance(self.app.screen, FormDialog):
            for error in self.app.screen.query("#form-error").results(Static):  # once composed
                yield str(error.render())


async def run_monkey(console: Console, size: tuple[int, int], count: int) -> Monkey:
    """``count`` random steps at ``size``, then Ctrl+Q; answers the monkey for more checks.
    Whatever fails names the seed and the step."""
    app = GateConsole(console.ops, blink=False)
    monkey = Monkey(app, console, seed(), Size(*size))
    try:
        await drive(monkey, size, count)
    except AssertionError:
        raise
    except Exception as exc:  # e.g. the app's own exception, raised again as run_test ends
        raise AssertionError(f"{monkey.where()}: {exc!r}") from exc
    assert app.return_code in (None, 0), f"{monkey.where()}: exit code {app.return_code}"
    return monkey


async def drive(monkey: Monkey, size: tuple[int, int], count: int) -> None:
    app = monkey.app
    seen = Seen()
    async with app.run_test(size=size, notifications=True, message_hook=seen.hook) as pilot:
        for monkey.step in range(count):
            monkey.one_step()
            if monkey.step % CHAOS_EVERY == CHAOS_EVERY - 1:
                monkey.chaos_step()
            await asyncio.sleep(STEP_PAUSE)
            # A dialog's error is gone once the dialog closes: keep each new one.
            seen.notes.extend(e for e in monkey.form_errors() if e not in seen.notes[-1:])
            if monkey.step % CHECK_EVERY == 0:
                monkey.check_alive()
                monkey.note_pids()
                monkey.check_texts(seen, screen=monkey.step % SCREEN_EVERY == 0)
                seen.notes.clear()  # checked
        monkey.check_alive()
        monkey.check_texts(seen, screen=True)
        if monkey.chaos_task is not None:
            await monkey.chaos_task
        monkey.note_pids()
        view = await monkey.console.ops.client.cluster()
        monkey.pids.update(n["pid"] for n in view["nodes"] if n["pid"] is not None)
        monkey.key("ctrl+q")  # whatever screen is on top
        deadline = time.monotonic() + 15
        while app.is_running and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert not app.is_running, f"{monkey.where()}: Ctrl+Q did not quit"


async def close_and_check(console: Console, monkey: Monkey) -> None:
    """Closing the session stops the cluster it started: no node process is left."""
    gateway = console.ops.session.embedded
    assert gateway is not None and gateway.process is not None
    monkey.pids.add(gateway.process.pid)
    await console.ops.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = [pid for pid in monkey.pids if alive(pid)] + processes_using(console.config)
        if not left:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{monkey.where()}: processes left after closing: {sorted(set(left))}")


async def monkey_run(console: Console, size: tuple[int, int], count: int) -> None:
    started = time.monotonic()
    monkey = await run_monkey(console, size, count)
    await close_and_check(console, monkey)
    took = time.monotonic() - started
    print(f"monkey at {size[0]}x{size[1]}: seed {monkey.seed}, {count} steps in {took:.1f} s")
    print("  node schedule:", "; ".join(monkey.chaos_log))


# Thousands of steps on a shared 2-core machine: more than the suite's 120 s, with room.
@pytest.mark.timeout(300)
async def test_monkey_at_120x36(console_cluster: Console) -> None:
    """The full run, at a class's usual terminal size."""
    await monkey_run(console_cluster, (120, 36), steps())


@pytest.mark.timeout(200)
async def test_monkey_at_80x24(console_cluster: Console) -> None:
    """A shorter run at the smallest size the dashboard supports."""
    await monkey_run(console_cluster, (80, 24), steps() // 3)
