"""A real headless browser on a served dashboard: Debian's chromium driven by playwright.

textual.js keeps its xterm.js ``Terminal`` in a closure and draws it on a canvas, so the page
has no text to read.  Before the page's scripts run, ``TERMINAL_HOOK`` catches the terminal
the moment textual.js stores it (``this.terminal = new Terminal(...)``); ``screen`` then reads
the rows of its buffer, which is exactly what the canvas shows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from pathlib import Path

from playwright.async_api import Browser, Page, Playwright

TERMINAL_HOOK = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, 'terminal',
      {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.buffer.active) {
      (window.__gateTerminals = window.__gateTerminals || []).push(value);
    }
  },
});
"""
READ_SCREEN = """() => {
  const terminal = (window.__gateTerminals || [])[0];
  if (!terminal) return "";
  const buffer = terminal.buffer.active, rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""


def chromium_path() -> str:
    """Debian's chromium (``.ci/run`` installs it); no browser of playwright's own."""
    path = os.environ.get("GATE_CHROMIUM") or shutil.which("chromium")
    assert path, "no chromium: apt-get install chromium (.ci/run does)"
    return path


async def launch(playwright: Playwright) -> Browser:
    # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
    return await playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])


async def open_tab(browser: Browser, url: str, *, ignore_https_errors: bool = False) -> Page:
    """A new tab (its own browser context: its own session) on the served page;
    ``ignore_https_errors``: for a page whose certificate only a dev CA vouches for."""
    context = await browser.new_context(
        viewport={"width": 1280, "height": 800}, ignore_https_errors=ignore_https_errors
    )
    page = await context.new_page()
    await page.add_init_script(TERMINAL_HOOK)
    await page.goto(url)
    return page


async def screen(page: Page) -> str:
    """The terminal's rows as text."""
    return str(await page.evaluate(READ_SCREEN))


async def wait_for_screen(page: Page, *needles: str, timeout: float = 60.0) -> str:
    """Wait until the terminal shows every one of ``needles``; fail showing the last screen."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = await screen(page)
        if all(needle in text for needle in needles):
            return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"the tab never showed {needles!r} in {timeout:g} s; it shows:\n{text}")


async def press(page: Page, key: str) -> None:
    """A key typed into the terminal, as a person's keyboard sends it."""
    await page.focus(".xterm-helper-textarea")
    await page.keyboard.press(key)


async def shot(page: Page, directory: Path, name: str) -> Path:
    """A screenshot kept as a test artifact."""
    path = directory / f"{name}.png"
    await page.screenshot(path=str(path))  # makes the directory
    print(f"screenshot: {path}")
    return path
