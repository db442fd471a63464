"""``gate-console --serve``: the dashboard in real browser tabs, on one real cluster.

The slow tests run the real command, open its page in headless Chromium (``tests/tui/browser.py``)
and read what each tab's terminal shows; they count the processes on the machine to check that
each tab is a console of its own while the engine runs once.  Screenshots go under the test's
artifacts directory, ``$GATE_ARTIFACTS`` (default ``<tmp>/gate-artifacts``), under the test's
name, kept until the next run (their paths are printed: ``-s`` shows them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from playwright.async_api import async_playwright

from console.ops.session import Access
from console.tui.seats import ServeOptions, in_served_tab, seat_words, tab_argv
from console.tui.serve import tab_gone_in_one_line
from engine.config import load_config
from engine.tls import client_context, make_dev_certs
from tests.cluster_harness import (
    RunningCluster,
    cluster_config,
    free_ports,
    wait_for,
    write_config,
)
from tests.console.script_runs import ROOT
from tests.console.test_start import run
from tests.engine.test_tls import plain_bytes_get, served_serial, tls_section
from tests.tui.browser import launch, open_tab, press, shot, wait_for_screen

# -- the quick part: what a tab runs, what the page says, what is refused -----------------------


def test_a_tab_is_a_console_attached_to_the_gateway() -> None:
    argv = tab_argv("http://127.0.0.1:8899", read_only=False)
    assert argv[1:] == ["-m", "console.tui.main", "--connect", "http://127.0.0.1:8899"]
    assert tab_argv("http://h:1", read_only=True)[-1] == "--read-only"
    tls = {"ca": "/c/ca.pem", "cert": "/c/client.pem", "key": "/c/client-key.pem"}
    assert tab_argv("https://h:1", read_only=False, tls=tls)[-6:] == [
        "--ca",
        "/c/ca.pem",
        "--cert",
        "/c/client.pem",
        "--key",
        "/c/client-key.pem",
    ]
    assert not any("token" in part for part in argv), "a token never shows in ps"


def test_the_page_says_which_seat_it_is() -> None:
    assert seat_words(Access()).startswith("full seat: every operation")  # no tokens at all
    assert seat_words(Access(read_only=True)).startswith("read-only seat: watch everything")
    reader = Access("class", "reader", "token")
    assert seat_words(reader).startswith("reader seat (class): watch everything")
    assert seat_words(replace(reader, read_only=True)).startswith("read-only seat")
    assert seat_words(Access("t", "admin", "token")).startswith("admin seat (t): every operation")
    assert seat_words(Access("w", "writer", "token")).startswith("writer seat (w): appends")
    assert ServeOptions(port=9000).url == "http://127.0.0.1:9000"
    assert ServeOptions(public_url="https://gate.school").url == "https://gate.school"


def test_a_tab_closed_while_it_connects_is_one_line_in_the_log() -> None:
    try:
        raise ConnectionResetError("Connection lost")  # what aiohttp raises then
    except ConnectionResetError:
        record = logging.LogRecord("textual-serve", 40, __file__, 1, "%s", ("x",), sys.exc_info())
    assert tab_gone_in_one_line(record)
    assert record.getMessage() == "a tab closed while it connected" and record.exc_info is None
    other = logging.LogRecord("textual-serve", 40, __file__, 1, "boom", (), None)
    assert tab_gone_in_one_line(other) and other.getMessage() == "boom"


def test_a_served_tab_needs_no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    assert not in_served_tab()
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert in_served_tab()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "8000"], "--host, --port, --public-url, --serve-cert and --serve-key go with"),
        (["--serve", "--serve-cert", "c.pem"], "--serve-cert and --serve-key go together"),
        (
            ["--serve", "--serve-cert", "c.pem", "--serve-key", "k.pem"],
            "cannot serve https://: c.pem: file not found",
        ),
        (["--serve", "--port", "70000"], "--port 70000: the port must be between 1 and 65535"),
        (["--serve", "--public-url", "ftp://x"], "--public-url ftp://x: it must start with"),
        (["--serve", "--store", "shop"], "--store goes without --serve: each served tab picks"),
        (["--serve", "--lesson", "x.txt"], "--lesson opens in one console: serve without it"),
    ],
)
def test_what_cannot_be_served_is_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    line = run("gate-console", *args, cwd=tmp_path).one_line("gate-console", 2)
    assert words in line


def test_serving_a_gateway_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    port, gateway = free_ports(2)
    args = ("--serve", "--port", str(port), "--connect", f"127.0.0.1:{gateway}")
    line = run("gate-console", *args, cwd=tmp_path).one_line("gate-console", 1)
    assert line == f"gate-console: cannot reach a Gate gateway at http://127.0.0.1:{gateway}"


def test_a_taken_port_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = run("gate-console", "--serve", "--port", str(port), cwd=tmp_path)
    line = done.one_line("gate-console", 2)
    assert f"cannot serve on 127.0.0.1:{port}" in line
    assert not (tmp_path / "data").exists(), "no cluster was started"


def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where this test's screenshots are kept: outside pytest's rotating temporary dirs."""
    root = Path(os.environ.get("GATE_ARTIFACTS") or Path(tempfile.gettempdir()) / "gate-artifacts")
    return root / "test_serve" / request.node.name


