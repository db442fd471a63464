"""TLS on every link (#18): a cluster started with ``security.tls`` from ``engine.tls dev-certs``.

https works with the CA and fails, in one line, without it; plain HTTP and plain TCP into TLS
ports get nothing; a peer or a client with a certificate of another CA is refused while the
cluster keeps serving; a rotated certificate is served without restarting anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pexpect
import pytest
import yaml
from cryptography import x509
from textual.widgets import Input

from bench.lib.cluster import start_cluster as start_cluster_from
from console.ops.operations import Operations
from console.ops.session import SessionError, SessionOptions
from console.tui.app import GateConsole
from console.tui.feed.panel import FeedPanel
from engine.client import GateClient, GateError, TlsError
from engine.config import ConfigError, dump_config, load_config, parse_config
from engine.config_model import TlsConfig, TlsIdentity
from engine.exposure import insecure_reasons
from engine.gateway.supervisor import logs_dir
from engine.tls import DevCerts, ProcessTls, client_context, make_dev_certs
from engine.transport.preflight import GatewayRunning, check_ports
from tests.cluster_harness import (
    RunningCluster,
    cluster_config,
    free_ports,
    start_by_hand,
    wait_for,
    write_config,
)
from tests.console.script_runs import ROOT, run_script
from tests.raw_wire import frame

EVENT = {"event_type": "t", "data": {"n": 1}}


def tls_section(certs: DevCerts, *, client_auth: bool = False) -> dict[str, Any]:
    return {
        "ca": str(certs.ca),
        "cert": str(certs.gateway.cert),
        "key": str(certs.gateway.key),
        "clientAuth": client_auth,
        "nodes": {n: {"cert": str(own.cert), "key": str(own.key)} for n, own in certs.nodes},
    }


def dev_certs(directory: Path, raw: dict[str, Any]) -> DevCerts:
    """``python -m engine.tls dev-certs`` for the config ``raw``, as a user would run it."""
    config = directory / "for-certs.yaml"
    write_config(directory, raw).rename(config)
    command = ["engine.tls", "dev-certs", str(directory / "certs"), "--config", str(config)]
    done = subprocess.run(
        [sys.executable, "-m", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "security:\n  tls:\n" in done.stdout, done.stdout
    return make_dev_certs_paths(directory / "certs", raw)


def make_dev_certs_paths(directory: Path, raw: dict[str, Any]) -> DevCerts:
    """The files dev-certs wrote in ``directory`` for the nodes of ``raw``."""

    def own(name: str) -> TlsIdentity:
        return TlsIdentity(directory / f"{name}.pem", directory / f"{name}-key.pem")

    nodes = tuple((n, own(n)) for n in raw["nodes"])
    return DevCerts(directory / "ca.pem", own("gateway"), nodes, own("client"))


async def served_serial(port: int, ca: Path, *, cert: Path | None = None) -> int:
    """The serial number of the certificate the TLS listener on ``port`` serves now."""
    context = client_context(ca, cert, cert.with_name(cert.stem + "-key.pem") if cert else None)
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        peer = writer.get_extra_info("ssl_object").getpeercert()
        return int(peer["serialNumber"], 16)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def plain_bytes_get(port: int, data: bytes) -> bytes:
    """Send ``data`` in clear on a new connection; every byte that comes back until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got = b""
    try:
        writer.write(data)
        async with asyncio.timeout(15):
            while chunk := await reader.read(4096):
                got += chunk
    except ConnectionError:
        pass
    finally:
        writer.close()
    return got


# --- without processes --------------------------------------------------------------------------


def test_dev_certs_name_the_hosts_and_keep_the_ca(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path)
    raw["nodes"]["node2"]["tcp"]["host"] = "0.0.0.0"
    config = load_config(write_config(tmp_path, raw))
    first = make_dev_certs(tmp_path / "certs", config)

    def sans(path: Path) -> list[str]:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return [str(name.value) for name in alt]

    node1 = dict(first.nodes)["node1"]
    assert sans(node1.cert) == ["127.0.0.1", "localhost", "::1"]
    assert "localhost" in sans(dict(first.nodes)["node2"].cert)
    assert os.stat(node1.key).st_mode & 0o077 == 0, "private keys are private"
    ca = first.ca.read_bytes()
    serial = x509.load_pem_x509_certificate(node1.cert.read_bytes()).serial_number
    again = make_dev_certs(tmp_path / "certs", config)
    assert again.ca.read_bytes() == ca, "a second run keeps the CA: a rotation"
    assert x509.load_pem_x509_certificate(node1.cert.read_bytes()).serial_number != serial


