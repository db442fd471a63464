"""Subject and key tokens for stream ids and snapshot keys (engine/backends/jetstream/naming.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.backends.jetstream import naming

# Stream ids: 1-256 characters without control characters (engine/protocol/commands.py).
stream_ids = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=256)


@given(stream_ids)
def test_every_stream_id_is_one_valid_token_and_comes_back(stream: str) -> None:
    tok = naming.token(stream)
    assert tok and not set(tok) & set(". *>\t\r\n")
    assert naming.untoken(tok) == stream
    subject = naming.event_subject("reg_gh", stream, 7)
    assert naming.parse_event_subject(subject) == (stream, 7)


@given(stream_ids, stream_ids, st.integers(0, 2**63 - 1))
def test_snapshot_keys_come_back(source: str, stream: str, version: int) -> None:
    key = naming.snapshot_key(source, stream, version)
    assert set(key) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.")
    assert naming.parse_snapshot_key(key) == (source, stream, version)


def test_plain_ids_are_their_own_tokens_and_no_other_id_takes_one() -> None:
    assert naming.token("greenhouse-1") == "greenhouse-1"
    assert naming.token("a.b") != naming.token("a_b")
    assert naming.token("a.b").startswith("=")


def test_only_the_stores_streams_are_stores() -> None:
    assert naming.store_of(naming.stream_name("SNAP_x")) == "SNAP_x"
    assert naming.store_of("KV_" + naming.bucket_name("reg_gh")) is None
    assert naming.store_of("BENCH") is None