# -- the slow part: a real server, real tabs, a real cluster -------------------------------------


def processes(*needles: str) -> list[int]:
    """The pids of the processes whose command line holds every one of ``needles``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone between the listing and the read
            continue
        if all(needle in cmdline for needle in needles):
            found.append(int(entry.name))
    return found


async def eventually(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    config: Path

    def stop(self) -> int:
        """Ctrl+C, as the teacher stops it; its exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(60)


async def serve(directory: Path, *args: str, ca: Path | None = None) -> Served:
    """``gate-console --serve`` with ``args``, until its page answers (over https, trusting
    ``ca``, when it is given)."""
    (port,) = free_ports(1)
    env = {k: v for k, v in os.environ.items() if k != "GATE_AUTH_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    with open(directory / "serve.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "console.tui.main", "--serve", "--port", str(port), *args],
            cwd=directory,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    scheme = "https" if ca else "http"
    served = Served(process, f"{scheme}://127.0.0.1:{port}", directory / "cluster.yaml")
    deadline = time.monotonic() + 60
    trust = client_context(ca) if ca else None
    async with aiohttp.ClientSession() as http:
        while True:
            assert process.poll() is None, (directory / "serve.log").read_text()
            try:
                async with http.get(served.url, ssl=trust) as response:
                    if response.status == 200:
                        return served
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, "the page never answered"
            await asyncio.sleep(0.1)


def served_gateway(directory: Path) -> str:
    """The gateway a server's tabs attach to, as its log names it."""
    for line in (directory / "serve.log").read_text().splitlines():
        if "your own console: gate-console --connect " in line:
            return line.rsplit(" ", 1)[1]
    raise AssertionError("the server did not name its gateway")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """The served dashboard on the embedded cluster it started from a config on free ports."""
    config = write_config(tmp_path, cluster_config(tmp_path))
    running = await serve(tmp_path, "--config", str(config))
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