def test_tls_config_is_typed_and_checked(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path)
    raw["security"] = {"tls": {"ca": "ca.pem", "cert": "g.pem", "key": "g-key.pem"}}
    config = parse_config(raw, "c.yaml")
    tls = config.security.tls
    assert isinstance(tls, TlsConfig) and tls.ca.is_absolute() and not tls.client_auth
    assert tls.identity("node1").cert == tls.cert, "a node without its own uses the shared one"
    raw["security"]["tls"]["nodes"] = {"node2": {"cert": "n2.pem", "key": "n2-key.pem"}}
    config = parse_config(raw, "c.yaml")
    assert config.security.tls is not None
    assert config.security.tls.identity("node2").cert.name == "n2.pem"
    assert parse_config(yaml.safe_load(dump_config(config)), "c.yaml") == config
    for broken, key in (
        ({"cert": "a", "key": "b"}, "security.tls.ca"),
        ({"ca": "a", "cert": "a", "key": "b", "nodes": {"node9": {}}}, "security.tls.nodes.node9"),
        ({"ca": "a", "cert": "a", "key": "b", "clientAuth": "yes"}, "security.tls.clientAuth"),
    ):
        raw["security"]["tls"] = broken
        with pytest.raises(ConfigError) as info:
            parse_config(raw, "c.yaml")
        assert info.value.key == key, str(info.value)


def test_insecure_reasons_name_each_risk(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path)
    assert insecure_reasons(parse_config(raw, "c.yaml")) == [], "loopback is not exposed"
    raw["gateway"]["http"]["host"] = "0.0.0.0"
    raw["nodes"]["node1"]["tcp"]["host"] = "0.0.0.0"
    reasons = insecure_reasons(parse_config(raw, "c.yaml"))
    assert len(reasons) == 3, reasons
    assert "without a token" in reasons[0] and "kill nodes" in reasons[0]
    assert "clear text" in reasons[1] and "node1's TCP" in reasons[2]
    config = parse_config(raw, "c.yaml")
    assert insecure_reasons(config, config.node("node2")) == []
    raw["security"] = {
        "authToken": "t",
        "tls": {"ca": "ca.pem", "cert": "g.pem", "key": "g-key.pem"},
    }
    assert insecure_reasons(parse_config(raw, "c.yaml")) == []


def test_a_client_with_a_missing_ca_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(TlsError) as info:
        GateClient("https://127.0.0.1:1", ca=str(tmp_path / "nope.pem"))
    assert str(info.value) == f"{tmp_path / 'nope.pem'}: CA file not found"


async def test_a_reload_takes_a_new_pair_and_refuses_a_mismatched_one(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path, 1)
    config = load_config(write_config(tmp_path, raw))
    certs = make_dev_certs(tmp_path / "certs", config)
    node = dict(certs.nodes)["node1"]
    tls = ProcessTls(TlsConfig(node.cert, node.key, certs.ca), None)
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=tls.server)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    try:
        before = await served_serial(port, certs.ca)
        old_key = node.key.read_bytes()
        make_dev_certs(tmp_path / "certs", config)
        new_key = node.key.read_bytes()
        node.key.write_bytes(old_key)  # the new certificate with the old key: half a rotation
        assert not tls.reload_logged("test")
        assert await served_serial(port, certs.ca) == before, "the old pair stays in use"
        # SIGHUP alone (the file watcher stopped) loads the whole new pair.
        watcher = tls.start_reloading()
        watcher.cancel()
        node.key.write_bytes(new_key)
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_for(
            lambda: served_serial(port, certs.ca), lambda s: s != before, 10, "the new cert"
        )
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        server.close()


# --- a cluster with TLS -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningCluster, DevCerts]]:
    """Three nodes and a gateway with TLS, the gateway on every interface and without a token."""
    directory = tmp_path_factory.mktemp("tls")
    raw = cluster_config(directory)
    raw["gateway"]["http"]["host"] = "0.0.0.0"
    certs = dev_certs(directory, raw)
    raw["security"] = {"tls": tls_section(certs)}
    cluster = asyncio.run(start_cluster_from(directory, raw))
    try:
        yield cluster, certs
    finally:
        asyncio.run(cluster.embedded.stop())


