"""Validation and building of the commands carried in log entries."""

from __future__ import annotations

import itertools
import tracemalloc
from typing import Any

import pytest

from engine.protocol.commands import (
    build_append,
    build_create_store,
    build_delete_store,
    build_snapshot_delete,
    build_snapshot_put,
    decode_command,
    encode_command,
    validate_non_negative_int,
    validate_store_id,
    validate_stream_id,
)
from engine.protocol.errors import GateError

NOW = 1_795_342_503_123_456


def _ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"gen-{next(counter)}"


def _append(body: Any, stream: str = "s-1", max_events: int = 10) -> dict[str, Any]:
    return build_append(
        "store", stream, body, now_epoch_us=NOW, new_id=_ids(), max_events=max_events
    )


def _event(**fields: Any) -> dict[str, Any]:
    return {"event_type": "t", "data": {}, **fields}


def _fails(call: Any, field: str) -> GateError:
    with pytest.raises(GateError) as info:
        call()
    assert info.value.code == "invalid_request"
    assert info.value.status == 400
    assert field in info.value.message
    assert "\n" not in info.value.message
    return info.value


def test_encode_decode_round_trip_and_noop() -> None:
    cmd = {"op": "delete_store", "store": "a"}
    assert decode_command(encode_command(cmd)) == cmd
    assert decode_command(b"") is None
    with pytest.raises(ValueError):
        decode_command(b"[1]")


def test_append_fills_ids_metadata_and_timestamps() -> None:
    cmd = _append({"events": [_event(event_id="x"), _event(metadata={"m": 1}), _event()]})
    assert cmd["op"] == "append"
    assert (cmd["store"], cmd["stream"], cmd["expected_version"]) == ("store", "s-1", "any")
    assert [e["event_id"] for e in cmd["events"]] == ["x", "gen-1", "gen-2"]
    assert [e["metadata"] for e in cmd["events"]] == [{}, {"m": 1}, {}]
    assert {e["created_epoch"] for e in cmd["events"]} == {NOW}
    assert decode_command(encode_command(cmd)) == cmd


@pytest.mark.parametrize("expected", ["any", "no_stream", "stream_exists", -1, 0, 7])
def test_append_accepts_expected_versions(expected: Any) -> None:
    assert _append({"expected_version": expected, "events": [_event()]})["expected_version"] == (
        expected
    )


@pytest.mark.parametrize("expected", [-2, True, False, "5", 1.0, None, "latest"])
def test_append_rejects_expected_versions(expected: Any) -> None:
    _fails(
        lambda: _append({"expected_version": expected, "events": [_event()]}), "expected_version"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"events": []}, "events"),
        ({"events": {}}, "events"),
        ({}, "events"),
        ({"events": [_event()] * 11}, "events"),
        ({"events": [_event()], "extra": 1}, "extra"),
        ({"events": ["x"]}, "events[0]"),
        ({"events": [_event(), _event(event_type="")]}, "events[1].event_type"),
        ({"events": [{"data": {}}]}, "events[0].event_type"),
        ({"events": [_event(data=[1])]}, "events[0].data"),
        ({"events": [{"event_type": "t"}]}, "events[0].data"),
        ({"events": [_event(metadata="m")]}, "events[0].metadata"),
        ({"events": [_event(event_id="")]}, "events[0].event_id"),
        ({"events": [_event(event_id=5)]}, "events[0].event_id"),
        ({"events": [_event(colour="red")]}, "events[0].colour"),
        ({"events": [_event(event_id="a"), _event(event_id="a")]}, "events[1].event_id"),
    ],
)
def test_append_rejects_bad_bodies(body: Any, field: str) -> None:
    _fails(lambda: _append(body), field)


def test_duplicate_event_ids_name_both_events() -> None:
    error = _fails(
        lambda: _append({"events": [_event(event_id="a"), _event(), _event(event_id="a")]}),
        "events[2].event_id",
    )
    assert "events[0]" in error.message


@pytest.mark.parametrize("stream", ["", "$all", "$x", "a\nb", "a\x00", "x" * 257, 5])
def test_stream_ids_are_validated(stream: Any) -> None:
    _fails(lambda: validate_stream_id(stream), "stream")
    _fails(lambda: _append({"events": [_event()]}, stream=stream), "stream")


def test_stream_ids_may_use_any_printable_text() -> None:
    assert validate_stream_id("greenhouse-1/zone a:é") == "greenhouse-1/zone a:é"
    assert validate_stream_id("x" * 256) == "x" * 256