@pytest.mark.slow
@pytest.mark.timeout(240)  # a cluster, a server and two consoles starting on 2 shared cores
async def test_two_tabs_are_two_consoles_on_one_engine(
    served: Served, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    shots = artifacts(request)
    config = str(served.config)
    log = (tmp_path / "serve.log").read_text()
    assert f"serving the dashboard on {served.url} (full seat)" in log
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        first = await open_tab(browser, served.url)
        assert await first.title() == "Gate console — full seat"
        assert "full seat" in await first.inner_text("#seat")
        text = await wait_for_screen(first, "node1", "node2", "node3", "leader node", "3/3 up")
        assert "Timeline" in text
        await shot(first, shots, "1-cluster")
        await press(first, "2")
        await wait_for_screen(first, "Sources:")  # the Feed panel
        await shot(first, shots, "2-feed")

        # The engine once: a gateway and three nodes, whatever the tabs; a console per tab.
        nodes = processes("engine.node.main", config)
        assert len(nodes) == 3 and len(processes("engine.gateway.main", config)) == 1
        tabs = ("console.tui.main", f"--connect {served_gateway(tmp_path)}")
        assert len(processes(*tabs)) == 1
        second = await open_tab(browser, served.url)
        await wait_for_screen(second, "node1", "node2", "node3", "leader node", "3/3 up")
        assert len(processes(*tabs)) == 2
        assert processes("engine.node.main", config) == nodes, "a tab started no engine"

        # One cluster: a node stopped from the second tab is down in the first one too.
        await press(second, "3")  # away and back, so the keys go to the Cluster panel
        await press(second, "1")
        await wait_for_screen(second, "Timeline")
        for key in ("ArrowDown", "ArrowDown", "s"):  # node3, stop: it asks first
            await press(second, key)
        await wait_for_screen(second, "Stop node3?")
        await press(second, "y")
        await wait_for_screen(first, "2/3 up")
        await wait_for_screen(second, "2/3 up")
        await shot(second, shots, "3-second-tab")

        # Ctrl+C: both tabs' consoles end, their pages say so, nothing is left running.
        assert served.stop() == 0
        for page in (first, second):
            await page.wait_for_selector("body.-closed", timeout=30_000)
            assert "This Gate console has ended" in await page.inner_text(".closed-dialog")
        await shot(first, shots, "4-closed")
        await browser.close()
    assert not processes(*tabs)
    assert not processes(config), "the cluster the server started is stopped"
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_tab_has_the_token_and_says_when_the_gateway_is_gone(
    make_cluster: Callable[..., Awaitable[RunningCluster]],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    cluster = await make_cluster(extra={"security": {"authToken": "s3cret-token"}})
    shots = artifacts(request)
    served = await serve(tmp_path, "--connect", cluster.url, "--token", "s3cret-token")
    tabs = ("console.tui.main", f"--connect {cluster.url}")

    def consoles() -> list[int]:  # the tabs' (the server's own command line matches too)
        return [pid for pid in processes(*tabs) if pid != served.process.pid]

    try:
        log = (tmp_path / "serve.log").read_text()
        assert f"(admin seat (admin)); attached to the cluster at {cluster.url}" in log
        async with async_playwright() as playwright:
            browser = await launch(playwright)
            tab = await open_tab(browser, served.url)
            assert "admin seat (admin)" in await tab.inner_text("#seat")
            # A console without the token would have stopped at "refused the token"; its
            # header names the token's role.
            await wait_for_screen(tab, "node3", "leader node", "3/3 up", "admin (admin)")
            (console,) = consoles()
            assert processes("s3cret") == [served.process.pid], "only the teacher's has it"
            await cluster.embedded.stop()
            await wait_for_screen(tab, "unreachable")  # the running console says so, and waits
            await shot(tab, shots, "5-unreachable")
            late = await open_tab(browser, served.url)  # a tab opened while it is gone
            await wait_for_screen(late, "the cluster's gateway does not answer")
            await shot(late, shots, "6-gone")
            assert consoles() == [console], "the late tab started no console"
            await browser.close()
        assert served.stop() == 0
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()
    # The tab's console has closed its page, and ends once its session is closed: with its
    # gateway gone that takes a moment more.
    await eventually(lambda: not consoles(), 15, "the tab's console to end")


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_read_only_seat_watches_and_changes_nothing(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    config = write_config(tmp_path, cluster_config(tmp_path))
    served = await serve(tmp_path, "--config", str(config), "--read-only")
    try:
        assert "(read-only seat)" in (tmp_path / "serve.log").read_text()
        async with async_playwright() as playwright:
            browser = await launch(playwright)
            tab = await open_tab(browser, served.url)
            assert await tab.title() == "Gate console — read-only seat"
            assert "read-only seat" in await tab.inner_text("#seat")
            await wait_for_screen(tab, "node3", "leader node", "3/3 up", "as read-only")
            await shot(tab, artifacts(request), "7-read-only")
            # The help lists a full seat's node actions (``s stop · k kill``); a reader has none.
            await press(tab, "?")
            helped = await wait_for_screen(tab, "filter the live feed", "Observers")
            assert "k kill" not in helped and "s stop" not in helped, helped
            await press(tab, "Escape")
            await press(tab, "k")  # no key kills from a read-only seat
            await wait_for_screen(tab, "3/3 up")
            assert len(processes("engine.node.main", str(config))) == 3
            await browser.close()
        assert served.stop() == 0
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_the_page_over_https_on_a_cluster_with_tls(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    raw = cluster_config(tmp_path)
    certs = make_dev_certs(tmp_path / "certs", load_config(write_config(tmp_path, raw)))
    raw["security"] = {"tls": tls_section(certs)}
    config = write_config(tmp_path, raw)
    page = ("--serve-cert", str(certs.gateway.cert), "--serve-key", str(certs.gateway.key))
    served = await serve(tmp_path, "--config", str(config), *page, ca=certs.ca)
    port = int(served.url.rsplit(":", 1)[1])
    try:
        log = (tmp_path / "serve.log").read_text()
        assert f"serving the dashboard on {served.url} (full seat)" in log
        assert "started the cluster at https://" in log
        # The page's listener shows the certificate it was given; plain HTTP gets no page.
        serial = x509.load_pem_x509_certificate(certs.gateway.cert.read_bytes()).serial_number
        assert await served_serial(port, certs.ca) == serial
        got = await plain_bytes_get(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"HTTP/" not in got and b"Gate" not in got, got
        async with async_playwright() as playwright:
            browser = await launch(playwright)
            tab = await open_tab(browser, served.url, ignore_https_errors=True)  # a dev CA
            assert await tab.title() == "Gate console — full seat"
            attribute = "data-session-websocket-url"
            websocket = await tab.get_attribute(f"[{attribute}]", attribute)
            assert websocket == f"wss://127.0.0.1:{port}/ws", websocket
            # The tab's console reaches the https:// gateway with the session's CA.
            await wait_for_screen(tab, "node1", "node2", "node3", "leader node", "3/3 up")
            await shot(tab, artifacts(request), "8-https")
            # A renewed certificate: SIGHUP (a process without the handler would end), and the
            # page's next connections show it; the open tab keeps its terminal.
            make_dev_certs(tmp_path / "certs", load_config(config))
            served.process.send_signal(signal.SIGHUP)
            renewed = x509.load_pem_x509_certificate(certs.gateway.cert.read_bytes())
            await wait_for(
                lambda: served_serial(port, certs.ca),
                lambda serial: serial == renewed.serial_number,
                15,
                "the page's new certificate",
            )
            assert served.process.poll() is None
            await wait_for_screen(tab, "3/3 up")
            later = await open_tab(browser, served.url, ignore_https_errors=True)
            await wait_for_screen(later, "leader node", "3/3 up")
            await browser.close()
        assert served.stop() == 0
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


ASKING_LESSON = """\
# Lesson A: a served question.
# Played in two served tabs by tests/tui/test_serve.py.
#
# Each seat predicts, then the cluster answers.
ask "Which node leads now?" node1|node2|node3|nobody -> leader
14
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_each_tab_answers_a_lessons_question_and_sees_the_room(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "asking.txt").write_text(ASKING_LESSON)
    monkeypatch.setenv("GATE_LESSONS", str(lessons))  # the server's, so every tab's
    # The answer is node1 throughout: election timeouts of 2 to 4 s, so that a machine loaded
    # by the browser and the seats starting does not stall a node into an election (a CI run
    # saw node3 elected 2 s in, at the default 300 to 600 ms).
    raw = cluster_config(tmp_path, extra={"replication": {"electionTicks": 40}})
    config = write_config(tmp_path, raw)
    # Read-only seats: the room is no write to the store, so they answer too.
    served = await serve(tmp_path, "--config", str(config), "--read-only")
    shots = artifacts(request)
    try:
        log = (tmp_path / "serve.log").read_text()
        room = log.split("the room's answers to lesson questions are in ")[1].split()[0]
        assert stat.S_ISDIR(os.stat(room).st_mode) and stat.S_IMODE(os.stat(room).st_mode) == 0o700
        async with async_playwright() as playwright:
            browser = await launch(playwright)
            tabs = [await open_tab(browser, served.url) for _ in range(2)]
            for number, tab in enumerate(tabs, 1):
                await wait_for_screen(tab, "node3", "leader node1", "3/3 up")
                await press(tab, "Control+p")
                for key in "served question":
                    await press(tab, key if key != " " else "Space")
                await wait_for_screen(tab, "Lesson A: a served question.")
                await press(tab, "Enter")
                await wait_for_screen(tab, "Which node leads now?", "1…4 answers")
                await press(tab, str(number))  # the first tab says node1, the second node2
                seats = "1 seat" if number == 1 else "2 seats"
                text = await wait_for_screen(tab, f"The room, {seats} answered")
                await shot(tab, shots, f"8-tab-{number}-answered")
                verdict = "right" if number == 1 else "wrong"
                assert f"You answered node{number}: {verdict}, the answer was node1" in text
            # Each tab its own seat: the second saw both answers, the first's among them.
            assert "node1 1 ✓, node2 1, node3 0, nobody 0" in text, text
            assert len([f for f in os.listdir(room) if f.endswith(".answer")]) == 2
            await browser.close()
        assert served.stop() == 0
        with pytest.raises(FileNotFoundError):  # serving stopped: the room is removed
            os.stat(room)
    finally:
        if served.process.poll() is None:
            served.process.kill()
            served.process.wait()
