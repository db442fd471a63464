"""``gate-console --record`` and ``--replay``: the file's reader, the playback, the keys.

The replays play ``tests/tui/recordings/failover.gate.gz``, a real session (made by
``python -m tests.tui.replay_session``): node1 leads, two producers write, node1 is killed at
about 4.1 s, node2 wins term 3 at 5.4 s, the recording ends at 7.4 s.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from console.ops.cluster import HealthSample, NodeLogLine
from console.ops.messages import trace_line
from console.ops.recording import (
    FLUSH_SECONDS,
    Recorder,
    RecordingError,
    decode_log,
    decode_sample,
    decode_trace,
    decode_verdict,
    encode_sample,
    read_recording,
)
from console.ops.replay import READ_ONLY, Playback, ReplayOps
from console.tui.help import HelpScreen, help_text
from console.tui.replay import SEEK_SECONDS, ReplayConsole
from console.tui.seats import replay_tab_argv
from engine.client.checker import LiveVerdict, Violation
from tests.console.test_start import run
from tests.tui.recorded import ELECTION, FAILOVER, NO_LEADER, T0, RecordedHealth
from tests.tui.replay_session import shown

RECORDING = Path(__file__).with_name("recordings") / "failover.gate.gz"
SIZE = (120, 36)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write_session(path: Path, clock: Clock) -> Recorder:
    """A recorder that wrote one of each kind, 0.1 s apart; left open."""
    recorder = Recorder(path, ["node1", "node2", "node3"], clock=clock)
    health = RecordedHealth(None)
    for status in FAILOVER[:2]:
        clock.now += 0.1
        health.show(status)
        assert health.latest is not None
        recorder.health(health.latest)
    clock.now += 0.1
    violation = Violation("lost", "node2", "greenhouse-1", "e-1", "not on a majority")
    recorder.verdict(LiveVerdict(10, 9, 1, 0, 0, 0, 0, violation), False)
    recorder.verdict(LiveVerdict(10, 9, 1, 0, 0, 0, 0, violation), False)  # unchanged: no line
    clock.now += 0.1
    recorder.trace([trace_line(raw, T0 + 3.0) for raw in ELECTION], 2)
    recorder.feed([("reg_gh:$all", 'SEEN ["greenhouse-1:fan_activated:v1 (v1)"]')])
    recorder.log("node1", [NodeLogLine(1, T0, "info", "leader", "became leader")])
    recorder.note("+  1.0s", ["snapshot sent to node4"])
    recorder.flush(force=True)
    return recorder


def test_a_recording_reads_back_what_was_recorded(tmp_path: Path) -> None:
    path = tmp_path / "s.gate.gz"
    write_session(path, Clock()).close()
    recording = read_recording(path)
    assert recording.notice == ""
    assert recording.header.nodes == ("node1", "node2", "node3")
    assert recording.header.version == 2
    kinds = [record.kind for record in recording.records]
    assert kinds == ["health", "health", "verdict", "trace", "feed", "log", "note"]
    assert [record.t for record in recording.records[:3]] == [0.1, 0.2, 0.3]
    first, second = (decode_sample(r.data["sample"]) for r in recording.records[:2])
    assert first.status == FAILOVER[0] and second.status == NO_LEADER
    verdict = decode_verdict(recording.records[2].data["verdict"])
    assert verdict is not None and verdict.first is not None and verdict.first.kind == "lost"
    lines = decode_trace(recording.records[3].data)
    assert lines == [trace_line(raw, T0 + 3.0) for raw in ELECTION]
    assert decode_log(recording.records[5].data)[0].text == "became leader"


def test_a_cluster_view_reads_back_whole_and_a_later_gate_s_fields_are_left_out() -> None:
    status = replace(FAILOVER[0], stream_leaders=(("greenhouse-1", "node1"), ("x", None)))
    sample = HealthSample(status, 14.6, None, 101.0, 1240, "reg_gh", 3, 1240)
    raw = json.loads(json.dumps(encode_sample(sample)))
    assert decode_sample(raw) == sample
    raw["later"] = 1
    raw["status"]["later"] = [1]
    raw["status"]["nodes"][0]["later"] = {"a": 1}
    assert decode_sample(raw) == sample


def test_the_header_says_the_format_and_the_version(tmp_path: Path) -> None:
    path = tmp_path / "s.gate.gz"
    Recorder(path, ["node1"]).close()
    header = json.loads(gzip.decompress(path.read_bytes()).splitlines()[0])
    assert header["format"] == "gate-console-recording"
    assert header["version"] == 2 and header["nodes"] == ["node1"]
    assert {"gate", "recorded_at"} <= set(header)


def test_a_killed_console_leaves_its_recording_readable_up_to_its_last_flush(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.gate.gz"
    clock = Clock()
    recorder = write_session(path, clock)  # flushed, never closed: no gzip trailer
    recorder.feed([("src", "written after the flush")])  # still in the compressor
    recording = read_recording(path)
    assert len(recording.records) == 7
    assert "cut" in recording.notice
    clock.now += FLUSH_SECONDS
    recorder.flush()  # its time has come: the line is readable now
    assert len(read_recording(path).records) == 8


def test_a_cut_last_line_is_skipped_with_one_notice(tmp_path: Path) -> None:
    whole = gzip.decompress(RECORDING.read_bytes())
    path = tmp_path / "cut.gate.gz"
    path.write_bytes(gzip.compress(whole[: len(whole) - 40]))  # the last line loses its end
    recording = read_recording(path)
    assert len(recording.records) == len(read_recording(RECORDING).records) - 1
    assert (
        recording.notice == "cut.gate.gz: its last line was cut (the console recording it "
        "was stopped)"
    )


def test_garbage_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    lines = gzip.decompress(RECORDING.read_bytes()).splitlines()
    garbage = [b"not json", b'{"t": 1.0, "k": "nothing"}', b'{"t": 1.0, "k": "health"}', b"[1]"]
    path = tmp_path / "garbled.gate.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines[:5] + garbage + lines[5:]) + b"\n"))
    recording = read_recording(path)
    assert len(recording.records) == len(lines) - 1
    assert recording.notice == "garbled.gate.gz: 4 unreadable lines skipped"


def _header(**fields: Any) -> bytes:
    line = {"format": "gate-console-recording", "version": 1, "gate": "0.1.0"}
    return json.dumps({**line, "recorded_at": 1.0, "nodes": [], **fields}).encode() + b"\n"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "no such file: "),
        (b"plain text\n", "is not a gzip file (a recording is)"),
        (gzip.compress(b"{}\n", mtime=0), "is not a gate-console recording"),
        (gzip.compress(b"[1, 2]\n"), "is not a gate-console recording"),
        (
            gzip.compress(_header(version=3)),
            "is a recording of format version 3; this console reads versions 1 and 2",
        ),
        (gzip.compress(_header(nodes=None)), "its header line is incomplete"),
        (gzip.compress(b""), "is empty or cut before its header"),
        (gzip.compress(b"", mtime=0)[:5], "is empty or cut before its header"),
    ],
    ids=["missing", "text", "other-json", "not-an-object", "version", "header", "empty", "cut"],
)
def test_a_file_that_is_no_recording_is_one_line(
    tmp_path: Path, content: bytes | None, words: str
) -> None:
    path = tmp_path / "bad.gz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RecordingError, match=re.escape(words)):
        read_recording(path)
    if content is not None:  # the command says the same, and exits 2
        line = run("gate-console", "--replay", str(path), cwd=tmp_path).one_line("gate-console", 2)
        assert line.startswith("gate-console: cannot replay: ") and words in line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--replay", str(RECORDING), "--connect", "http://h:1"], "drop --connect"),
        (["--replay", str(RECORDING), "--record", "x.gz"], "drop --record"),
        (["--record", "no/such/folder/x.gz"], "not a file in an existing folder"),
        (["--serve", "--record", "x.gz"], "--record records one console: run it without --serve"),
    ],
)
def test_what_cannot_be_recorded_or_replayed_is_one_line(
    tmp_path: Path, args: list[str], words: str
) -> None:
    line = run("gate-console", *args, cwd=tmp_path).one_line("gate-console", 2)
    assert words in line


def test_a_served_tab_replays_its_own_copy() -> None:
    argv = replay_tab_argv(Path("tests/tui/recordings/failover.gate.gz"))
    assert argv[1:4] == ["-m", "console.tui.main", "--replay"]
    assert argv[4] == str(RECORDING.resolve())  # the tab may run elsewhere: the whole path


# -- the playback ------------------------------------------------------------------------------


def test_the_playback_hands_out_records_by_time() -> None:
    records = read_recording(RECORDING).records
    playback = Playback(records)
    first = playback.advance(0.5)
    assert [r.t for r in first] == [r.t for r in records if r.t <= 0.5] and playback.now == 0.5
    playback.speed = playback.faster(1)  # 2x: a second is two of the recording
    assert all(0.5 < r.t <= 2.5 for r in playback.advance(1.0)) and playback.now == 2.5
    playback.paused = True
    assert playback.advance(10.0) == [] and playback.now == 2.5
    (nxt,) = playback.step()
    assert nxt.t > 2.5 and playback.now == nxt.t
    assert [playback.faster(-1) for _ in range(4)] == [1.0, 0.5, 0.25, 0.25]
    rest = playback.until(1e9)
    assert playback.ended and rest[-1] == records[-1] and playback.now == playback.duration
    assert playback.step() == []
    assert playback.position() == "0:07.4/0:07.4 paused ¼×"


# -- the console -------------------------------------------------------------------------------


def console(clock: Clock | None = None) -> ReplayConsole:
    ops = ReplayOps(RECORDING, read_recording(RECORDING))
    app = ReplayConsole(ops, paused=True, clock=clock or Clock())
    app.animation_level = "none"
    return app


def screen_text(app: ReplayConsole) -> str:
    """The screen as drawn (the SVG export, without its id, which hashes the time of the draw)."""
    return re.sub(r"terminal-\d+", "terminal", app.export_screenshot())


async def drawn_as(pilot: Pilot[Any], app: ReplayConsole, drawn: str) -> None:
    """The screen is ``drawn`` once drawn: a loaded machine may take more than a frame."""
    deadline = time.monotonic() + 5
    while screen_text(app) != drawn and time.monotonic() < deadline:
        await pilot.pause(0.05)
    assert screen_text(app) == drawn


pytestmark = pytest.mark.usefixtures("utc")


async def test_seeking_back_shows_the_screen_first_seen_there() -> None:
    clock = Clock()
    app = console(clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")  # play, a tenth of a second at a time, as the timer does
        while app.playback.now < 5.0:  # node1 was killed at 4.1 s; node2 wins at 5.4 s
            clock.now += 0.1
            app.tick()
        await pilot.press("space")
        await pilot.pause()
        first, drawn, at = shown(app), screen_text(app), app.playback.now
        assert "new leader" not in "\n".join(first.timeline)
        assert any("node1 down" in line for line in first.timeline), first.timeline
        await pilot.press("right_curly_bracket")  # the end: node2 leads
        await pilot.pause()
        assert "new leader: node2 (term 3)" in "\n".join(shown(app).timeline)
        await pilot.press("left_square_bracket")  # back SEEK_SECONDS: before the kill
        await pilot.pause()
        assert app.playback.now == pytest.approx(app.playback.duration - SEEK_SECONDS)
        assert not any("node1 down" in line for line in shown(app).timeline)
        await app.seek(at)
        await pilot.pause()
        assert shown(app) == first
        await drawn_as(pilot, app, drawn)


async def test_pause_step_and_speed_keys() -> None:
    clock = Clock()
    app = console(clock)
    async with app.run_test(size=SIZE) as pilot:
        header = app.query_one("#status-text")
        await pilot.pause()
        assert "▶ REPLAY failover.gate.gz 0:00.0/0:07.4 paused 1×" in str(header.render())
        await pilot.press("full_stop")  # the first record: a look at the cluster
        await pilot.pause()
        assert app.playback.next == 1 and app.ops.health.updates == 1
        assert "leader node1 · term 1 · 3/3 up" in str(header.render())
        await pilot.press("greater_than_sign", "greater_than_sign")
        assert app.playback.speed == 4.0 and app.last_message == "✅ replay at 4×"
        await pilot.press("space")  # play: one second of the test's clock is 4 s here
        clock.now += 1.0
        app.tick()
        assert app.playback.now == pytest.approx(0.209 + 4.0)
        assert app.ops.health.latest is not None
        assert app.ops.health.latest.status is not None
        assert app.ops.health.latest.status.leader is None  # node1 was killed at 4.1 s
        await pilot.press("space", "less_than_sign")
        clock.now += 1.0
        app.tick()
        assert app.playback.now == pytest.approx(4.209) and app.playback.speed == 2.0
        await pilot.press("left_curly_bracket")  # the start: nothing shown yet
        await pilot.pause()
        assert app.playback.now == 0.0 and app.ops.health.latest is None
        assert shown(app).timeline == []


@pytest.mark.parametrize(
    "keys",
    [
        ("k",),  # kill the selected node
        ("minus",),  # tempo
        ("6", "a"),  # append events
        ("3", "n"),  # an observer
        ("S",),  # another store
    ],
)
async def test_what_needs_a_cluster_says_replay_read_only(keys: tuple[str, ...]) -> None:
    app = console()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.seek(6.0)
        await pilot.press(*keys)
        await pilot.pause()
        assert app.last_message == f"⚠️  {READ_ONLY}"
        assert len(app.screen_stack) == 1  # no dialog opened


async def test_a_replay_still_shows_the_panels_and_filters_the_feed() -> None:
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await app.seek(7.0)
        await pilot.press("slash", *"fan")
        await pilot.pause()
        assert app.query_one("#panels").active == "feed"  # type: ignore[attr-defined]
        assert shown(app).feed and app.last_message == ""


async def test_the_help_says_the_replay_keys_first() -> None:
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and app.screen.replay
        assert help_text(replay=True).index("| `[` `]` | back · forward 5 seconds |") < (
            help_text(replay=True).index("| Panel | Keys |")
        )
        assert "Replaying" not in help_text()
