"""Record a real session and replay it: the replay's panels hold what the live ones showed.

A real cluster, the real dashboard with ``--record``'s recorder, an observer, two producers,
the leader killed (``tests/tui/replay_session.py``); then the file is replayed to its end, with
no cluster, and the timeline, the Messages panel, the feed and the verdict line compared.
Served, ``--serve --replay FILE`` plays it in real Chromium tabs, each its own copy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from console.ops.operations import Operations
from console.ops.recording import read_recording
from console.ops.replay import ReplayOps
from console.ops.session import SessionOptions
from console.tui.replay import ReplayConsole
from tests.cluster_harness import RunningCluster
from tests.tui.browser import launch, open_tab, press, screen, shot, wait_for_screen
from tests.tui.replay_session import SIZE, record_session, shown
from tests.tui.test_replay import RECORDING
from tests.tui.test_serve import artifacts, processes, serve


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_recorded_session_replays_as_it_was_shown(
    make_cluster: Callable[..., Awaitable[RunningCluster]], tmp_path: Path
) -> None:
    cluster = await make_cluster()
    path = tmp_path / "session.gate.gz"
    ops = await Operations.open(SessionOptions(connect=cluster.url), seed=7, health_interval=0.5)
    try:
        live = await record_session(ops, path)
    finally:
        await ops.close()
    recording = read_recording(path)
    assert recording.notice == ""
    assert recording.header.nodes == ("node1", "node2", "node3")
    kinds = {record.kind for record in recording.records}
    assert {"health", "trace", "feed", "verdict"} <= kinds, kinds
    assert any("new leader: " in line for line in live.timeline), live.timeline
    assert live.messages and live.feed and "0 lost" in live.verdict

    app = ReplayConsole(ReplayOps(path, recording), paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_curly_bracket")  # to the end
        await pilot.pause()
        replayed = shown(app)
        assert replayed.timeline == live.timeline
        assert replayed.messages == live.messages
        assert replayed.feed == live.feed
        assert replayed.verdict == live.verdict
        await pilot.press("ctrl+q")


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_served_every_tab_plays_its_own_copy(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    shots = artifacts(request)
    served = await serve(tmp_path, "--replay", str(RECORDING))
    tabs = ("console.tui.main", "--replay", str(RECORDING.resolve()))

    def consoles() -> list[int]:  # the tabs' (the server's own command line matches too)
        return [pid for pid in processes(*tabs) if pid != served.process.pid]

    try:
        log = (tmp_path / "serve.log").read_text()
        assert f"serving a replay of {RECORDING} on {served.url}" in log
        async with async_playwright() as playwright:
            browser = await launch(playwright)
            first = await open_tab(browser, served.url)
            assert await first.title() == "Gate console — replay of failover.gate.gz"
            await wait_for_screen(first, "REPLAY failover.gate.gz", "leader node1")
            await press(first, "Space")  # this tab pauses; the other plays on
            await wait_for_screen(first, "paused")
            second = await open_tab(browser, served.url)
            await wait_for_screen(second, "REPLAY failover.gate.gz", "leader node2", "ended")
            assert "paused" in await screen(first)
            await shot(first, shots, "1-paused")
            await shot(second, shots, "2-ended")
            assert len(consoles()) == 2
            await press(first, "k")
            await wait_for_screen(first, "replay: read only")
            assert served.stop() == 0
            await browser.close()
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()
    assert not consoles()
    assert not (tmp_path / "data").exists(), "no cluster was started"
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
