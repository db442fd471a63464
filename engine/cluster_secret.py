"""The cluster secret that signs the node TCP traffic: always there once a program runs.

It comes from ``security.clusterSecret`` (or ``GATE_CLUSTER_SECRET``) when the config names one;
otherwise from ``<storage.dataDir>/cluster.secret``, which a gateway that starts its nodes
creates at its first start (readable by its owner only) and every node of the cluster reads.
Without either a program refuses to start: node ports never take unsigned traffic.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import stat
from pathlib import Path

from engine.config import ENV_CLUSTER_SECRET
from engine.config_model import ClusterConfig

SECRET_FILE = "cluster.secret"


class SecretError(Exception):
    """No usable cluster secret; the message is one line saying what to do."""


def secret_path(config: ClusterConfig) -> Path:
    """Where the cluster's generated secret lives: ``<storage.dataDir>/cluster.secret``."""
    return config.storage.data_dir / SECRET_FILE


def resolve_cluster_secret(config: ClusterConfig, *, create: bool) -> ClusterConfig:
    """``config`` with its cluster secret filled in from the secret file when it names none.

    ``create``: make the file with a new random secret if it does not exist (the gateway that
    starts the nodes).  Raises SecretError when there is no secret, or the file is unusable.
    """
    if config.security.cluster_secret:
        return config
    if config.backend == "jetstream":
        # No Gate node shares it (the nats-servers have their own auth): a key of this process
        # alone, for the gateway's framing that still needs one, and no file.
        security = dataclasses.replace(config.security, cluster_secret=secrets.token_hex(32))
        return dataclasses.replace(config, security=security)
    path = secret_path(config)
    try:
        secret = _read(path)
    except FileNotFoundError:
        if not create:
            raise SecretError(
                f"no cluster secret: set security.clusterSecret in {config.source} "
                f"(or {ENV_CLUSTER_SECRET}), or start the cluster once with gate-gateway "
                f"to create {path}"
            ) from None
        secret = _create(path)
    security = dataclasses.replace(config.security, cluster_secret=secret)
    return dataclasses.replace(config, security=security)


def cluster_key(config: ClusterConfig) -> bytes:
    """The secret as the framing takes it; SecretError if it was never resolved."""
    secret = config.security.cluster_secret
    if not secret:
        raise SecretError(f"{config.source}: the cluster secret was not resolved")
    return secret.encode()


def _read(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise  # the caller's to decide: make one, or say how to
    except OSError as exc:
        raise SecretError(f"{path}: cannot read the cluster secret: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode  # of the file opened, not of whatever the path is now
        if not stat.S_ISREG(mode):
            raise SecretError(f"{path}: the cluster secret must be a regular file")
        if mode & 0o077:
            raise SecretError(
                f"{path}: other users may read or change the cluster secret "
                f"(mode {stat.S_IMODE(mode):04o}); make it private with chmod 600"
            )
        secret = file.read().decode("utf-8", errors="replace").strip()
    if not secret:
        raise SecretError(f"{path}: the cluster secret file is empty")
    return secret


def _create(path: Path) -> str:
    secret = secrets.token_hex(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created private (O_EXCL: never through an existing file or link), not chmod-ed later.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)  # another process made it in between: use theirs
    except OSError as exc:
        raise SecretError(f"{path}: cannot create the cluster secret: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as file:
        file.write(secret.encode() + b"\n")
        file.flush()
        os.fsync(fd)
    return secret
