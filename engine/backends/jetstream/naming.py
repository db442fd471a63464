"""Names on the NATS side of a Gate store (docs/ENGINE.md, "JetStream backend").

A store ``S`` is the JetStream stream ``GATE_S`` over the subjects ``gate.S.e.>`` and the
key-value bucket ``GATE_SNAP_S`` (its snapshots).  Event ``n`` of event stream ``s`` is the one
message on ``gate.S.e.<token(s)>.<n>``: a subject per event makes every event number a direct
lookup (``last_by_subj``) and the stream's last event the last message on ``...<token(s)>.*``.

A subscription ``N`` is the durable consumer ``sub_<token(N)>`` of the store's stream; the
events it parked are in the bucket ``GATE_PARK_S``, key ``<token(N)>.<position>``.

A stream id is any string of up to 256 characters without control characters; one made only of
``A-Z a-z 0-9 _ -`` is its own token, any other is ``=`` and its UTF-8 in unpadded base64url
(no ``.``, ``*``, ``>`` or space, which a subject token cannot hold).  Store ids are already
tokens.
"""

from __future__ import annotations

import base64
import re

_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
STREAM_PREFIX = "GATE_"
BUCKET_PREFIX = "GATE_SNAP_"
PARKED_PREFIX = "GATE_PARK_"
CONSUMER_PREFIX = "sub_"


def token(text: str) -> str:
    """A subject token (and key-value key token) for a stream id or snapshot key part."""
    if _PLAIN.fullmatch(text):
        return text
    return "=" + base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def untoken(tok: str) -> str:
    """The string a :func:`token` stands for."""
    if not tok.startswith("="):
        return tok
    body = tok[1:]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def stream_name(store: str) -> str:
    """The JetStream stream of a store."""
    return STREAM_PREFIX + store


def bucket_name(store: str) -> str:
    """The key-value bucket of a store's snapshots."""
    return BUCKET_PREFIX + store


def parked_bucket_name(store: str) -> str:
    """The key-value bucket of the events parked by a store's subscriptions."""
    return PARKED_PREFIX + store


def consumer_name(subscription: str) -> str:
    """The durable consumer of a subscription (its name may hold ``.``, which a consumer's
    cannot)."""
    return CONSUMER_PREFIX + token(subscription)


def parked_key(subscription: str, position: int) -> str:
    """A parked event's key in the store's parked bucket."""
    return f"{token(subscription)}.{position}"


def parked_keys(subscription: str) -> str:
    """The prefix of the keys of every event a subscription parked."""
    return f"{token(subscription)}."


def store_of(stream: str) -> str | None:
    """The store a JetStream stream holds, None for a stream that is not a store's (a bucket's
    stream is ``KV_<bucket>``)."""
    if stream.startswith(STREAM_PREFIX):
        return stream[len(STREAM_PREFIX) :]
    return None


def events_subjects(store: str) -> str:
    """Every event subject of a store (its stream's subjects)."""
    return f"gate.{store}.e.>"


def event_subject(store: str, stream: str, number: int) -> str:
    """The subject of event ``number`` of ``stream``."""
    return f"gate.{store}.e.{token(stream)}.{number}"


def stream_subjects(store: str, stream: str) -> str:
    """Every event subject of one event stream."""
    return f"gate.{store}.e.{token(stream)}.*"


def first_events(store: str) -> str:
    """The subjects of every event stream's event 0: one per stream."""
    return f"gate.{store}.e.*.0"


def parse_event_subject(subject: str) -> tuple[str, int]:
    """(stream id, event number) of an event subject."""
    tokens = subject.split(".")
    return untoken(tokens[3]), int(tokens[4])


def snapshot_key(source_uuid: str, stream_uuid: str, version: int) -> str:
    """A snapshot's key in its store's bucket."""
    return f"{token(source_uuid)}.{token(stream_uuid)}.{version}"


def parse_snapshot_key(key: str) -> tuple[str, str, int]:
    """(source_uuid, stream_uuid, version) of a snapshot key."""
    source, stream, version = key.split(".")
    return untoken(source), untoken(stream), int(version)
