"""A teacher's slowed election, tried as a teacher would: in a served browser tab.

The real ``gate-console --serve`` starts its cluster, headless Chromium opens the page
(``tests/tui/browser.py``), and the tab's own keys do everything: ``-`` four times to tempo ×1/20,
``k`` on the leader's row of the Cluster panel, ``7`` for the Messages panel.  The tab must then
draw the new election's RequestVote arrows, name a new leader in a higher term and keep
``tempo ×1/20`` in its header.  Its screenshots are kept under ``$GATE_ARTIFACTS``
(``tests/tui/test_serve.py``: ``artifacts``), their paths printed (``-s`` shows them).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from tests.cluster_harness import cluster_config, write_config
from tests.tui.browser import launch, open_tab, press, screen, shot, wait_for_screen
from tests.tui.test_serve import Served, artifacts, serve

HEADER = re.compile(r"leader (node\d) · term (\d+)")
# A row of the Messages panel: the sender's ● and the arrow's head in the lanes, then the words.
VOTE_ROW = re.compile(r"●[─]*▶.*RequestVote t(\d+)|◀[─]*●.*RequestVote t(\d+)")


@pytest.fixture
async def classroom(tmp_path: Path) -> AsyncIterator[Served]:
    config = write_config(tmp_path, cluster_config(tmp_path))
    served = await serve(tmp_path, "--config", str(config))
    yield served
    if served.process.poll() is None:
        served.process.kill()
        served.process.wait()


def leader_and_term(text: str) -> tuple[str, int] | None:
    """The leader and term the tab's top line shows (None without a leader)."""
    found = HEADER.search(text)
    return (found[1], int(found[2])) if found else None


def vote_terms(text: str) -> set[int]:
    """The terms of the RequestVote arrows drawn on the screen."""
    return {int(a or b) for a, b in VOTE_ROW.findall(text)}


@pytest.mark.slow
@pytest.mark.timeout(300)  # at ×1/20 an election waits 6 to 12 s of silence, the header 20 s
async def test_a_slowed_election_in_a_served_tab(
    classroom: Served, request: pytest.FixtureRequest
) -> None:
    shots = artifacts(request)
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        tab = await open_tab(browser, classroom.url)
        text = await wait_for_screen(tab, "leader node", "3/3 up", "Timeline")
        before = leader_and_term(text)
        assert before is not None
        old, term = before

        # Slow motion, one step a key: 1 → 2 → 5 → 10 → 20 times slower.
        for scale in (2, 5, 10, 20):
            await press(tab, "-")
            await wait_for_screen(tab, f"tempo ×1/{scale}")

        # The leader's row of the Cluster panel (away and back: the keys go to its table), k.
        await press(tab, "3")
        await press(tab, "1")
        await wait_for_screen(tab, "Timeline")
        for _ in range(int(old.removeprefix("node")) - 1):
            await press(tab, "ArrowDown")
        await press(tab, "k")
        await wait_for_screen(tab, f"Kill {old}?")
        await press(tab, "y")
        await press(tab, "7")
        await wait_for_screen(tab, "Raft messages")

        # The survivors' election, drawn as it happens: a RequestVote arrow in a newer term.
        def voted(text: str) -> bool:
            return any(t > term for t in vote_terms(text))

        await until(tab, voted, 90, "the new election's RequestVote arrows")
        await shot(tab, shots, "1-request-votes")

        # A new leader in a newer term, still in slow motion.
        def led(text: str) -> bool:
            now = leader_and_term(text)
            return now is not None and now[0] != old and now[1] > term

        await until(tab, led, 90, "a new leader in the header")
        text = await wait_for_screen(tab, "tempo ×1/20", "2/3 up")
        assert "Traceback" not in text
        await shot(tab, shots, "2-new-leader")
        await browser.close()
    assert classroom.stop() == 0


async def until(page: Page, check: Callable[[str], bool], timeout: float, what: str) -> str:
    """Wait until ``check`` holds for the tab's screen; fail showing the last one."""
    deadline = time.monotonic() + timeout
    while True:
        text = await screen(page)
        if check(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}:\n{text}")
        await asyncio.sleep(0.2)