@pytest.mark.slow
async def test_https_works_with_the_ca_and_fails_in_one_line_without(
    tls_cluster: tuple[RunningCluster, DevCerts],
) -> None:
    cluster, certs = tls_cluster
    assert cluster.url.startswith("https://")
    async with cluster.new_client() as client:
        appended = await client.append("reg_gh", "tls-s", [EVENT])
        page = await client.read_stream("reg_gh", "tls-s")
        assert [e["data"] for e in page["events"]] == [EVENT["data"]]
        async with asyncio.timeout(20):  # the observe WebSocket over wss://
            async for message in client.observe("reg_gh", {"by_stream": "$tls-s"}, from_position=0):
                if message["type"] == "events":
                    assert message["events"][-1]["position"] == appended["position"]
                    break
        view = await client.cluster()
        # Bound to 0.0.0.0 with TLS but no token: exactly the token risk is listed.
        assert len(view["insecure"]) == 1 and "without a token" in view["insecure"][0]
        log = cluster.embedded.log_file.read_text()
        assert f"insecure: {view['insecure'][0]} (--insecure-ok if" in log, "warned at start"
        assert (await cluster.node_get("node2", "/health"))["status"] == "ok"
    for options in ({}, {"ca": str(dict(certs.nodes)["node1"].cert)}):
        async with GateClient(cluster.url, retry_deadline=0, **options) as stranger:
            with pytest.raises(GateError) as info:
                await stranger.list_stores()
        message = info.value.message
        assert info.value.code == "tls_failed" and "\n" not in message
        assert "certificate is not trusted" in message and "(--ca)" in message, message
    async with GateClient(cluster.url.replace("https", "http"), retry_deadline=0) as plain:
        with pytest.raises(GateError) as info:
            await plain.list_stores()
        assert info.value.code == "unavailable"
    # A console started on the same config finds the running gateway over https.
    with pytest.raises(GatewayRunning, match=r"--connect https://127\.0\.0\.1:"):
        check_ports(cluster.config, attach="gate-repl")
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    gateway_port = cluster.config.gateway.http.port
    for port in (gateway_port, cluster.config.node("node1").http.port):
        got = await plain_bytes_get(port, request)
        assert b"HTTP/" not in got and b"ok" not in got, got


@pytest.mark.slow
async def test_node_tls_ports_refuse_plain_tcp_and_the_cluster_keeps_serving(
    tls_cluster: tuple[RunningCluster, DevCerts],
) -> None:
    cluster, certs = tls_cluster
    for node_id in ("node1", "node2"):
        port = cluster.config.node(node_id).tcp.port
        got = await plain_bytes_get(port, frame({"op": "ping", "id": 1}))
        assert b"pong" not in got, got
        # A TLS client that trusts another CA does not take the node for a peer either.
        context = client_context(ca=certs.gateway.cert)  # a leaf, not the CA: verifies nothing
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection("127.0.0.1", port, ssl=context)
    async with cluster.new_client() as client:
        await client.append("reg_gh", "after-plain", [EVENT])
        view = await client.cluster()
        assert all(n["tcp"]["up"] for n in view["nodes"])