@pytest.mark.parametrize("store", ["", "a b", "a/b", "../x", "x" * 65, None, 3])
def test_store_ids_are_validated(store: Any) -> None:
    _fails(lambda: validate_store_id(store), "store")


def test_create_store() -> None:
    assert build_create_store({"store_id": "reg_gh-2"}, now_epoch_us=NOW) == {
        "op": "create_store",
        "store": "reg_gh-2",
        "config": {},
        "created_epoch": NOW,
    }
    cmd = build_create_store({"store_id": "a", "config": {"k": 1}}, now_epoch_us=NOW)
    assert cmd["config"] == {"k": 1}
    _fails(lambda: build_create_store({"store_id": "a b"}, now_epoch_us=NOW), "store_id")
    _fails(lambda: build_create_store({}, now_epoch_us=NOW), "store_id")
    _fails(lambda: build_create_store({"store_id": "a", "config": 1}, now_epoch_us=NOW), "config")
    _fails(lambda: build_create_store({"store_id": "a", "x": 1}, now_epoch_us=NOW), "x")
    _fails(lambda: build_create_store("a", now_epoch_us=NOW), "body")


def test_delete_store() -> None:
    assert build_delete_store("a") == {"op": "delete_store", "store": "a"}
    _fails(lambda: build_delete_store("a/b"), "store")


def test_snapshot_put_and_delete() -> None:
    cmd = build_snapshot_put("st", "src", "str", "3", {"data": {"a": 1}}, now_epoch_us=NOW)
    assert cmd == {
        "op": "snapshot_put",
        "store": "st",
        "source_uuid": "src",
        "stream_uuid": "str",
        "version": 3,
        "data": {"a": 1},
        "metadata": {},
        "source_type": None,
        "created_epoch": NOW,
    }
    full = {"data": {}, "metadata": {"m": 1}, "source_type": "agg"}
    cmd = build_snapshot_put("st", "src", "str", 0, full, now_epoch_us=NOW)
    assert (cmd["metadata"], cmd["source_type"]) == ({"m": 1}, "agg")
    assert build_snapshot_delete("st", "src", "str", 4) == {
        "op": "snapshot_delete",
        "store": "st",
        "source_uuid": "src",
        "stream_uuid": "str",
        "version": 4,
    }


@pytest.mark.parametrize(
    ("args", "body", "field"),
    [
        (("st", "src", "str", -1), {"data": {}}, "version"),
        (("st", "src", "str", "x"), {"data": {}}, "version"),
        (("st", "src", "str", True), {"data": {}}, "version"),
        (("st", "", "str", 1), {"data": {}}, "source_uuid"),
        (("st", "src", "a\tb", 1), {"data": {}}, "stream_uuid"),
        (("s t", "src", "str", 1), {"data": {}}, "store"),
        (("st", "src", "str", 1), {}, "data"),
        (("st", "src", "str", 1), {"data": 1}, "data"),
        (("st", "src", "str", 1), {"data": {}, "metadata": []}, "metadata"),
        (("st", "src", "str", 1), {"data": {}, "source_type": 1}, "source_type"),
        (("st", "src", "str", 1), {"data": {}, "when": 1}, "when"),
    ],
)
def test_snapshot_put_rejects(args: tuple[Any, ...], body: Any, field: str) -> None:
    _fails(lambda: build_snapshot_put(*args, body, now_epoch_us=NOW), field)


def test_non_negative_ints_accept_ints_and_digit_strings() -> None:
    assert validate_non_negative_int(0, "n") == 0
    assert validate_non_negative_int("42", "n") == 42
    for bad in (-1, "-1", "", "1.5", 1.0, None, False, " 1"):
        _fails(lambda bad=bad: validate_non_negative_int(bad, "count"), "count")


def test_an_encoded_command_holds_no_more_memory_than_its_bytes() -> None:
    # A leader keeps thousands of encoded commands in its log cache, whose budget counts
    # len(data): each must hold about that much memory (orjson's own result keeps 4 KiB).
    cmd = {
        "op": "append",
        "store": "reg_gh",
        "stream": "s-1",
        "expected_version": "any",
        "events": [{"event_id": "e" * 36, "event_type": "t:v1", "data": {"pad": "x" * 200}}],
    }
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [encode_command(cmd) for _ in range(1000)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    size = len(kept[0])
    assert 250 < size < 400
    assert held < 1000 * (size + 100)  # the bytes objects, their header and the list
