"""TLS for every link of a cluster (``security.tls``, docs/ENGINE.md, "TLS"), and dev certificates.

``ProcessTls`` holds the two contexts of one gateway or node: ``server`` for its listeners (HTTP
and the node TCP port; with ``clientAuth`` it asks for a certificate signed by ``ca``) and
``client`` for the links it opens to nodes (it verifies the node's certificate against ``ca`` and
its host name, and shows the process's own certificate). ``reload()`` loads the certificate and
key again into those same contexts: connections already open keep the old certificate, new ones
get the new, and nothing is dropped. ``watch()`` reloads when the files change; the programs
also reload on SIGHUP.

``client_context`` is what ``GateClient`` uses for ``https://`` and ``wss://``;
``ReloadingCertificate`` alone is the served console page's (``gate-console --serve``).

Make a local CA and certificates for every node and the gateway of a config::

    python -m engine.tls dev-certs DIR [--config FILE]

Run it again on the same DIR to issue new certificates from the same CA (a rotation: the running
processes pick them up). Library code raises :class:`TlsError`; only ``main`` exits.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import ipaddress
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.config import ConfigError, load_config, load_default_config
from engine.config_model import ClusterConfig, TlsConfig, TlsIdentity

log = logging.getLogger("gate.tls")
WATCH_INTERVAL = 1.0  # seconds between two looks at the certificate files
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WILDCARDS = ("0.0.0.0", "::", "")


class TlsError(Exception):
    """A certificate, key or CA that cannot be used; the message is one line."""


def _load_chain(context: ssl.SSLContext, identity: TlsIdentity) -> None:
    try:
        context.load_cert_chain(identity.cert, identity.key)
    except FileNotFoundError as exc:
        # ssl does not always say which file: the first one missing.
        missing = exc.filename or next(
            (p for p in (identity.cert, identity.key) if not Path(p).exists()), identity.cert
        )
        raise TlsError(f"{missing}: file not found") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(
            f"cannot use the certificate {identity.cert} with the key {identity.key}: "
            f"{_reason(exc)}"
        ) from None


def _load_ca(context: ssl.SSLContext, ca: str | Path) -> None:
    try:
        context.load_verify_locations(cafile=ca)
    except FileNotFoundError:
        raise TlsError(f"{ca}: CA file not found") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"{ca}: not a usable CA certificate: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def client_context(
    ca: str | Path | None = None, cert: str | Path | None = None, key: str | Path | None = None
) -> ssl.SSLContext:
    """A context that verifies a server against ``ca`` (the system's CAs when None) and its
    host name, showing ``cert``/``key`` when given (mutual TLS)."""
    context = ssl.create_default_context()
    if ca is not None:
        _load_ca(context, ca)
    if cert is not None or key is not None:
        if cert is None:
            raise TlsError("a client key needs its certificate (--cert)")
        _load_chain(context, TlsIdentity(Path(cert), Path(key or cert)))
    return context


def server_context() -> ssl.SSLContext:
    """A listener's context, TLS 1.2 at least, its certificate not loaded yet (a
    :class:`ReloadingCertificate` loads it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def describe_connect_error(exc: BaseException, *, hint: bool = True) -> str:
    """A one-line reason for a failed TLS connection; ``hint``: with the option a user of a
    command line would pass (a cluster's own links have none)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or "certificate verify failed"
        fix = "; pass the cluster's CA (--ca)" if hint else ""
        return f"the server's certificate is not trusted ({why}){fix}"
    if isinstance(exc, ssl.SSLError):
        reason = _reason(exc)
        if hint and ("certificate required" in reason or "handshake failure" in reason):
            return f"TLS refused ({reason}): the server may want a client certificate (--cert)"
        return f"TLS failed: {reason}"
    return str(exc)


@dataclass(frozen=True, slots=True)
class _Signature:
    files: tuple[tuple[int, int, int], ...]


class ReloadingCertificate:
    """A certificate and key loaded into ``contexts``, and loaded again into the same contexts
    on SIGHUP or when the files change (``name``: whose, in the log). Raises TlsError."""

    def __init__(
        self, identity: TlsIdentity, name: str, contexts: Sequence[ssl.SSLContext]
    ) -> None:
        self.identity = identity
        self.name = name
        self.contexts = tuple(contexts)
        self._signature = self._files_signature()
        self.reload()

    def _files_signature(self) -> _Signature | None:
        try:
            stats = [os.stat(p) for p in (self.identity.cert, self.identity.key)]
        except OSError:
            return None
        return _Signature(tuple((s.st_ino, s.st_size, s.st_mtime_ns) for s in stats))

    def reload(self) -> None:
        """Load the certificate and key again; new connections use them.

        They are tried on a scratch context first: a pair caught half-rewritten (the new
        certificate, the old key) leaves the live contexts as they were. Raises TlsError.
        """
        _load_chain(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), self.identity)
        for context in self.contexts:
            _load_chain(context, self.identity)

    def reload_logged(self, why: str) -> bool:
        """``reload`` that logs its outcome instead of raising (a bad file keeps the old one)."""
        try:
            self.reload()
        except TlsError as exc:
            log.warning("%s: kept the previous certificate (%s): %s", self.name, why, exc)
            return False
        log.info("%s: reloaded its certificate %s (%s)", self.name, self.identity.cert, why)
        return True

    def start_reloading(self) -> asyncio.Task[None]:
        """Reload on SIGHUP and, in the task returned, whenever the files change."""
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload_logged, "SIGHUP")
        return asyncio.create_task(self.watch(), name=f"tls-watch-{self.name}")

    async def watch(self, interval: float = WATCH_INTERVAL) -> None:
        """Reload whenever the certificate or key file changes, until cancelled."""
        while True:
            await asyncio.sleep(interval)
            signature = self._files_signature()
            # Remembered only once loaded: a pair caught mid-rotation is tried again.
            changed = signature is not None and signature != self._signature
            if changed and self.reload_logged("the files changed"):
                self._signature = signature


class ProcessTls(ReloadingCertificate):
    """The server and client contexts of one process (``node_id`` None: the gateway)."""

    def __init__(self, tls: TlsConfig, node_id: str | None) -> None:
        self.tls = tls
        self.server = server_context()
        if tls.client_auth:
            self.server.verify_mode = ssl.CERT_REQUIRED
            _load_ca(self.server, tls.ca)
        self.client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies peer and host name
        self.client.minimum_version = ssl.TLSVersion.TLSv1_2
        _load_ca(self.client, tls.ca)
        super().__init__(tls.identity(node_id), node_id or "gateway", (self.server, self.client))


def process_tls(config: ClusterConfig, node_id: str | None) -> ProcessTls | None:
    """The contexts of a process of ``config``, or None without ``security.tls``."""
    tls = config.security.tls
    return None if tls is None else ProcessTls(tls, node_id)


# --- dev certificates ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DevCerts:
    """What ``make_dev_certs`` wrote: the CA, the gateway's, each node's, and a client's."""

    ca: Path
    gateway: TlsIdentity
    nodes: tuple[tuple[str, TlsIdentity], ...]
    client: TlsIdentity

    def yaml_snippet(self, client_auth: bool = False) -> str:
        lines = [
            "security:",
            "  tls:",
            f"    ca: {self.ca}",
            f"    cert: {self.gateway.cert}",
            f"    key: {self.gateway.key}",
            f"    clientAuth: {'true' if client_auth else 'false'}",
            "    nodes:",
        ]
        for node_id, own in self.nodes:
            lines.append(f"      {node_id}: {{cert: {own.cert}, key: {own.key}}}")
        return "\n".join(lines) + "\n"


def _hosts(*hosts: str) -> list[str]:
    names: list[str] = []
    for host in hosts:
        # A wildcard bind is reached by this machine's name as well as loopback.
        for name in (socket.gethostname(),) if host in _WILDCARDS else (host,):
            if name not in names:
                names.append(name)
    return names + [n for n in _LOOPBACK_NAMES if n not in names]


def make_dev_certs(directory: Path, config: ClusterConfig) -> DevCerts:
    """A local CA in ``directory`` (kept if it is there) and fresh certificates signed by it for
    the gateway, every node (for its hosts and loopback) and a client. Raises TlsError."""
    from cryptography import x509  # only here: servers never need it
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Gate dev CA"),
                x509.NameAttribute(NameOID.COMMON_NAME, common),
            ]
        )

    def write(path: Path, data: bytes, private: bool) -> None:
        # Written aside and renamed, so a watching process never reads half a file.
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)

    def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    try:
        directory.mkdir(parents=True, exist_ok=True)
        ca_cert_path, ca_key_path = directory / "ca.pem", directory / "ca-key.pem"
        if ca_cert_path.exists() and ca_key_path.exists():
            ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
            loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise TlsError(f"{ca_key_path}: not the EC key dev-certs makes")
            ca_key = loaded
        else:
            ca_key = ec.generate_private_key(ec.SECP256R1())
            ca_cert = (
                x509.CertificateBuilder()
                .subject_name(name("Gate dev CA"))
                .issuer_name(name("Gate dev CA"))
                .public_key(ca_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        key_cert_sign=True,
                        crl_sign=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .sign(ca_key, hashes.SHA256())
            )
            write(ca_key_path, pem_key(ca_key), True)
            write(ca_cert_path, ca_cert.public_bytes(serialization.Encoding.PEM), False)

        def issue(label: str, hosts: Sequence[str]) -> TlsIdentity:
            key = ec.generate_private_key(ec.SECP256R1())
            alt: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    alt.append(x509.DNSName(host))
            cert = (
                x509.CertificateBuilder()
                .subject_name(name(label))
                .issuer_name(ca_cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(
                    # Every process is a server and, on the links it opens, a client.
                    x509.ExtendedKeyUsage(
                        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                    ),
                    critical=False,
                )
                .sign(ca_key, hashes.SHA256())
            )
            own = TlsIdentity(directory / f"{label}.pem", directory / f"{label}-key.pem")
            write(own.key, pem_key(key), True)
            write(own.cert, cert.public_bytes(serialization.Encoding.PEM), False)
            return own

        gateway = issue("gateway", _hosts(config.gateway.http.host))
        nodes = tuple(
            (n.node_id, issue(n.node_id, _hosts(n.http.host, n.tcp.host))) for n in config.nodes
        )
        client = issue("client", ["client"])
    except OSError as exc:
        raise TlsError(
            f"{directory}: cannot write the certificates: {exc.strerror or exc}"
        ) from None
    except ValueError as exc:  # an unreadable CA file
        raise TlsError(f"{directory}: cannot read the CA: {exc}") from None
    return DevCerts(ca_cert_path, gateway, nodes, client)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m engine.tls dev-certs DIR [--config FILE]``."""
    parser = argparse.ArgumentParser(
        prog="python -m engine.tls",
        description="TLS helpers for Gate.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser(
        "dev-certs",
        help="make a local CA and certificates for the gateway and every node of a config",
        description="Make a local CA (kept if DIR has one) and certificates signed by it for\n"
        "the gateway, every node of the config (their hosts, 127.0.0.1, ::1, localhost) and\n"
        "a client (for clientAuth), then print the security.tls snippet of the config.\n"
        "Run it again to rotate the certificates: running processes reload them.",
        epilog="example:\n  python -m engine.tls dev-certs certs --config cluster.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dev.add_argument("dir", help="where to write the PEM files")
    dev.add_argument("--config", help="the cluster config (default: the bundled one)")
    dev.add_argument(
        "--client-auth", action="store_true", help="print clientAuth: true (mutual TLS)"
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config) if args.config else load_default_config()
        certs = make_dev_certs(Path(args.dir).resolve(), config)
    except (ConfigError, TlsError) as exc:
        print(f"python -m engine.tls: {exc}", file=sys.stderr)
        return 2
    print(f"# Add to {config.source} (CA {certs.ca}; a client certificate for clientAuth:")
    print(f"#   --ca {certs.ca} --cert {certs.client.cert} --key {certs.client.key})")
    print(certs.yaml_snippet(args.client_auth), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