def _repl_at_a_pty(url: str, ca: Path, home: Path) -> tuple[int | None, str]:
    """gate-repl at a real pty, attached over https: its status, then option 15."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GATE_AUTH_TOKEN")}
    env.update(PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(home), TERM="xterm")
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"  # pexpect does not answer a cursor-position request
    child = pexpect.spawn(
        sys.executable,
        ["-m", "console.repl", "--connect", url, "--ca", str(ca)],
        env=env,
        dimensions=(40, 120),
        encoding="utf-8",
        codec_errors="replace",
        timeout=60,
    )
    screen = (home / "screen.txt").open("w", encoding="utf-8")  # what it showed, to debug
    child.logfile_read = screen
    try:
        child.expect_exact(f"Gateway: {url}")
        child.expect_exact("Select an option")
        child.send("14\r")  # Get Cluster Status: a request over https
        child.expect(r"Leader: node\d")
        seen = child.before or ""
        child.expect_exact("Select an option")
        child.send("15\r")
        child.expect(pexpect.EOF)
        return child.wait(), seen
    finally:
        if child.isalive():
            child.terminate(force=True)
        screen.close()


@pytest.mark.slow
async def test_the_consoles_and_the_producer_speak_tls(
    tls_cluster: tuple[RunningCluster, DevCerts], tmp_path: Path
) -> None:
    cluster, certs = tls_cluster
    url = cluster.url
    status, seen = await asyncio.to_thread(_repl_at_a_pty, url, certs.ca, tmp_path)
    assert status == 0 and "Traceback" not in seen
    refused = await run_script(["--connect", url], "15\n", tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stdout + refused.stderr
    assert refused.stderr.startswith(f"gate-repl: cannot reach a Gate gateway at {url}: ")
    assert "(--ca)" in refused.stderr and len(refused.stderr.splitlines()) == 1
    # gate-console's app in-process: an observer over wss:// sees a producer's events.
    with pytest.raises(SessionError, match=r"not trusted .*\(--ca\)$"):
        await Operations.open(SessionOptions(connect=url), seed=7)
    ops = await Operations.open(
        SessionOptions(connect=url, ca=str(certs.ca)), seed=7, health_interval=0.2
    )
    try:
        app = GateConsole(ops, blink=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("3", "n")
            await wait_for(
                lambda: pilot.pause(0.05), lambda _: isinstance(app.screen.focused, Input), 15
            )
            await pilot.press("enter")
            await wait_for(
                lambda: pilot.pause(0.05), lambda _: "reg_gh:$all" in ops.observers.names(), 15
            )
            await pilot.press("4", "n")
            await wait_for(
                lambda: pilot.pause(0.05), lambda _: isinstance(app.screen.focused, Input), 15
            )
            await pilot.press("enter")
            await wait_for(
                lambda: pilot.pause(0.05),
                lambda _: any(
                    line.text.startswith('SEEN ["greenhouse-')
                    for line in app.query_one(FeedPanel).retained
                ),
                30,
                "producer events in the console's feed",
            )
            await pilot.press("ctrl+q")
    finally:
        await ops.close()
    produce = [sys.executable, "-m", "domain.greenhouse.produce_cli", "--connect", url]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = await asyncio.to_thread(
        subprocess.run,
        [*produce, "--ca", str(certs.ca), "--producers", "1", "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    done = await asyncio.to_thread(
        subprocess.run, produce, capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"gate-produce: cannot reach the gateway at {url}: ")


@pytest.mark.slow
async def test_a_rotated_certificate_is_served_without_restarting_anything(
    tls_cluster: tuple[RunningCluster, DevCerts],
) -> None:
    cluster, certs = tls_cluster
    config = cluster.config
    ports = [config.gateway.http.port] + [
        port for n in config.nodes for port in (n.http.port, n.tcp.port)
    ]
    async with cluster.new_client() as client:
        before = [await served_serial(port, certs.ca) for port in ports]
        pids = [await cluster.node_pid(n) for n in config.node_ids]
        await client.append("reg_gh", "rotation", [EVENT])  # a keep-alive connection, kept open
        await asyncio.to_thread(make_dev_certs, certs.ca.parent, config)
        after = await wait_for(
            lambda: asyncio.gather(*(served_serial(port, certs.ca) for port in ports)),
            lambda serials: all(a != b for a, b in zip(serials, before, strict=True)),
            15,
            "every listener to serve its new certificate",
        )
        assert len(set(after)) == 1 + len(config.nodes), "a node's HTTP and TCP share its own"
        assert [await cluster.node_pid(n) for n in config.node_ids] == pids
        assert cluster.embedded.process is not None and cluster.embedded.process.poll() is None
        # The links opened before (gateway->leader, leader->followers) still replicate, and
        # new ones verify the new certificates.
        await client.append("reg_gh", "rotation", [EVENT], expected_version=0)
        view = await client.cluster()
        assert all(n["tcp"]["up"] and n["lag"] == 0 for n in view["nodes"]), view


@pytest.mark.slow
async def test_sighup_to_the_real_gateway_and_nodes_rotates_their_certificates(
    tls_cluster: tuple[RunningCluster, DevCerts],
) -> None:
    cluster, certs = tls_cluster
    config = cluster.config
    logs = {"gateway": cluster.embedded.log_file} | {
        n: logs_dir(config) / f"{n}.log" for n in config.node_ids
    }

    def reloads_on_sighup() -> dict[str, int]:  # each process logs why it reloaded
        return {
            name: sum(
                "reloaded its certificate" in line and line.endswith(" (SIGHUP)")
                for line in path.read_text(errors="replace").splitlines()
            )
            for name, path in logs.items()
        }

    ports = [config.gateway.http.port] + [config.node(n).tcp.port for n in config.node_ids]
    async with cluster.new_client() as client:
        before = [await served_serial(port, certs.ca) for port in ports]
        pids = {n: await cluster.node_pid(n) for n in config.node_ids}
        pids["gateway"] = cluster.gateway_pid
        sighups = reloads_on_sighup()
        await asyncio.to_thread(make_dev_certs, certs.ca.parent, config)
        for pid in pids.values():  # what a teacher's cron job does after renewing certificates
            os.kill(pid, signal.SIGHUP)
        await wait_for(
            lambda: asyncio.sleep(0, reloads_on_sighup()),
            lambda now: all(now[name] > sighups[name] for name in logs),
            15,
            "every process to log its SIGHUP reload",
        )
        after = [await served_serial(port, certs.ca) for port in ports]
        assert all(a != b for a, b in zip(after, before, strict=True)), "new certificates"
        assert after == [
            x509.load_pem_x509_certificate(path.read_bytes()).serial_number
            for path in [certs.gateway.cert] + [dict(certs.nodes)[n].cert for n in config.node_ids]
        ], "each listener serves the files as they are now"
        assert {n: await cluster.node_pid(n) for n in config.node_ids} == {
            n: pid for n, pid in pids.items() if n != "gateway"
        }, "the same node processes"
        assert cluster.embedded.process is not None and cluster.embedded.process.poll() is None
        await client.append("reg_gh", "sighup", [EVENT])
        view = await client.cluster()
        assert all(n["tcp"]["up"] for n in view["nodes"]), view
        await wait_for(client.cluster, lambda v: all(n["lag"] == 0 for n in v["nodes"]), 15)


# --- TLS and roles together: the "what it must show" ----------------------------------

ROLE_TOKENS = {"reader": "reader-secret", "writer": "writer-secret", "admin": "admin-secret"}


def _reader_repl_refuses_a_kill(url: str, ca: Path, home: Path) -> str:
    """gate-repl at a real pty over https with the reader's token (from its environment, not
    ``ps``): its banner's role, then option 18 (Kill Node) typed anyway; what it showed."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(home), TERM="xterm")
    env.update(PROMPT_TOOLKIT_NO_CPR="1", GATE_AUTH_TOKEN=ROLE_TOKENS["reader"])
    child = pexpect.spawn(
        sys.executable,
        ["-m", "console.repl", "--connect", url, "--ca", str(ca)],
        env=env,
        dimensions=(40, 120),
        encoding="utf-8",
        codec_errors="replace",
        timeout=60,
    )
    home.mkdir(exist_ok=True)
    screen = (home / "screen.txt").open("w", encoding="utf-8")  # what it showed, to debug
    child.logfile_read = screen
    try:
        child.expect_exact("🔑 As reader (reader-1)")
        child.expect_exact("Select an option")
        assert "Kill Node" not in (child.before or ""), "a reader's menu has no node actions"
        child.send("18\r")
        child.expect(r"❌ [^\r\n]*")  # the refusal: one line
        refusal = str(child.after)
        child.expect_exact("Select an option")  # and the menu carries on
        child.send("15\r")
        child.expect(pexpect.EOF)
        assert child.wait() == 0
        return refusal
    finally:
        if child.isalive():
            child.terminate(force=True)
        screen.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_cluster_with_tls_and_three_tokens(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path)
    certs = dev_certs(tmp_path, raw)
    raw["security"] = {
        "tls": tls_section(certs),
        "tokens": [
            {"name": f"{role}-1", "token": token, "role": role}
            for role, token in ROLE_TOKENS.items()
        ],
    }
    cluster = await start_cluster_from(tmp_path, raw)
    trusted = client_context(certs.ca)
    try:
        url = cluster.url
        assert url.startswith("https://")

        async def status(
            method: str, path: str, role: str | None, body: Any = None, *, at: str = url
        ) -> int:
            token = {**ROLE_TOKENS, "stranger": "guess"}.get(role or "")
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with (
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusted)) as http,
                http.request(method, at + path, json=body, headers=headers) as response,
            ):
                answer = await response.json()
            if response.status in (401, 403):  # the API's error body, naming what is needed
                code = {401: "unauthorized", 403: "forbidden"}[response.status]
                assert answer["error"]["code"] == code, answer
            return response.status

        # https works with the CA and fails without it; plain HTTP to the port gets nothing.
        async with GateClient(url, ca=str(certs.ca), token=ROLE_TOKENS["reader"]) as reader:
            assert (await reader.whoami())["role"] == "reader"
        async with GateClient(url, token=ROLE_TOKENS["admin"], retry_deadline=0) as blind:
            with pytest.raises(GateError) as info:
                await blind.list_stores()
        assert info.value.code == "tls_failed" and "(--ca)" in info.value.message
        port = cluster.config.gateway.http.port
        got = await plain_bytes_get(port, b"GET /api/stores HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"HTTP/" not in got and b"reg_gh" not in got, got

        # Each role exactly its rights, spot-checked (the whole table: test_roles_cluster).
        append = {"events": [EVENT]}
        events = "/api/stores/reg_gh/streams/roles/events"
        kill = "/api/cluster/nodes/node9/kill"  # no such node: an admin gets 404, nothing killed
        store = {"store_id": "classroom"}
        assert [await status("GET", "/api/stores", r) for r in (None, "stranger", "reader")] == [
            401,
            401,
            200,
        ]
        assert await status("POST", events, "reader", append) == 403
        assert await status("POST", events, "writer", append) == 200
        assert await status("GET", events, "writer") == 200
        assert await status("POST", "/api/stores", "writer", store) == 403
        assert await status("POST", kill, "writer") == 403
        assert await status("POST", kill, "reader") == 403
        assert await status("POST", kill, "admin") == 404
        assert await status("POST", "/api/stores", "admin", store) == 201
        assert await status("GET", "/metrics", None) == 401
        # A node's own HTTP port: TLS and the same tokens.
        node = cluster.node_url("node2")
        assert node.startswith("https://")
        assert await status("GET", "/status", None, at=node) == 401
        assert await status("GET", "/status", "reader", at=node) == 200

        # The menu shell over TLS with the reader's token: its role, and a kill refused.
        pids = [await cluster.node_pid(n) for n in cluster.config.node_ids]
        refusal = await asyncio.to_thread(
            _reader_repl_refuses_a_kill, url, certs.ca, tmp_path / "repl"
        )
        assert refusal.startswith(
            "❌ Option 18: Kill Node needs the admin role; this console runs as reader"
        ), refusal
        assert [await cluster.node_pid(n) for n in cluster.config.node_ids] == pids, "none killed"
    finally:
        await cluster.embedded.stop()


# --- mutual TLS ---------------------------------------------------------------------------------


@pytest.mark.slow
async def test_mutual_tls_refuses_strangers_and_a_peer_of_another_ca(tmp_path: Path) -> None:
    raw = cluster_config(tmp_path)
    certs = dev_certs(tmp_path, raw)
    raw["security"] = {"tls": tls_section(certs, client_auth=True), "clusterSecret": "s"}
    stranger_dir = tmp_path / "stranger"
    stranger_dir.mkdir()
    strange = make_dev_certs(stranger_dir / "certs", load_config(write_config(stranger_dir, raw)))
    # node1 reaches "node3" at an impostor with a certificate of another CA.
    handshakes: list[object] = []
    impostor_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    own = dict(strange.nodes)["node3"]
    impostor_tls.load_cert_chain(own.cert, own.key)

    async def impostor_serves(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handshakes.append(writer)  # only a finished TLS handshake gets here
        writer.close()

    (impostor_port,) = free_ports(1)
    impostor = await asyncio.start_server(
        impostor_serves, "127.0.0.1", impostor_port, ssl=impostor_tls
    )
    hand = await start_by_hand(tmp_path, raw, routes={"node1": {"node3": impostor_port}})
    try:
        async with hand.client() as client:
            await client.append("reg_gh", "mtls", [EVENT])
        # No client certificate, or one of another CA: refused, in one line.
        for options in (
            {"ca": str(certs.ca)},
            {"ca": str(certs.ca), "cert": str(strange.client.cert), "key": str(strange.client.key)},
        ):
            async with GateClient(hand.url, retry_deadline=0, **options) as stranger:
                with pytest.raises(GateError) as info:
                    await stranger.list_stores()
            assert info.value.code == "tls_failed" and "\n" not in info.value.message
        # Straight into a node's TCP port with a certificate of another CA: no frame answered.
        context = client_context(certs.ca, strange.client.cert, strange.client.key)
        port = hand.tcp_port("node2")
        got = b""
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
            writer.write(frame({"op": "ping", "id": 1}))
            async with asyncio.timeout(10):
                got = await reader.read(4096)
        assert b"pong" not in got
        await wait_for(
            lambda: asyncio.sleep(0, hand.log("node1")),
            lambda log: "cannot link to peer node3" in log and "certificate verify failed" in log,
            20,
            "node1 to refuse the impostor",
        )
        assert handshakes == [], "node1 finished a handshake with a peer of another CA"
        async with hand.client() as client:  # the cluster keeps serving
            await client.append("reg_gh", "mtls", [EVENT], expected_version=0)
    finally:
        hand.stop()
        impostor.close()
